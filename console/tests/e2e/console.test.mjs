// End to end: the console in headless Chromium against a real `wanwu serve`, with a simulated
// device over real MQTT. Flows whose endpoints this server does not offer (read from its
// OpenAPI document) are reported as todo, naming the missing endpoint.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWanwu, restClient } from '../lib/server.mjs';
import { openBrowser } from '../lib/browser.mjs';
import { startDevice, startHttpDevice, publishAsDevice } from '../lib/device.mjs';

const server = await startWanwu();
const rest = restClient(server);
const paths = await rest.paths();
const browser = await openBrowser();
const { page } = browser;
const devices = [];

after(async () => {
  for (const d of devices) d.stop();
  await browser.close();
  server.stop();
});

const MQTT = 'MQTT listener of wanwu serve';
const hasMqtt = Boolean(server.mqtt.port);

/**
 * Registers `fn` as a test when every need is served ('METHOD /path' in the OpenAPI document,
 * or MQTT), else as todo naming what is missing.
 */
function flow(name, needs, fn) {
  const missing = needs.filter((need) => (need === MQTT ? !hasMqtt : !paths.has(need.split(' ')[1])));
  if (missing.length) test.todo(`${name} (pending: ${missing.join(', ')} not served yet)`);
  else
    test(name, async () => {
      browser.reset(); // each flow answers for its own console errors
      await fn();
    });
}

const PRODUCT = {
  id: 'aq',
  name: 'Air station',
  properties: [
    { id: 'pm25', name: 'PM2.5', type: 'float', unit: 'ug/m3', min: 0, max: 1000, access: 'read' },
    { id: 'temperature', name: 'Temperature', type: 'float', unit: '°C', min: -50, max: 80, access: 'read' },
    { id: 'fan', name: 'Fan speed', type: 'int', min: 0, max: 5, access: 'read_write' },
  ],
  events: [{ id: 'fail', name: 'Failure', severity: 'critical', params: [{ id: 'code', type: 'int' }] }],
  commands: [{ id: 'blink', name: 'Blink', params: [{ id: 'times', type: 'int', min: 1, max: 10 }] }],
};

/** Shows the page at `hash`, rendered afresh (the same address again reloads it). */
async function go(hash) {
  const url = `${server.url}/${hash}`;
  if (page.url() === url) await page.reload();
  else await page.goto(url);
  await page.waitForLoadState('networkidle');
}

async function signInAs(token) {
  await page.goto(`${server.url}/`);
  await page.locator('#token').fill(token);
  await page.keyboard.press('Enter');
}

function assertNoProblems() {
  assert.deepEqual(browser.problems, [], 'the browser console shows no errors');
}

flow('the console is served at / and a wrong token is refused clearly', ['GET /products'], async () => {
  await page.goto(`${server.url}/`);
  await page.locator('#token').waitFor();
  browser.allow('/api/v1/whoami'); // the refused token's 401 is logged by Chromium as a failed load
  await signInAs('not-a-token');
  await page.locator('.error-box').waitFor();
  assert.match(await page.locator('.error-box').innerText(), /not accepted/);
  await browser.screenshot('signin');
  assertNoProblems();
});

flow('signing in shows the tenant and the role, and the overview', ['GET /devices', 'GET /whoami'], async () => {
  await signInAs(server.token);
  await page.locator('#nav').waitFor({ state: 'visible' });
  assert.equal((await page.locator('.badge.tenant').innerText()).replace(/\s+/g, ' '), 'tenant default');
  assert.equal(await page.locator('.badge[data-role]').innerText(), 'admin');
  const me = await rest.ok('GET', '/whoami');
  assert.equal(await page.locator('[data-token-name]').getAttribute('data-token-name'), me.token.name);
  await page.locator('[data-stat="devices-total"]').waitFor();
  assert.equal(await page.locator('[data-stat="devices-total"]').innerText(), '0');
  await browser.screenshot('overview');
  assertNoProblems();
});

