// Overview: devices in total and online, messages per second (live), active alarms by
// severity, recent events.

import { listPage, seg } from '../api.js';
import { openLive, subscribeFrame } from '../live.js';
import { h, replace, card, empty, unavailable } from '../dom.js';
import { rate } from '../format.js';
import { loadInto, fetchAll, counterSum, ratePerSecond, throttled } from '../pagekit.js';
import { link } from '../router.js';
import { eventTable } from '../eventlist.js';

/** Page title. */
export const title = 'Overview';

/** Alarm severities, most serious first. */
export const ALARM_SEVERITIES = ['critical', 'major', 'minor', 'info'];

/** Counters that count device messages accepted by the ingest pipeline. */
export function isIngestCounter(name) {
  return /^wanwu_ingest_[a-z_]*messages[a-z_]*_total$/.test(name) && !/rejected|dropped|errors/.test(name);
}

/**
 * The best live rate the metrics offer: messages ingested, else MQTT messages received, else
 * points stored. Returns {label, accept(name)} or null when the text has none of them.
 */
export function rateSource(text) {
  const sources = [
    { label: 'Messages per second', accept: isIngestCounter },
    { label: 'MQTT messages per second', accept: (n) => n === 'mqtt_messages_received_total' },
    { label: 'Points stored per second', accept: (n) => n === 'wanwu_tsdb_points_written_total' },
  ];
  return sources.find((s) => counterSum(text, s.accept) !== null) || null;
}

function stat(label, valueNode, sub) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, valueNode), sub ? h('div', { class: 'stat-sub muted' }, sub) : null);
}

const COUNT_MAX = 10000;

/** Counts devices (online ones with `online`), by the API's filter when it takes one. */
async function countDevices(ctx, { online = false } = {}) {
  const byServer = !online || ctx.caps.takesQuery('get', '/devices', 'status');
  const query = online && byServer ? { status: 'online' } : {};
  const body = await ctx.api.get('/devices', { query: { ...query, limit: 1 }, signal: ctx.signal });
  const first = listPage(body);
  if (first.total !== null && byServer) return { count: first.total, exact: true };
  const all = await fetchAll(ctx, '/devices', { query, max: COUNT_MAX, pageSize: 1000 });
  const items = byServer ? all.items : all.items.filter((d) => d.status === 'online');
  return { count: items.length, exact: !all.truncated };
}

/** Renders the overview. */
export async function render(root, ctx) {
  const devicesHost = h('div', { class: 'stats' });
  const rateHost = h('div', { class: 'stats' });
  const alarmsHost = h('div', {});
  const eventsHost = h('div', {});
  replace(
    root,
    h('h1', {}, 'Overview'),
    h('div', { class: 'grid two' }, card('Devices', devicesHost), card('Messages', rateHost)),
    h('div', { class: 'grid two' }, card('Active alarms', alarmsHost, h('a', { href: '#/alarms' }, 'All alarms')), card('Recent events', eventsHost)),
  );

  const loads = [];
  loads.push(
    loadInto(ctx, devicesHost, {
      feature: 'Devices',
      path: '/devices',
      load: async () => {
        const [total, online] = await Promise.all([countDevices(ctx), countDevices(ctx, { online: true })]);
        const fmt = (c) => `${c.count}${c.exact ? '' : '+'}`;
        replace(
          devicesHost,
          stat('Devices', h('a', { href: '#/devices', 'data-stat': 'devices-total' }, fmt(total))),
          stat('Online', h('a', { href: link(['devices'], { status: 'online' }), 'data-stat': 'devices-online' }, fmt(online)), total.count ? `${Math.round((online.count / total.count) * 100)}% of all` : null),
        );
      },
    }),
  );
  loads.push(renderRate(ctx, rateHost));
  const loadAlarms = (quiet) =>
    loadInto(ctx, alarmsHost, {
      feature: 'Alarms',
      path: '/alarms',
      quiet,
      load: async () => {
        const { items } = await fetchAll(ctx, '/alarms', { query: { status: 'active' }, max: 5000 });
        const bySeverity = Object.fromEntries(ALARM_SEVERITIES.map((s) => [s, 0]));
        for (const a of items) bySeverity[a.severity] = (bySeverity[a.severity] || 0) + 1;
        replace(
          alarmsHost,
          h(
            'div',
            { class: 'stats' },
            ALARM_SEVERITIES.map((s) => stat(s, h('a', { href: link(['alarms'], { status: 'active', severity: s }), class: `sev sev-${s}`, 'data-stat': `alarms-${s}` }, String(bySeverity[s])))),
          ),
        );
      },
    });
  loads.push(loadAlarms(false));
  const eventsLoad = renderEvents(ctx, eventsHost);
  loads.push(eventsLoad);
  await Promise.all(loads);
  if (!ctx.caps.has('get', '/ws')) return;
  // Live: new events on top of the list, alarm counts recounted when an alarm changes.
  const events = await eventsLoad;
  const recountAlarms = throttled(() => loadAlarms(true));
  const conn = openLive({
    token: ctx.token,
    subscriptions: [subscribeFrame('overview', { all: true, kinds: ['event', 'alarm'] })],
    onFrame: (frame) => {
      if (frame.kind === 'event') events.add({ ...frame.data, device: frame.device });
      else if (frame.kind === 'alarm') recountAlarms();
    },
  });
  ctx.onDispose(() => conn.close());
}

