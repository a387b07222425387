// Alarms: filtered by status, severity and device; acknowledge and clear.

import { h, replace, card, unavailable } from '../dom.js';
import { showAlarms } from '../alarmlist.js';
import { link } from '../router.js';
import { openLive, subscribeFrame } from '../live.js';

/** Page title. */
export const title = 'Alarms';

const STATUSES = ['active', 'acknowledged', 'cleared'];
const SEVERITIES = ['critical', 'major', 'minor', 'info'];

/** Renders the alarms page. */
export async function render(root, ctx) {
  if (!ctx.caps.has('get', '/alarms')) {
    replace(root, h('div', { class: 'page-head' }, h('h1', {}, 'Alarms')), unavailable('Alarms'));
    return;
  }
  const q = { status: ctx.query.status ?? 'active', severity: ctx.query.severity || '', device: ctx.query.device || '' };
  const status = h('select', { name: 'status', 'aria-label': 'Status' }, h('option', { value: 'any', selected: q.status === 'any' }, 'Any status'), STATUSES.map((s) => h('option', { value: s, selected: q.status === s }, s)));
  const severity = h('select', { name: 'severity', 'aria-label': 'Severity' }, h('option', { value: '' }, 'Any severity'), SEVERITIES.map((s) => h('option', { value: s, selected: q.severity === s }, s)));
  const device = h('input', { type: 'search', name: 'device', value: q.device, placeholder: 'device id', 'aria-label': 'Device' });
  const form = h(
    'form',
    {
      class: 'filters',
      role: 'search',
      onsubmit: (e) => {
        e.preventDefault();
        location.hash = link(['alarms'], { status: status.value, severity: severity.value, device: device.value.trim() });
      },
    },
    status,
    severity,
    device,
    h('button', { type: 'submit' }, 'Filter'),
  );
  for (const sel of [status, severity]) sel.addEventListener('change', () => form.requestSubmit());
  const host = h('div', {});
  replace(root, h('div', { class: 'page-head' }, h('h1', {}, 'Alarms')), card('Filter', form), card('Alarms', host));
  const query = { status: q.status === 'any' ? undefined : q.status, severity: q.severity, device: q.device, limit: 200 };
  const list = await showAlarms(ctx, host, query);
  // Alarms raised, acknowledged or cleared elsewhere show up without a reload.
  if (!ctx.caps.has('get', '/ws')) return;
  const conn = openLive({ token: ctx.token, subscriptions: [subscribeFrame('alarms', { all: true, kinds: ['alarm'] })], onFrame: (frame) => frame.kind === 'alarm' && list.reload() });
  ctx.onDispose(() => conn.close());
}
