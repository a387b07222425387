// Overview: devices in total and online, messages per second (live), active alarms by
// severity, recent events.

import { listPage } from '../api.js';
import { h, replace, card, empty, table, unavailable } from '../dom.js';
import { ago, rate } from '../format.js';
import { loadInto, fetchAll, counterSum, ratePerSecond } from '../pagekit.js';
import { link } from '../router.js';

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
  loads.push(
    loadInto(ctx, alarmsHost, {
      feature: 'Alarms',
      path: '/alarms',
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
    }),
  );
  loads.push(renderEvents(ctx, eventsHost));
  await Promise.all(loads);
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

async function renderEvents(ctx, host) {
  await loadInto(ctx, host, {
    feature: 'Tenant-wide events',
    path: '/events',
    load: async () => {
      const body = await ctx.api.get('/events', { query: { limit: 10 }, signal: ctx.signal });
      const { items } = listPage(body);
      if (!items.length) {
        replace(host, empty('No events yet.'));
        return;
      }
      replace(
        host,
        table(
          [
            { label: 'When', cell: (e) => ago(e.ts) },
            { label: 'Device', cell: (e) => h('a', { href: link(['devices', e.device]) }, e.device) },
            { label: 'Event', cell: (e) => e.name ?? e.event ?? e.id },
            { label: 'Severity', cell: (e) => h('span', { class: `sev sev-${e.severity}` }, e.severity ?? '') },
          ],
          items,
          { caption: 'Recent events' },
        ),
      );
    },
  });
}