async function renderRate(ctx, host) {
  if (!ctx.caps.has('get', '/metrics')) {
    replace(host, unavailable('The metrics endpoint'));
    return;
  }
  let source = null;
  const read = async () => {
    const text = await ctx.api.get('/metrics', { raw: true, signal: ctx.signal });
    source = source || rateSource(text);
    return { at: Date.now(), value: source ? counterSum(text, source.accept) : null };
  };
  let prev;
  try {
    prev = await read();
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    replace(host, empty('Message rates are not available (the metrics endpoint did not answer).'));
    return;
  }
  if (!source) {
    replace(host, stat('Messages per second', '—', 'no message counter yet: nothing has been received'));
    return;
  }
  const valueEl = h('span', { 'data-stat': 'messages-rate' }, 'measuring…');
  const totalEl = h('span', {}, `${prev.value} in total`);
  replace(host, stat(source.label, valueEl, totalEl));
  const timer = setInterval(async () => {
    try {
      const next = await read();
      valueEl.textContent = rate(ratePerSecond(prev, next));
      totalEl.textContent = `${next.value} in total`;
      prev = next;
    } catch {
      /* the next tick tries again */
    }
  }, 2000);
  ctx.onDispose(() => clearInterval(timer));
}

/** How many recently seen devices the overview asks for their events, and how many it shows. */
const RECENT_DEVICES = 10;
const RECENT_EVENTS = 10;

/**
 * Recent events of the tenant: the events of the last 24 h of the most recently seen online
 * devices (events are kept per device), newest first. Returns {add(event)} for live events.
 */
async function renderEvents(ctx, host) {
  let shown = [];
  const draw = () => replace(host, shown.length ? eventTable(shown) : empty('No events in the last 24 hours.'));
  await loadInto(ctx, host, {
    feature: 'Events',
    path: '/devices/{id}/events',
    load: async () => {
      const query = ctx.caps.takesQuery('get', '/devices', 'status') ? { status: 'online', limit: 200 } : { limit: 200 };
      const { items } = listPage(await ctx.api.get('/devices', { query, signal: ctx.signal }));
      const recent = items
        .filter((d) => d.last_seen)
        .sort((a, b) => b.last_seen - a.last_seen)
        .slice(0, RECENT_DEVICES);
      const now = Date.now();
      const lists = await Promise.all(
        recent.map((d) => ctx.api.get(`/devices/${seg(d.id)}/events`, { query: { from: now - 86400000, to: now, limit: RECENT_EVENTS }, signal: ctx.signal }).then((body) => listPage(body, 'events').items)),
      );
      shown = lists.flat().sort((a, b) => b.ts - a.ts).slice(0, RECENT_EVENTS);
      draw();
    },
  });
  return {
    /** Puts a live event on top of the list. */
    add(event) {
      shown = [event, ...shown].slice(0, RECENT_EVENTS);
      draw();
    },
  };
}

