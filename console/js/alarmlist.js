// A table of alarms with acknowledge and clear buttons (shared by the alarms and device pages).

import { listPage, seg } from './api.js';
import { h, table, empty, busy, toast, errorBox, replace } from './dom.js';
import { ago, dateTime } from './format.js';
import { link } from './router.js';
import { loadInto, throttled } from './pagekit.js';

/** Renders `alarms` into `host`; `onChanged()` runs after an ack or clear succeeded. */
export function renderAlarms(ctx, host, alarms, { onChanged, showDevice = true } = {}) {
  if (!alarms.length) {
    replace(host, empty('No alarms match.'));
    return;
  }
  const message = h('div', { class: 'form-message' });
  const action = (alarm, verb) =>
    h(
      'button',
      {
        type: 'button',
        class: verb === 'ack' ? 'small' : 'small secondary',
        'data-action': verb,
        'aria-label': `${verb === 'ack' ? 'Acknowledge' : 'Clear'} alarm ${alarm.type} on ${alarm.device}`,
        onclick: async (event) => {
          replace(message);
          await busy(event.currentTarget, async () => {
            try {
              await ctx.api.post(`/alarms/${seg(alarm.id)}/${verb}`, {});
              toast(`Alarm ${verb === 'ack' ? 'acknowledged' : 'cleared'}`, 'ok');
              onChanged?.();
            } catch (e) {
              if (e?.name !== 'AbortError') replace(message, errorBox(e, `The alarm was not ${verb === 'ack' ? 'acknowledged' : 'cleared'}`));
            }
          });
        },
      },
      verb === 'ack' ? 'Acknowledge' : 'Clear',
    );
  const columns = [
    { label: 'Severity', cell: (a) => h('span', { class: `sev sev-${a.severity}` }, a.severity) },
    { label: 'Type', cell: (a) => a.type },
    showDevice ? { label: 'Device', cell: (a) => h('a', { href: link(['devices', a.device]) }, a.device) } : null,
    { label: 'Status', cell: (a) => h('span', { class: `alarm-status st-${a.status}`, 'data-alarm-status': a.status }, a.status) },
    { label: 'Count', cell: (a) => String(a.count ?? 1), class: 'num' },
    { label: 'First', cell: (a) => dateTime(a.first_ts ?? a.created_at) },
    { label: 'Last', cell: (a) => h('span', { title: dateTime(a.last_ts) }, ago(a.last_ts ?? a.updated_at)) },
    {
      label: 'Actions',
      cell: (a) =>
        ctx.canWrite
          ? h('div', { class: 'btn-row' }, a.status === 'active' ? action(a, 'ack') : null, a.status !== 'cleared' ? action(a, 'clear') : null)
          : '',
    },
  ].filter(Boolean);
  replace(host, message, table(columns, alarms, { caption: 'Alarms', rowClass: (a) => `alarm-row st-${a.status}` }));
}

/**
 * Loads the alarms matching `query` into `host` and renders them; reloads after an ack or
 * clear. `keep(alarm)` filters what is shown. Returns {reload()} for live alarm frames.
 */
export async function showAlarms(ctx, host, query, { keep = () => true, showDevice = true } = {}) {
  const draw = () =>
    loadInto(ctx, host, {
      feature: 'Alarms',
      path: '/alarms',
      quiet: true,
      load: async () => {
        const { items } = listPage(await ctx.api.get('/alarms', { query, signal: ctx.signal }));
        renderAlarms(ctx, host, items.filter(keep), { onChanged: draw, showDevice });
      },
    });
  await draw();
  return { reload: throttled(draw) };
}
