// Pure modules of the console: routing, capabilities, chart data, map geometry, JSON checks,
// metrics parsing, live frames and formatting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchRoute, parseHash, link } from '../../js/router.js';
import { capabilitiesFrom, pathMatches } from '../../js/capabilities.js';
import { rangeQuery, columnsFromSeries, addPoint, latestFrom, RANGES } from '../../js/chartdata.js';
import { fitProjection, colourFor, assetTree, subtreeIds, findAsset } from '../../js/geo.js';
import { parseJson } from '../../js/jsonedit.js';
import { counterSum, ratePerSecond } from '../../js/pagekit.js';
import { normaliseFrame, liveUrl, subscribeFrame } from '../../js/live.js';
import { twinFrom, applyTwinChange } from '../../js/twin.js';
import { ago, value, rate } from '../../js/format.js';
import { identityFrom, canWrite } from '../../js/session.js';

test('routes match with decoded params and query', () => {
  const routes = [['', 'overview'], ['devices', 'list'], ['devices/:id', 'device']];
  assert.deepEqual(matchRoute(routes, ''), { page: 'overview', params: {}, query: {} });
  assert.deepEqual(matchRoute(routes, '#/devices?status=online'), { page: 'list', params: {}, query: { status: 'online' } });
  assert.deepEqual(matchRoute(routes, '#/devices/st%2F1'), { page: 'device', params: { id: 'st/1' }, query: {} });
  assert.equal(matchRoute(routes, '#/nowhere'), null);
  assert.equal(matchRoute(routes, '#/devices/%E0%A4%A'), null);
  assert.deepEqual(parseHash('#/a/b/?x=1'), { path: 'a/b', query: { x: '1' } });
  assert.equal(link(['devices', 'st 1'], { status: 'online', q: '' }), '#/devices/st%201?status=online');
});

test('capabilities come from the OpenAPI paths, templated or with a colon verb', () => {
  const caps = capabilitiesFrom({ paths: { '/api/v1/devices/{id}': { get: {}, patch: {} }, '/api/v1/devices:batch': { post: {} }, '/api/v1/products/{id}': { put: {} } } });
  assert.ok(caps.known);
  assert.ok(caps.has('get', '/devices/st-1'));
  assert.ok(caps.has('PATCH', '/api/v1/devices/st-1'));
  assert.ok(!caps.has('delete', '/devices/st-1'));
  assert.ok(caps.has('post', '/devices:batch'));
  assert.ok(!caps.has('get', '/alarms'));
  assert.equal(caps.updateMethod('/devices/x'), 'PATCH');
  assert.equal(caps.updateMethod('/products/x'), 'PUT');
  assert.equal(caps.updateMethod('/assets/x'), null);
  const unknown = capabilitiesFrom(null);
  assert.ok(!unknown.known);
  assert.ok(unknown.has('get', '/anything'));
  assert.ok(pathMatches('/devices/{id}/shadow', '/devices/{x}/shadow'));
  assert.ok(!pathMatches('/devices/{id}', '/devices/a/b'));
});

test('ranges ask the server for a bounded number of buckets', () => {
  const q = rangeQuery('7d', 1_000_000_000_000);
  assert.deepEqual(q, { from: 1_000_000_000_000 - 7 * 86400000, to: 1_000_000_000_000, interval: '10m', agg: 'avg' });
  const unit = { s: 1e3, m: 6e4, h: 3.6e6 };
  for (const r of Object.values(RANGES)) {
    const [, n, u] = /^(\d+)([smh])$/.exec(r.interval);
    const buckets = r.ms / (Number(n) * unit[u]);
    assert.ok(buckets >= 150 && buckets <= 1100, `${r.label}: ${buckets} buckets`);
  }
});

test('series become uPlot columns in time order; live points insert, replace and trim', () => {
  const cols = columnsFromSeries([{ key: 'pm25', points: [{ ts: 3000, value: 3 }, { ts: 1000, value: 1 }, { ts: 2000, value: null }] }]);
  const c = cols.get('pm25');
  assert.deepEqual(c, { xs: [1, 2, 3], ys: [1, null, 3] });
  addPoint(c, 4000, 4);
  addPoint(c, 2500, 2.5);
  addPoint(c, 3000, 30);
  assert.deepEqual(c, { xs: [1, 2, 2.5, 3, 4], ys: [1, null, 2.5, 30, 4] });
  addPoint(c, 5000, 5, 2600);
  assert.deepEqual(c, { xs: [3, 4, 5], ys: [30, 4, 5] });
});

