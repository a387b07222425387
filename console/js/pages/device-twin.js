// The twin card of the device page: reported, desired and delta side by side, and the editor of
// the desired state for read_write properties. Live twin frames update the tables in place; the
// editor keeps what the user is typing.

import { h, replace, errorBox, busy, toast } from '../dom.js';
import { typedInputs } from '../forms.js';
import { loadInto } from '../pagekit.js';
import { isWritable } from '../thingmodel.js';
import { twinFrom, applyTwinChange } from '../twin.js';

function kvTable(obj, emptyText, label) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return h('p', { class: 'muted' }, emptyText);
  return h('table', { class: 'kv', 'aria-label': label }, h('tbody', {}, entries.map(([k, v]) => h('tr', { dataset: { key: k } }, h('th', { scope: 'row' }, k), h('td', { class: 'mono' }, typeof v === 'object' ? JSON.stringify(v) : String(v))))));
}

function twinTables(twin) {
  return [
    h(
      'div',
      { class: 'twin-cols' },
      h('div', { class: 'twin-col' }, h('h3', {}, 'Reported'), kvTable(twin.reported, 'Nothing reported yet.', 'Reported')),
      h('div', { class: 'twin-col' }, h('h3', {}, 'Desired'), kvTable(twin.desired, 'Nothing desired.', 'Desired')),
      h('div', { class: 'twin-col delta' }, h('h3', {}, 'Delta'), kvTable(twin.delta, 'In sync.', 'Delta')),
    ),
    h('p', { class: 'muted small', dataset: { twinVersion: String(twin.version ?? '') } }, `Version ${twin.version ?? '—'}`),
  ];
}

/**
 * Renders the twin of the device at `base` into `host`. Returns {applyChange(data)} for the
 * live twin frames of the device.
 */
export async function renderTwin(ctx, base, product, host) {
  const path = `${base}/shadow`;
  const tables = h('div', {});
  let twin = null;
  const show = (next) => {
    twin = next;
    replace(tables, twinTables(twin));
  };
  await loadInto(ctx, host, {
    feature: 'The device twin',
    path,
    load: async () => {
      show(twinFrom(await ctx.api.get(path, { signal: ctx.signal })));
      const writable = (product?.properties || []).filter(isWritable);
      let editor = null;
      if (ctx.canWrite && writable.length && ctx.caps.has('patch', `${path}/desired`)) editor = desiredEditor(ctx, `${path}/desired`, writable, twin.desired, show);
      else if (ctx.canWrite && !writable.length) editor = h('p', { class: 'muted small' }, 'The product has no read_write properties, so there is nothing to set.');
      replace(host, tables, editor);
    },
  });
  return {
    applyChange(change) {
      if (twin) show(applyTwinChange(twin, change));
    },
  };
}

/**
 * The desired-state form. The PATCH is a JSON merge patch of the values entered; it is not made
 * conditional on the twin's version, since every report of the device moves the version and a
 * desired value does not depend on what was reported. The answer (the whole twin) is shown.
 */
function desiredEditor(ctx, path, writable, desired, show) {
  const inputs = typedInputs(writable, desired);
  const message = h('div', { class: 'form-message', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Set desired');
  return h(
    'form',
    {
      class: 'form desired-form',
      'aria-label': 'Edit desired state',
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        replace(message);
        const { values, errors } = inputs.read();
        if (Object.keys(errors).length) return;
        if (!Object.keys(values).length) {
          replace(message, h('p', { class: 'muted' }, 'Enter at least one value.'));
          return;
        }
        await busy(submit, async () => {
          try {
            show(twinFrom(await ctx.api.patch(path, values)));
            toast('Desired state set', 'ok');
          } catch (err) {
            if (err?.name !== 'AbortError') replace(message, errorBox(err, 'The desired state was not set'));
          }
        });
      },
    },
    h('h3', {}, 'Set desired'),
    inputs.element,
    h('div', { class: 'form-actions' }, submit),
    message,
  );
}
