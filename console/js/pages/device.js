// One device: latest values, live charts, twin (with the desired editor), commands, events,
// alarms and credentials.

import { listPage, seg } from '../api.js';
import { h, replace, card, empty, table, errorBox, busy, loading, field, unavailable } from '../dom.js';
import { RANGES, rangeQuery, columnsFromSeries, addPoint, latestFrom } from '../chartdata.js';
import { ago, dateTime, value as fmtValue } from '../format.js';
import { typedInputs } from '../forms.js';
import { openLive, subscribeFrame } from '../live.js';
import { loadInto, throttled } from '../pagekit.js';
import { showAlarms } from '../alarmlist.js';
import { numericProperties } from '../thingmodel.js';
import { renderTwin } from './device-twin.js';
import { eventTable } from '../eventlist.js';
import { link } from '../router.js';
import { tokenNotice } from './devices.js';

/** Page title. */
export const title = 'Device';

const COLOURS = ['#2563eb', '#d9480f', '#2b8a3e', '#9c36b5', '#c2255c', '#0b7285', '#5f3dc4', '#e67700'];

/** Renders the device page. */
export async function render(root, ctx) {
  const id = ctx.params.id;
  const base = `/devices/${seg(id)}`;
  replace(root, loading('Loading device'));
  let device;
  try {
    device = await ctx.api.get(base, { signal: ctx.signal });
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    replace(root, h('h1', {}, id), errorBox(e, e.status === 404 ? 'No such device' : 'The device could not be loaded'), h('p', {}, h('a', { href: '#/devices' }, 'Back to devices')));
    return;
  }
  ctx.setTitle(device.name || device.id);
  let product = null;
  try {
    product = await ctx.api.get(`/products/${seg(device.product)}`, { signal: ctx.signal });
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
  }

  const hosts = {
    latest: h('div', {}),
    charts: h('div', { class: 'charts' }),
    twin: h('div', {}),
    commands: h('div', {}),
    events: h('div', {}),
    alarms: h('div', {}),
    credentials: h('div', {}),
  };
  const rangeButtons = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Chart range' });
  replace(
    root,
    header(device, product),
    card('Latest values', hosts.latest),
    card('Charts', hosts.charts, rangeButtons),
    h('div', { class: 'grid two' }, card('Twin', hosts.twin), card('Commands', hosts.commands)),
    h('div', { class: 'grid two' }, card('Events', hosts.events), card('Alarms', hosts.alarms)),
    ctx.canWrite ? card('Credentials', hosts.credentials) : null,
  );

  const live = createLiveState(ctx, base, product, hosts, rangeButtons);
  const [, twin, events, commands, alarms] = await Promise.all([
    live.load(),
    renderTwin(ctx, base, product, hosts.twin),
    renderEvents(ctx, base, hosts.events),
    renderCommands(ctx, base, device, product, hosts.commands),
    renderDeviceAlarms(ctx, device, hosts.alarms),
    ctx.canWrite ? renderCredentials(ctx, base, hosts.credentials) : null,
  ]);
  if (ctx.caps.known && !ctx.caps.has('get', `${base}/telemetry/latest`)) return;
  if (!ctx.caps.has('get', '/ws')) {
    live.poll();
    return;
  }
  // One live connection for the page; each kind of frame updates its card.
  const conn = openLive({
    token: ctx.token,
    subscriptions: [subscribeFrame('device', { devices: [device.id] })],
    onFrame: (frame) => {
      if (frame.device !== device.id) return;
      if (frame.kind === 'telemetry') live.onSample(frame.ts, frame.data);
      else if (frame.kind === 'twin') twin.applyChange(frame.data);
      else if (frame.kind === 'event') events.reload();
      else if (frame.kind === 'command') commands.reload();
      else if (frame.kind === 'alarm') alarms.reload();
      else if (frame.kind === 'presence') showPresence(root, frame.data);
    },
  });
  ctx.onDispose(() => conn.close());
}

/** Updates the status badge from a presence frame's data ({status: online|offline}). */
function showPresence(root, data) {
  const badge = root.querySelector('[data-device-status]');
  const status = data?.status;
  if (!badge || (status !== 'online' && status !== 'offline')) return;
  badge.className = `status status-${status}`;
  badge.dataset.deviceStatus = status;
  badge.textContent = status;
}