flow('the product editor shows the API validation errors, then creates the product', ['POST /products', 'GET /products/{id}'], async () => {
  await go('#/products');
  await page.getByRole('link', { name: 'Create the first product' }).click();
  await page.locator('[data-path="id"]').fill(PRODUCT.id);
  await page.locator('[data-path="name"]').fill(PRODUCT.name);
  // An invalid model first: min above max.
  await page.locator('[data-path="properties[0].id"]').fill('pm25');
  await page.locator('[data-path="properties[0].min"]').fill('10');
  await page.locator('[data-path="properties[0].max"]').fill('5');
  browser.allow('/api/v1/products');
  await page.getByRole('button', { name: 'Create product' }).click();
  await page.locator('#product-message .error-box').waitFor();
  const errorText = await page.locator('#product-message .error-box').innerText();
  assert.match(errorText, /properties\[0\]/, errorText);
  assert.equal(await page.locator('[data-path="properties[0].min"], [data-path="properties[0].max"]').evaluateAll((els) => els.some((e) => e.getAttribute('aria-invalid') === 'true')), true);
  await browser.screenshot('product-validation');
  // Now the real model, entered through the JSON panel and applied to the form.
  await page.getByLabel('Thing model as JSON').fill(JSON.stringify(PRODUCT, null, 2));
  await page.getByRole('button', { name: 'Apply JSON to form' }).click();
  await page.getByRole('button', { name: 'Create product' }).click();
  await page.waitForURL(/#\/products\/aq$/);
  await page.locator('[data-path="commands[0].id"]').waitFor();
  assert.equal(await page.locator('[data-path="commands[0].id"]').inputValue(), 'blink');
  const stored = await rest.ok('GET', '/products/aq');
  assert.deepEqual(stored.properties.map((p) => p.id), ['pm25', 'temperature', 'fan']);
  await browser.screenshot('product-editor');
  assertNoProblems();
});

let deviceToken;

flow('a device is created from the devices page and its token shown once', ['POST /devices', 'GET /devices'], async () => {
  await go('#/devices');
  await page.locator('details.add-devices > summary').click();
  const form = page.getByRole('form', { name: 'Create a device' });
  await form.getByLabel('Id').fill('st-1');
  await form.getByLabel('Name').fill('Station 1');
  await form.locator('select[name="product"] option[value="aq"]').waitFor({ state: 'attached' });
  await form.locator('select[name="product"]').selectOption('aq');
  await form.getByLabel('Id').press('Enter');
  await page.locator('[data-device-token="shown"] pre').waitFor();
  deviceToken = (await page.locator('[data-device-token="shown"] pre').innerText()).trim();
  assert.ok(deviceToken.length >= 16);
  await go('#/devices?product=aq');
  await page.getByRole('link', { name: /Station 1/ }).waitFor();
  await browser.screenshot('devices');
  assertNoProblems();
});

flow('devices are created in bulk from CSV', ['POST /devices:batch'], async () => {
  await go('#/devices?add=1');
  const form = page.getByRole('form', { name: 'Create devices from CSV' });
  await form.getByRole('textbox', { name: 'CSV' }).fill('id,product,name,lat,lon,tags\nst-2,aq,Station 2,31.20,121.45,district=east\nst-3,aq,Station 3,31.25,121.50,district=west\n');
  await form.getByRole('button', { name: 'Create devices' }).click();
  await form.locator('.notice.ok').waitFor();
  assert.match(await form.locator('.notice.ok').innerText(), /2 devices created/);
  const st3 = await rest.ok('GET', '/devices/st-3');
  assert.deepEqual(st3.location, { lat: 31.25, lon: 121.5 });
  assert.deepEqual(st3.tags, { district: 'west' });
  assertNoProblems();
});

const RANGES = { pm25: [20, 60], temperature: [18, 24] };

flow(`live telemetry from a device over ${hasMqtt ? 'MQTT' : 'HTTP'} arrives on the chart`, ['GET /devices/{id}/telemetry', 'GET /devices/{id}/telemetry/latest', hasMqtt ? MQTT : 'POST /devices/{id}/telemetry'], async () => {
  devices.push(
    hasMqtt
      ? await startDevice({ host: server.mqtt.host, port: server.mqtt.port, id: 'st-1', token: deviceToken, ranges: RANGES, intervalS: 0.5 })
      : startHttpDevice({ url: server.url, id: 'st-1', token: deviceToken, ranges: RANGES, intervalMs: 500 }),
  );
  // With the WebSocket served, live points come over it (and nothing polls); else by polling.
  const frames = [];
  const onSocket = (ws) => {
    if (ws.url().includes('/api/v1/ws')) ws.on('framereceived', (f) => frames.push(String(f.payload)));
  };
  page.on('websocket', onSocket);
  await go('#/devices/st-1');
  await page.locator('.chart[data-key="pm25"] canvas').waitFor();
  // Values appear in the latest panel and points keep arriving on the chart while we watch.
  await page.locator('.latest-item[data-key="pm25"]').waitFor({ timeout: 15000 });
  const points = async () => Number(((await page.locator('[data-points-for="pm25"]').innerText()).match(/(\d+) points/) || [0, 0])[1]);
  const first = await points();
  await page.waitForFunction((n) => Number((document.querySelector('[data-points-for="pm25"]')?.textContent.match(/(\d+) points/) || [0, 0])[1]) > n, first + 2, { timeout: 15000 });
  page.off('websocket', onSocket);
  if (paths.has('/ws')) assert.ok(frames.some((f) => JSON.parse(f).type === 'telemetry'), `telemetry frames over the WebSocket: ${frames.slice(0, 3)}`);
  await page.getByRole('button', { name: '15 min' }).click();
  await page.locator('.chart[data-key="pm25"] canvas').waitFor();
  await browser.screenshot('device');
  assertNoProblems();
});

flow('the desired twin is edited from the device page', ['GET /devices/{id}/shadow', 'PATCH /devices/{id}/shadow/desired'], async () => {
  await go('#/devices/st-1');
  const form = page.getByRole('form', { name: 'Edit desired state' });
  await form.getByLabel(/Fan speed/).fill('3');
  await form.getByLabel(/Fan speed/).press('Enter');
  await page.locator('table[aria-label="Desired"] tr[data-key="fan"]').waitFor();
  assert.match(await page.locator('table[aria-label="Desired"] tr[data-key="fan"]').innerText(), /3/);
  // The device reports no fan, so the desired value is also the delta.
  await page.locator('table[aria-label="Delta"] tr[data-key="fan"]').waitFor();
  const twin = await rest.ok('GET', '/devices/st-1/shadow');
  assert.equal(twin.desired.fan, 3);
  // Meanwhile the device kept reporting (the twin's version moved): the form still works.
  await form.getByLabel(/Fan speed/).fill('4');
  await form.getByRole('button', { name: 'Set desired' }).click();
  await page.waitForFunction(() => /4/.test(document.querySelector('table[aria-label="Desired"] tr[data-key="fan"]')?.textContent || ''));
  assert.equal((await rest.ok('GET', '/devices/st-1/shadow')).desired.fan, 4);
  // A value outside the property's range is refused in the form and nothing is sent.
  await form.getByLabel(/Fan speed/).fill('9');
  await form.getByRole('button', { name: 'Set desired' }).click();
  await form.locator('.field.invalid').waitFor();
  assert.equal((await rest.ok('GET', '/devices/st-1/shadow')).desired.fan, 4);
  await browser.screenshot('device-twin');
  assertNoProblems();
});

flow('a command is sent to the device and its result shown', ['POST /devices/{id}/commands/{name}', MQTT], async () => {
  await go('#/devices/st-1');
  const form = page.getByRole('form', { name: 'Send a command' });
  await form.getByLabel(/times/).fill('4');
  await form.getByLabel('Mode').selectOption('wait');
  await form.getByRole('button', { name: 'Send command' }).click();
  await page.locator('[data-command-status]').waitFor({ timeout: 15000 });
  assert.equal(await page.locator('[data-command-status]').getAttribute('data-command-status'), 'succeeded');
  assert.match(await page.locator('[data-command-status] pre').innerText(), /"times": 4/);
  await browser.screenshot('device-command');
  assertNoProblems();
});

flow('an event of the device shows on the device page and among the recent events of the overview', ['GET /devices/{id}/events', MQTT], async () => {
  await go('#/devices/st-1');
  await page.locator('#main').getByText('No events in the last 7 days.').waitFor();
  publishAsDevice(server.mqtt, 'st-1', deviceToken, 'devices/st-1/events/fail', { params: { code: 7 } });
  // Live (WebSocket) or on the next visit: the event appears in the device's list.
  const row = page.locator('tr.event-fail');
  for (let i = 0; i < 10 && !(await row.count()); i++) {
    await page.waitForTimeout(500);
    if (!paths.has('/ws')) await page.reload({ waitUntil: 'networkidle' });
  }
  assert.match(await row.first().innerText(), /critical[\s\S]*"code":7/i);
  await browser.screenshot('device-events');
  await go('#/');
  await page.locator('tr.event-fail').first().waitFor();
  assert.match(await page.locator('tr.event-fail').first().innerText(), /st-1/);
  await browser.screenshot('overview-events');
  assertNoProblems();
});

flow('an alarm is counted on the overview, acknowledged and cleared from the alarms page', ['POST /alarms', 'GET /alarms', 'POST /alarms/{id}/ack', 'POST /alarms/{id}/clear'], async () => {
  await go('#/');
  await page.locator('[data-stat="alarms-minor"]').waitFor();
  const raised = await rest.ok('POST', '/alarms', { device: 'st-1', type: 'door_open', severity: 'minor', details: { door: 'north' } });
  // The open overview counts it live (WebSocket), or once reloaded.
  if (!paths.has('/ws')) await go('#/');
  await page.waitForFunction(() => document.querySelector('[data-stat="alarms-minor"]')?.textContent === '1');
  await go('#/alarms?status=active');
  await page.getByRole('button', { name: 'Acknowledge alarm door_open on st-1' }).click();
  await page.getByRole('button', { name: 'Acknowledge alarm door_open on st-1' }).waitFor({ state: 'detached' });
  assert.equal((await rest.ok('GET', `/alarms/${raised.id}`)).status, 'acknowledged');
  await go('#/alarms?status=any');
  await page.locator('[data-alarm-status="acknowledged"]').first().waitFor();
  await page.getByRole('button', { name: 'Clear alarm door_open on st-1' }).click();
  await page.getByRole('button', { name: 'Clear alarm door_open on st-1' }).waitFor({ state: 'detached' });
  assert.equal((await rest.ok('GET', `/alarms/${raised.id}`)).status, 'cleared');
  await browser.screenshot('alarms-cleared');
  assertNoProblems();
});

flow('an alarm raised by a rule is acknowledged from the alarms page', ['POST /rules', 'GET /alarms', 'POST /alarms/{id}/ack'], async () => {
  await rest.ok('POST', '/rules', {
    id: 'pm25-high',
    name: 'PM2.5 high',
    trigger: { type: 'message', kinds: ['telemetry'], devices: { product: 'aq' } },
    condition: 'msg.values.pm25 > 10.0',
    actions: [{ type: 'raise_alarm', alarm: 'pm25_high', severity: 'major' }],
  });
  // The running device keeps sending pm25 between 20 and 60, so the rule raises the alarm; the
  // open page shows it live (WebSocket) or on a reload.
  await go('#/alarms?status=active');
  for (let i = 0; i < 20 && !(await page.locator('button[data-action="ack"]').count()); i++) {
    await page.waitForTimeout(500);
    if (!paths.has('/ws')) await go('#/alarms?status=active');
  }
  await page.locator('button[data-action="ack"]').first().click();
  await page.locator('[data-alarm-status="acknowledged"]').waitFor({ timeout: 5000 }).catch(() => {});
  const answer = await rest.ok('GET', '/alarms?device=st-1');
  const items = Array.isArray(answer) ? answer : answer.items;
  assert.ok(items.some((a) => a.status === 'acknowledged'), JSON.stringify(items));
  await go('#/alarms?status=any');
  await browser.screenshot('alarms');
  assertNoProblems();
});

flow('rules: the JSON editor checks syntax and the dry run answers', ['POST /rules:test'], async () => {
  await go('#/rules?create=1');
  const editor = page.getByLabel('Rule as JSON');
  await editor.fill('{"id": "x",, }');
  assert.match(await page.locator('.json-status').innerText(), /line 1, column 12/);
  await editor.fill(JSON.stringify({ id: 'dry', name: 'Dry', trigger: { type: 'message', kinds: ['telemetry'], devices: { product: 'aq' } }, condition: 'msg.values.pm25 > 10.0', actions: [{ type: 'raise_alarm', alarm: 'x', severity: 'minor' }] }));
  await page.getByRole('button', { name: 'Dry run' }).click();
  await page.locator('[data-dry-run]').waitFor();
  assert.equal(await page.locator('[data-dry-run]').getAttribute('data-dry-run'), 'fires');
  await browser.screenshot('rules-editor');
  // A condition that does not compile: the dry run names the position the server found.
  browser.allow('/api/v1/rules:test');
  await editor.fill(JSON.stringify({ id: 'bad', trigger: { type: 'message', kinds: ['telemetry'] }, condition: 'msg.values.pm25 >', actions: [] }));
  await page.getByRole('button', { name: 'Dry run' }).click();
  await page.locator('[data-dry-run], .error-box').first().waitFor();
  assert.match(await page.locator('.error-box').innerText(), /condition/);
  await browser.screenshot('rules-editor-error');
  assertNoProblems();
});

flow('rules are listed with their metrics, disabled and enabled; an invalid rule is refused with its position', ['GET /rules', 'POST /rules', 'POST /rules/{id}/disable', 'POST /rules/{id}/enable'], async () => {
  // The rule of the alarm flow has been evaluating the device's telemetry since.
  await go('#/rules');
  const row = page.locator('tbody tr', { has: page.getByRole('link', { name: /PM2.5 high/ }) });
  await row.waitFor();
  const [, , , evaluations, , fired] = await row.locator('td').allInnerTexts();
  assert.ok(Number(evaluations) > 0, `evaluations ${evaluations}`);
  assert.ok(Number(fired) >= 1, `fired ${fired}`);
  await browser.screenshot('rules');
  // Disabled and enabled again from the list.
  await page.getByRole('button', { name: 'Disable rule PM2.5 high' }).click();
  await page.getByRole('button', { name: 'Enable rule PM2.5 high' }).waitFor();
  assert.equal((await rest.ok('GET', '/rules/pm25-high')).enabled, false);
  await page.getByRole('button', { name: 'Enable rule PM2.5 high' }).click();
  await page.getByRole('button', { name: 'Disable rule PM2.5 high' }).waitFor();
  assert.equal((await rest.ok('GET', '/rules/pm25-high')).enabled, true);
  await page.getByRole('link', { name: 'New rule' }).click();
  await page.getByLabel('Rule as JSON').fill(JSON.stringify({ id: 'broken', name: 'Broken', trigger: { type: 'message', kinds: ['telemetry'] }, condition: 'msg.values.pm25 >', actions: [] }));
  browser.allow('/api/v1/rules');
  await page.getByRole('button', { name: 'Create rule' }).click();
  await page.locator('.error-box').waitFor();
  assert.match(await page.locator('.error-box').innerText(), /condition/);
  assert.equal((await rest.call('GET', '/rules/broken')).status, 404);
  assertNoProblems();
});

flow('a scene is run from the rules page', ['GET /scenes', 'POST /scenes', 'POST /scenes/{id}/run'], async () => {
  await rest.ok('POST', '/scenes', { id: 'calm', name: 'Calm fans', actions: [{ type: 'set_desired', devices: ['st-1'], values: { fan: 1 } }] });
  await go('#/rules');
  await page.getByRole('button', { name: 'Run scene Calm fans' }).click();
  await page.locator('.notice.ok', { hasText: 'Scene Calm fans ran' }).waitFor();
  assert.equal((await rest.ok('GET', '/devices/st-1/shadow')).desired.fan, 1);
  await browser.screenshot('rules-scene-run');
  assertNoProblems();
});

flow('assets: the tree and a tile-free map coloured by a property', ['POST /assets', 'GET /assets', 'PATCH /devices/{id}'], async () => {
  await rest.ok('POST', '/assets', { id: 'sh', name: 'Shanghai', kind: 'city', location: { lat: 31.23, lon: 121.47 } });
  await rest.ok('POST', '/assets', { id: 'pd', name: 'Pudong', kind: 'district', parent: 'sh', location: { lat: 31.22, lon: 121.54 } });
  await rest.ok('PATCH', '/devices/st-1', { asset: 'pd', location: { lat: 31.21, lon: 121.55 } });
  await go('#/assets');
  await page.locator('.tree-label[data-asset="pd"]').waitFor();
  await page.locator('svg.map circle.device-dot[data-device="st-1"]').waitFor();
  const colourBy = page.locator('select[data-role="colour-by"]');
  if (await colourBy.locator('option[value="pm25"]').count()) {
    await colourBy.selectOption('pm25');
    // With telemetry served, the running device has a pm25 value and the legend is a scale.
    if (paths.has('/devices/{id}/telemetry/latest')) await page.locator('.legend .gradient').waitFor();
    else await page.getByText('No device shown has a pm25 value yet.').waitFor();
  }
  await page.locator('.tree-label[data-asset="pd"]').click();
  await page.locator('svg.map circle.device-dot[data-device="st-1"]').waitFor();
  await browser.screenshot('assets');
  assertNoProblems();
});

flow('the pages fit a tablet without sideways scrolling', ['GET /devices', 'GET /products', 'GET /assets'], async () => {
  await page.setViewportSize({ width: 820, height: 1180 });
  try {
    for (const [name, hash] of [['overview', '#/'], ['devices', '#/devices'], ['device', '#/devices/st-1'], ['products', '#/products/aq'], ['assets', '#/assets'], ['rules', '#/rules'], ['alarms', '#/alarms']]) {
      await go(hash);
      await page.locator('.page > *').first().waitFor();
      await page.waitForTimeout(300);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name} is ${overflow}px wider than the tablet viewport`);
      await browser.screenshot(`tablet-${name}`);
    }
  } finally {
    await page.setViewportSize({ width: 1366, height: 900 });
  }
  assertNoProblems();
});

flow('missing things and empty lists have clear states', ['GET /devices/{id}', 'GET /products/{id}', 'GET /alarms'], async () => {
  browser.allow('/api/v1/devices/no-such-device'); // the 404s this flow asks for
  browser.allow('/api/v1/products/no-such-product');
  await go('#/devices/no-such-device');
  await page.locator('.error-box').waitFor();
  assert.match(await page.locator('.error-box').innerText(), /No such device/);
  assert.equal(await page.getByRole('link', { name: 'Back to devices' }).count(), 1);
  await browser.screenshot('error-device');
  await go('#/products/no-such-product');
  await page.locator('.error-box').waitFor();
  assert.match(await page.locator('.error-box').innerText(), /No such product/);
  await go('#/no/such/page');
  await page.getByRole('heading', { name: 'Not found' }).waitFor();
  await go('#/alarms?status=active&severity=info');
  await page.getByText('No alarms match.').waitFor();
  await go('#/devices?q=nothing-matches-this');
  await page.locator('.empty').first().waitFor();
  await browser.screenshot('empty-devices');
  assertNoProblems();
});

flow('the console is usable from the keyboard', ['GET /devices'], async () => {
  await go('#/');
  await page.reload(); // a fresh document: focus starts at its top
  await page.locator('[data-stat="devices-total"]').waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
  // Tab through the header to the Devices link, then follow it with Enter.
  for (let i = 0; i < 10 && (await page.evaluate(() => document.activeElement.textContent)) !== 'Devices'; i++) await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/devices$/);
  await page.getByRole('searchbox', { name: 'Search devices' }).waitFor();
  // The search form submits on Enter and keeps its filter in the address.
  await page.getByRole('searchbox', { name: 'Search devices' }).fill('station 1');
  await page.keyboard.press('Enter');
  await page.waitForURL(/q=station/);
  await page.getByRole('link', { name: /Station 1/ }).waitFor();
  assert.equal(await page.getByRole('link', { name: /Station 2/ }).count(), 0);
  // Focus is visible: the focused control has an outline.
  await page.getByRole('button', { name: 'Filter' }).focus();
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none');
  assertNoProblems();
});

flow('an admin creates and revokes an API token', ['GET /tokens', 'POST /tokens', 'DELETE /tokens/{id}'], async () => {
  await go('#/tokens');
  const form = page.getByRole('form', { name: 'Create an API token' });
  await form.getByLabel('Name').fill('night-shift');
  await form.getByLabel('Role').selectOption('operator');
  await form.getByLabel('Name').press('Enter');
  await page.locator('[data-api-token="shown"] pre').waitFor();
  const secret = (await page.locator('[data-api-token="shown"] pre').innerText()).trim();
  // The new secret works against the API, with the role chosen.
  const asOperator = restClient(server, secret);
  assert.equal((await asOperator.call('GET', '/products')).status, 200);
  assert.equal((await asOperator.call('POST', '/tokens', { name: 'x', role: 'viewer' })).status, 403);
  await page.locator('tr.token-night-shift').waitFor();
  await browser.screenshot('tokens');
  await page.getByRole('button', { name: 'Revoke token night-shift' }).click();
  await page.getByRole('button', { name: 'Confirm revoking token night-shift' }).click();
  await page.locator('tr.token-night-shift').waitFor({ state: 'detached' });
  assert.equal((await asOperator.call('GET', '/products')).status, 401);
  assertNoProblems();
});

/** Labels of visible controls in the page's main area that would change something. */
async function writeControls(p) {
  return p.evaluate(() => {
    const verbs = /^(create|new|add|save|delete|remove|rotate|send|set|acknowledge|clear|run|revoke|apply|import|enable|disable|yes)\b/i;
    const controls = [...document.querySelectorAll('#main button, #main a.button, #main input[type="submit"], #main summary')];
    const visible = controls.filter((el) => el.getClientRects().length > 0);
    const labels = visible.map((el) => (el.getAttribute('aria-label') || el.textContent || '').trim());
    const editable = [...document.querySelectorAll('#main textarea')].filter((el) => !el.readOnly && el.getClientRects().length > 0 && !/sample message/i.test(el.getAttribute('aria-label') || ''));
    return [...labels.filter((l) => verbs.test(l)), ...editable.map((el) => `editable ${el.getAttribute('aria-label')}`)];
  });
}

flow('a viewer sees no write controls', ['POST /tokens', 'GET /whoami'], async () => {
  const viewer = await rest.ok('POST', '/tokens', { name: 'watcher', role: 'viewer' });
  const v = await openBrowser({ width: 820, height: 1100 });
  try {
    await v.page.goto(`${server.url}/`);
    await v.page.locator('#token').fill(viewer.token);
    await v.page.keyboard.press('Enter');
    await v.page.locator('.badge.role-viewer').waitFor();
    assert.equal(await v.page.locator('#nav a[href="#/tokens"]').isVisible(), false);
    // As an admin sees them, the same pages offer write controls (the check can fail).
    await go('#/devices/st-1');
    await page.getByRole('form', { name: 'Send a command' }).waitFor();
    assert.ok((await writeControls(page)).length > 0, 'an admin sees write controls');
    for (const hash of ['#/', '#/devices', '#/devices?add=1', '#/devices/st-1', '#/products', '#/products/aq', '#/assets', '#/rules', '#/rules?create=1', '#/alarms?status=any']) {
      await v.page.goto(`${server.url}/${hash}`);
      await v.page.waitForLoadState('networkidle');
      await v.page.locator('.page > *').first().waitFor();
      assert.deepEqual(await writeControls(v.page), [], `write controls a viewer sees on ${hash}`);
      if (hash === '#/devices/st-1') await v.screenshot('viewer-device-tablet');
    }
    assert.deepEqual(v.problems, []);
  } finally {
    await v.close();
  }
});

const absent = ['/alarms', '/rules'].filter((p) => !paths.has(p));
if (absent.length) {
  test(`a feature this server does not offer (${absent[0]}) shows a calm "not available" state`, async () => {
  await go(absent[0] === '/alarms' ? '#/alarms' : '#/rules');
  await page.locator('[data-state="unavailable"]').first().waitFor();
  assert.match(await page.locator('[data-state="unavailable"]').first().innerText(), /not available on this server/);
  await browser.screenshot('not-available');
  assertNoProblems();
  });
}

flow('the device token is rotated from the credentials card', ['POST /devices/{id}/token'], async () => {
  await go('#/devices/st-1');
  await page.getByRole('button', { name: 'Rotate token' }).click();
  await page.locator('button[data-action="confirm-rotate"]').press('Enter');
  await page.locator('[data-device-token="shown"] pre').waitFor();
  const fresh = (await page.locator('[data-device-token="shown"] pre').innerText()).trim();
  assert.notEqual(fresh, deviceToken);
  assertNoProblems();
});

flow('the device page follows the device going offline', ['GET /ws', MQTT], async () => {
  await go('#/devices/st-1');
  await page.locator('[data-device-status="online"]').waitFor();
  for (const d of devices.splice(0)) d.stop(); // the device's connection drops
  await page.locator('[data-device-status="offline"]').waitFor({ timeout: 15000 });
  await browser.screenshot('device-offline');
  assertNoProblems();
});