test('latest values are read from the answer shapes', () => {
  const want = new Map([['a', { ts: 5, value: 1 }]]);
  assert.deepEqual(latestFrom({ device: 'd', values: { a: { ts: 5, value: 1 } } }), want);
  assert.deepEqual(latestFrom({ ts: 5, values: { a: 1 } }), want);
  assert.deepEqual(latestFrom([{ key: 'a', ts: 5, value: 1 }]), want);
  assert.deepEqual(latestFrom({ series: [{ key: 'a', points: [{ ts: 4, value: 0 }, { ts: 5, value: 1 }] }] }), want);
  assert.deepEqual(latestFrom({ device: 'd', a: { ts: 5, value: 1 } }), want);
});

test('the projection fits every location inside the padded box, north up', () => {
  const locs = [{ lat: 31.1, lon: 121.3 }, { lat: 31.3, lon: 121.6 }, { lat: 31.2, lon: 121.45 }];
  const project = fitProjection(locs, 800, 480, 20);
  for (const l of locs) {
    const p = project(l.lat, l.lon);
    assert.ok(p.x >= 20 - 1e-9 && p.x <= 780 + 1e-9 && p.y >= 20 - 1e-9 && p.y <= 460 + 1e-9, JSON.stringify(p));
  }
  assert.ok(project(31.3, 121.45).y < project(31.1, 121.45).y);
  const single = fitProjection([{ lat: 10, lon: 10 }], 100, 100);
  assert.deepEqual(single(10, 10), { x: 50, y: 50 });
});

test('colours run along the scale; no value is grey', () => {
  assert.equal(colourFor(0, 0, 10), '#440154');
  assert.equal(colourFor(10, 0, 10), '#fde725');
  assert.equal(colourFor(20, 0, 10), '#fde725');
  assert.equal(colourFor(undefined, 0, 10), '#9aa3ad');
  assert.notEqual(colourFor(4, 0, 10), colourFor(6, 0, 10));
});

test('assets form a tree; subtrees are found', () => {
  const roots = assetTree([
    { id: 'sh', name: 'Shanghai', parent: null },
    { id: 'pd', name: 'Pudong', parent: 'sh' },
    { id: 'hp', name: 'Huangpu', parent: 'sh' },
    { id: 'site1', name: 'Site 1', parent: 'pd' },
    { id: 'orphan', name: 'Orphan', parent: 'gone' },
  ]);
  assert.deepEqual(roots.map((r) => r.id), ['orphan', 'sh']);
  assert.deepEqual(roots[1].children.map((c) => c.id), ['hp', 'pd']);
  assert.deepEqual(subtreeIds(findAsset(roots, 'pd')), ['pd', 'site1']);
  assert.equal(findAsset(roots, 'none'), null);
});

test('JSON errors carry line and column', () => {
  assert.deepEqual(parseJson('{"a": 1}'), { value: { a: 1 } });
  assert.deepEqual(parseJson('{\n  "a": 1,\n  "b": }').error, { message: 'unexpected "}"', line: 3, column: 8 });
  assert.deepEqual(parseJson('[1, 2').error, { message: 'unexpected end of input', line: 1, column: 6 });
  assert.deepEqual(parseJson('{"a": tru}').error.column, 7);
  assert.deepEqual(parseJson('{"a": 1} x').error.column, 10);
});

test('Prometheus counters are summed across labels and turned into rates', () => {
  const text = '# HELP x\nwanwu_ingest_messages_total{proto="mqtt"} 10\nwanwu_ingest_messages_total{proto="http"} 5\nother 99\n';
  assert.equal(counterSum(text, (n) => n === 'wanwu_ingest_messages_total'), 15);
  assert.equal(counterSum(text, (n) => n === 'missing'), null);
  assert.equal(ratePerSecond({ at: 0, value: 10 }, { at: 2000, value: 30 }), 10);
  assert.equal(ratePerSecond({ at: 0, value: 10 }, { at: 2000, value: 5 }), null);
});