function header(device, product) {
  const status = device.status || 'offline';
  return h(
    'div',
    { class: 'page-head' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/devices' }, 'Devices'), ' / '),
    h('h1', {}, device.name || device.id, ' ', h('span', { class: `status status-${status}`, 'data-device-status': status }, status)),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Id'),
      h('dd', { class: 'mono' }, device.id),
      h('dt', {}, 'Product'),
      h('dd', {}, h('a', { href: link(['products', device.product]) }, product?.name || device.product)),
      h('dt', {}, 'Last seen'),
      h('dd', { title: dateTime(device.last_seen) }, ago(device.last_seen)),
      device.asset ? [h('dt', {}, 'Asset'), h('dd', {}, device.asset)] : null,
      device.location ? [h('dt', {}, 'Location'), h('dd', {}, `${device.location.lat.toFixed(5)}, ${device.location.lon.toFixed(5)}`)] : null,
      Object.keys(device.tags || {}).length ? [h('dt', {}, 'Tags'), h('dd', {}, Object.entries(device.tags).map(([k, v]) => h('span', { class: 'tag' }, `${k}=${v}`)))] : null,
    ),
  );
}

/** Latest values and charts, kept current by the WebSocket (or by polling when it is absent). */
function createLiveState(ctx, base, product, hosts, rangeButtons) {
  const props = new Map((product?.properties || []).map((p) => [p.id, p]));
  const numeric = numericProperties(product);
  const latest = new Map();
  // The range may come with the address (`#/devices/d1?range=7d`).
  let rangeKey = RANGES[ctx.query.range] ? ctx.query.range : '1h';
  let from = 0;
  const charts = new Map(); // key -> {chart, column}
  let chartModule = null;

  const drawLatest = () => {
    if (!latest.size) {
      replace(hosts.latest, empty('No data yet. Values appear here as soon as the device sends telemetry.'));
      return;
    }
    const keys = [...new Set([...props.keys(), ...latest.keys()])].filter((k) => latest.has(k));
    replace(
      hosts.latest,
      h(
        'dl',
        { class: 'latest' },
        keys.map((k) => {
          const l = latest.get(k);
          const def = props.get(k);
          return h('div', { class: 'latest-item', dataset: { key: k } }, h('dt', {}, def?.name || k), h('dd', {}, h('span', { class: 'big' }, fmtValue(l.value, def?.unit)), h('span', { class: 'muted small' }, ago(l.ts))));
        }),
      ),
    );
  };

  const loadLatest = async () => {
    const body = await ctx.api.get(`${base}/telemetry/latest`, { signal: ctx.signal });
    for (const [k, v] of latestFrom(body)) latest.set(k, v);
    drawLatest();
  };

  const loadCharts = async () => {
    if (!numeric.length) {
      replace(hosts.charts, empty(product ? 'This product has no numeric properties to chart.' : 'The product could not be loaded, so there is nothing to chart.'));
      return;
    }
    await loadInto(ctx, hosts.charts, {
      feature: 'Telemetry history',
      path: `${base}/telemetry`,
      load: async () => {
        const q = rangeQuery(rangeKey);
        from = q.from;
        const body = await ctx.api.get(`${base}/telemetry`, { query: { keys: numeric.map((p) => p.id), ...q }, signal: ctx.signal });
        const columns = columnsFromSeries(body?.series);
        chartModule = chartModule || (await import('../chart.js'));
        for (const c of charts.values()) c.chart.destroy();
        charts.clear();
        const hostsByKey = numeric.map((p) => {
          const el = h('div', { class: 'chart', dataset: { key: p.id }, role: 'img', 'aria-label': `${p.name || p.id} over the last ${RANGES[rangeKey].label}` });
          return [p, el];
        });
        replace(hosts.charts, hostsByKey.map(([p, el]) => h('figure', { class: 'chart-fig' }, h('figcaption', {}, p.name || p.id, p.unit ? h('span', { class: 'muted' }, ` ${p.unit}`) : null, h('span', { class: 'muted small', dataset: { pointsFor: p.id } }, '')), el)));
        hostsByKey.forEach(([p, el], i) => {
          const column = columns.get(p.id) || { xs: [], ys: [] };
          const chart = chartModule.lineChart(el, { label: p.name || p.id, unit: p.unit, column, spanMs: RANGES[rangeKey].ms, colour: COLOURS[i % COLOURS.length] });
          charts.set(p.id, { chart, column });
          countPoints(p.id);
        });
        hosts.charts.dataset.drawn = rangeKey;
      },
    });
  };

  const countPoints = (key) => {
    const el = hosts.charts.querySelector(`[data-points-for="${CSS.escape(key)}"]`);
    const c = charts.get(key);
    if (el && c) el.textContent = ` · ${c.column.xs.length} points`;
  };

  const onSample = (ts, values) => {
    let changed = false;
    for (const [k, v] of Object.entries(values)) {
      const prev = latest.get(k);
      if (!prev || prev.ts === null || ts >= prev.ts) {
        latest.set(k, { ts, value: v });
        changed = true;
      }
      const c = charts.get(k);
      if (c && typeof v === 'number' && ts >= from) {
        addPoint(c.column, ts, v, Date.now() - RANGES[rangeKey].ms);
        c.chart.update(c.column);
        countPoints(k);
      }
    }
    if (changed) drawLatest();
  };

  for (const key of Object.keys(RANGES)) {
    rangeButtons.appendChild(
      h(
        'button',
        {
          type: 'button',
          class: 'small',
          'aria-pressed': String(key === rangeKey),
          dataset: { range: key },
          onclick: async (e) => {
            rangeKey = key;
            for (const b of rangeButtons.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === e.currentTarget));
            await loadCharts();
          },
        },
        RANGES[key].label,
      ),
    );
  }
  rangeButtons.hidden = !ctx.caps.has('get', `${base}/telemetry`) || !numeric.length;
  ctx.onDispose(() => {
    for (const c of charts.values()) c.chart.destroy();
  });

  return {
    /** Loads the latest values and the charts. */
    async load() {
      await Promise.all([
        loadInto(ctx, hosts.latest, { feature: 'Latest values', path: `${base}/telemetry/latest`, load: loadLatest }),
        loadCharts(),
      ]);
    },
    onSample,
    /** Without a WebSocket: polls the latest values; new ones extend the charts. */
    poll() {
      const timer = setInterval(async () => {
        try {
          const body = await ctx.api.get(`${base}/telemetry/latest`, { signal: ctx.signal });
          for (const [k, v] of latestFrom(body)) if (v.ts !== null) onSample(v.ts, { [k]: v.value });
        } catch {
          /* tried again on the next tick */
        }
      }, 2000);
      ctx.onDispose(() => clearInterval(timer));
    },
  };
}

