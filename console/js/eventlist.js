// A table of device events (shared by the overview and the device page).

import { h, table } from './dom.js';
import { ago, dateTime } from './format.js';
import { link } from './router.js';

/** Events (`{device, name, severity, ts, params}`) as a table, newest first as given. */
export function eventTable(events, { showDevice = true } = {}) {
  return table(
    [
      { label: 'When', cell: (e) => h('span', { title: dateTime(e.ts) }, ago(e.ts)) },
      showDevice ? { label: 'Device', cell: (e) => h('a', { href: link(['devices', e.device]) }, e.device) } : null,
      { label: 'Event', cell: (e) => e.name },
      { label: 'Severity', cell: (e) => h('span', { class: `sev sev-${e.severity}` }, e.severity ?? '') },
      { label: 'Params', cell: (e) => h('code', {}, JSON.stringify(e.params ?? {})) },
    ].filter(Boolean),
    events,
    { caption: 'Events', rowClass: (e) => `event-row event-${e.name}` },
  );
}