test('live frames are normalised; control frames dropped', () => {
  assert.deepEqual(normaliseFrame({ type: 'telemetry', subscriptions: ['s'], device: 'd1', product: 'aq', ts: 5, values: { a: 1 } }), { kind: 'telemetry', device: 'd1', ts: 5, data: { a: 1 } });
  assert.deepEqual(normaliseFrame({ type: 'twin', subscriptions: ['s'], device: 'd1', ts: 6, data: { version: 2 } }), { kind: 'twin', device: 'd1', ts: 6, data: { version: 2 } });
  assert.equal(normaliseFrame({ type: 'error', error: { code: 'invalid_frame' } }).data.code, 'invalid_frame');
  for (const type of ['ready', 'subscribed', 'unsubscribed', 'pong']) assert.equal(normaliseFrame({ type }), null);
  assert.equal(normaliseFrame('text'), null);
  assert.deepEqual(subscribeFrame('s1', { devices: ['d1'], kinds: ['event'] }), { type: 'subscribe', id: 's1', devices: ['d1'], kinds: ['event'] });
  assert.deepEqual(subscribeFrame('all', { all: true }), { type: 'subscribe', id: 'all', all: true });
  assert.equal(liveUrl({ protocol: 'https:', host: 'h:1' }, 'a b'), 'wss://h:1/api/v1/ws?token=a%20b');
});

test('times, values and rates are formatted for people', () => {
  assert.equal(ago(null), 'never');
  assert.equal(ago(1000, 6000), '5 s ago');
  assert.equal(ago(0, 7_200_000), '2 h ago');
  assert.equal(value(21.123456789, '°C'), '21.12 °C');
  assert.equal(value(1234.567), '1234.6');
  assert.equal(value(0.000123456), '0.0001235');
  assert.equal(value({ lat: 1, lon: 2 }), '1, 2');
  assert.equal(rate(1500), '1.5 k/s');
  assert.equal(rate(null), '—');
});

test('identity is read from GET /whoami; viewers cannot write', () => {
  const body = { tenant: 't2', role: 'viewer', platform_admin: false, token: { id: 'k1', name: 'ops', tenant: 't2' } };
  assert.deepEqual(identityFrom(body), { tenant: 't2', role: 'viewer', tokenId: 'k1', name: 'ops', platformAdmin: false });
  assert.equal(identityFrom({ tenant: 't2', role: 'admin', platform_admin: true, token: { id: 'a', name: 'root', tenant: 'default' } }).tenant, 't2');
  assert.equal(canWrite(identityFrom(body)), false);
  assert.equal(canWrite({ role: 'operator' }), true);
  assert.equal(canWrite({ role: 'admin' }), true);
  assert.equal(canWrite(null), false);
});

test('exact paths and query parameters are read from the OpenAPI document', () => {
  const caps = capabilitiesFrom({ paths: { '/api/v1/tokens/{id}': { get: {} }, '/api/v1/devices': { get: { parameters: [{ name: 'product', in: 'query' }, { name: 'x', in: 'header' }] } } } });
  assert.ok(caps.has('get', '/tokens/self'));
  assert.ok(!caps.hasExact('get', '/tokens/self'));
  assert.ok(caps.hasExact('get', '/tokens/{id}'));
  assert.ok(caps.takesQuery('get', '/devices', 'product'));
  assert.ok(!caps.takesQuery('get', '/devices', 'status'));
  assert.ok(!caps.takesQuery('get', '/devices', 'x'));
  assert.ok(capabilitiesFrom(null).takesQuery('get', '/devices', 'status'));
});

test('twin change frames update the twin held; older ones are ignored', () => {
  const twin = twinFrom({ reported: { pm25: 10, fan: 1 }, desired: { fan: 3 }, delta: { fan: 3 }, version: 4, metadata: {} });
  const next = applyTwinChange(twin, { version: 5, reported: { fan: 3, pm25: null }, desired: {}, delta: {} });
  assert.deepEqual(next, { reported: { fan: 3 }, desired: { fan: 3 }, delta: {}, version: 5 });
  assert.equal(applyTwinChange(next, { version: 5, reported: { fan: 9 } }), next);
  assert.equal(applyTwinChange(next, null), next);
  assert.equal(twinFrom(null).version, null);
});