async function renderCommands(ctx, base, device, product, host) {
  const commands = product?.commands || [];
  const none = { reload() {} };
  if (!commands.length) {
    replace(host, empty(product ? 'This product defines no commands.' : 'The product could not be loaded.'));
    return none;
  }
  if (!ctx.caps.has('post', `${base}/commands/x`)) {
    replace(host, unavailable('Sending commands'));
    return none;
  }
  const history = h('div', { class: 'command-history' });
  const drawHistory = async () => {
    if (!ctx.caps.has('get', `${base}/commands`)) return;
    try {
      const { items } = listPage(await ctx.api.get(`${base}/commands`, { query: { limit: 10 }, signal: ctx.signal }));
      replace(
        history,
        items.length
          ? table(
              [
                { label: 'Command', cell: (c) => c.name ?? c.command },
                { label: 'Status', cell: (c) => h('span', { class: `cmd-status st-${c.status}` }, c.status) },
                { label: 'When', cell: (c) => ago(c.created_at ?? c.ts) },
              ],
              items,
              { caption: 'Recent commands' },
            )
          : null,
      );
    } catch (e) {
      if (e?.name === 'AbortError') throw e;
      replace(history, errorBox(e, 'Recent commands could not be loaded'));
    }
  };
  const view = { reload: throttled(drawHistory) };
  if (!ctx.canWrite) {
    replace(host, h('p', { class: 'muted' }, `Commands: ${commands.map((c) => c.name || c.id).join(', ')}.`), history);
    await drawHistory();
    return view;
  }
  const select = h('select', { id: 'command-name', name: 'command' }, commands.map((c) => h('option', { value: c.id }, c.name && c.name !== c.id ? `${c.name} (${c.id})` : c.id)));
  const paramsHost = h('div', {});
  // An offline device cannot answer now: its commands are queued by default.
  const online = device.status === 'online';
  const mode = h('select', { name: 'mode' }, h('option', { value: 'wait', selected: online }, 'wait for the reply'), h('option', { value: 'queue', selected: !online }, 'queue (deliver when online)'));
  const timeout = h('input', { type: 'number', name: 'timeout_ms', value: '5000', min: '100', max: '60000', step: '100' });
  const result = h('div', { class: 'command-result', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Send command');
  let inputs = null;
  const showParams = () => {
    const cmd = commands.find((c) => c.id === select.value);
    inputs = typedInputs(cmd?.params || []);
    replace(paramsHost, cmd?.params?.length ? inputs.element : h('p', { class: 'muted small' }, 'This command takes no parameters.'));
  };
  select.addEventListener('change', showParams);
  showParams();
  const form = h(
    'form',
    {
      class: 'form',
      'aria-label': 'Send a command',
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        const { values, errors } = inputs.read();
        if (Object.keys(errors).length) return;
        replace(result, loading('Waiting for the device'));
        await busy(submit, async () => {
          try {
            const answer = await ctx.api.post(`${base}/commands/${seg(select.value)}`, { params: values, mode: mode.value, timeout_ms: Number(timeout.value) || 5000 });
            replace(result, commandOutcome(answer));
            await drawHistory();
          } catch (err) {
            if (err?.name === 'AbortError') return;
            replace(result, errorBox(err, err.status === 504 ? 'The device did not answer in time' : 'The command failed'));
          }
        });
      },
    },
    field('Command', select),
    paramsHost,
    h('div', { class: 'row' }, field('Mode', mode), field('Timeout (ms)', timeout)),
    h('div', { class: 'form-actions' }, submit),
  );
  replace(host, form, result, history);
  await drawHistory();
  return view;
}

function commandOutcome(answer) {
  const status = answer?.status || 'sent';
  const ok = status === 'succeeded' || status === 'ok';
  return h(
    'div',
    { class: `notice ${ok ? 'ok' : status === 'failed' || status === 'expired' ? 'bad' : ''}`, 'data-command-status': status },
    h('p', {}, 'Status: ', h('strong', {}, status), answer?.id ? h('span', { class: 'muted small' }, ` · id ${answer.id}`) : null),
    answer?.result !== undefined ? h('pre', { class: 'mono' }, JSON.stringify(answer.result, null, 2)) : null,
    answer?.error ? h('p', { class: 'bad' }, String(answer.error)) : null,
  );
}

/** The device's events of the last 7 days, newest first; reloaded on live event frames. */
async function renderEvents(ctx, base, host) {
  const load = (quiet) =>
    loadInto(ctx, host, {
      feature: 'Events',
      path: `${base}/events`,
      quiet,
      load: async () => {
        const now = Date.now();
        const body = await ctx.api.get(`${base}/events`, { query: { from: now - 7 * 86400000, to: now, limit: 50 }, signal: ctx.signal });
        const { items } = listPage(body, 'events');
        replace(host, items.length ? eventTable(items, { showDevice: false }) : empty('No events in the last 7 days.'));
      },
    });
  await load(false);
  return { reload: throttled(() => load(true)) };
}


async function renderDeviceAlarms(ctx, device, host) {
  replace(host, loading());
  return showAlarms(ctx, host, { device: device.id, limit: 50 }, { keep: (a) => a.status !== 'cleared', showDevice: false });
}

async function renderCredentials(ctx, base, host) {
  if (!ctx.caps.has('post', `${base}/token`)) {
    replace(host, h('p', { class: 'muted' }, 'Token rotation is not available on this server.'));
    return;
  }
  const result = h('div', { class: 'form-message' });
  const rotate = h('button', { type: 'button', 'data-action': 'rotate' }, 'Rotate token');
  const confirmRow = h('div', { class: 'btn-row', hidden: true });
  const confirmBtn = h('button', { type: 'button', class: 'danger', 'data-action': 'confirm-rotate' }, 'Yes, rotate: the old token stops working');
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  confirmRow.append(confirmBtn, cancel);
  rotate.addEventListener('click', () => {
    confirmRow.hidden = false;
    rotate.hidden = true;
    confirmBtn.focus();
  });
  cancel.addEventListener('click', () => {
    confirmRow.hidden = true;
    rotate.hidden = false;
    rotate.focus();
  });
  confirmBtn.addEventListener('click', async () => {
    await busy(confirmBtn, async () => {
      try {
        const answer = await ctx.api.post(`${base}/token`, {});
        replace(result, tokenNotice({ id: ctx.params.id, ...answer }));
        confirmRow.hidden = true;
        rotate.hidden = false;
      } catch (err) {
        if (err?.name !== 'AbortError') replace(result, errorBox(err, 'The token was not rotated'));
      }
    });
  });
  replace(host, h('p', { class: 'muted' }, 'The device signs in to MQTT with its id and token. Rotating issues a new token and revokes the old one.'), rotate, confirmRow, result);
}
