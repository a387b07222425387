// Form inputs generated from thing-model field definitions (command params, desired properties).

import { h } from './dom.js';
import { describeType, inputKind, readParams } from './thingmodel.js';

function inputFor(def, id, initial) {
  const kind = inputKind(def);
  if (kind.kind === 'checkbox') return { el: h('input', { type: 'checkbox', id, checked: Boolean(initial) }), read: (el) => el.checked };
  if (kind.kind === 'select') {
    const el = h('select', { id }, h('option', { value: '' }, '—'), kind.options.map((o) => h('option', { value: String(o), selected: String(o) === String(initial) }, String(o))));
    return { el, read: (e) => e.value };
  }
  if (kind.kind === 'geo') {
    const lat = h('input', { type: 'number', step: 'any', id, placeholder: 'lat', value: initial?.lat ?? '', 'aria-label': `${def.id} latitude` });
    const lon = h('input', { type: 'number', step: 'any', placeholder: 'lon', value: initial?.lon ?? '', 'aria-label': `${def.id} longitude` });
    return { el: h('span', { class: 'geo-input' }, lat, lon), read: () => ({ lat: lat.value, lon: lon.value }) };
  }
  if (kind.kind === 'number') {
    return {
      el: h('input', { type: 'number', id, step: kind.step, min: kind.min, max: kind.max, value: initial ?? '', inputmode: 'decimal' }),
      read: (e) => e.value,
    };
  }
  if (kind.kind === 'json') {
    return { el: h('textarea', { id, rows: 2, class: 'mono' }, initial === undefined ? '' : JSON.stringify(initial)), read: (e) => e.value };
  }
  return { el: h('input', { type: 'text', id, value: initial ?? '', maxlength: kind.maxLength }), read: (e) => e.value };
}

let counter = 0;

/**
 * Inputs for a list of typed fields. Returns `{element, read()}`; `read()` gives
 * `{values, errors}` and marks the inputs whose value is not valid.
 */
export function typedInputs(defs, initial = {}) {
  const prefix = `f${++counter}`;
  const entries = (defs || []).map((def) => {
    const id = `${prefix}-${def.id}`;
    const input = inputFor(def, id, initial[def.id]);
    const message = h('span', { class: 'field-error', id: `${id}-err`, 'aria-live': 'polite' });
    const row = h(
      'div',
      { class: 'field', dataset: { field: def.id } },
      h('label', { class: 'label', for: id }, def.name || def.id, h('span', { class: 'muted type' }, ` ${describeType(def)}`)),
      input.el,
      message,
    );
    return { def, input, row, message };
  });
  return {
    element: h('div', { class: 'typed-inputs' }, entries.map((e) => e.row)),
    read() {
      const raw = Object.fromEntries(entries.map((e) => [e.def.id, e.input.read(e.input.el)]));
      const result = readParams(defs, raw);
      for (const e of entries) {
        const err = result.errors[e.def.id];
        e.message.textContent = err || '';
        e.row.classList.toggle('invalid', Boolean(err));
        const target = e.input.el.tagName === 'SPAN' ? e.input.el.querySelector('input') : e.input.el;
        if (err) target.setAttribute('aria-invalid', 'true');
        else target.removeAttribute('aria-invalid');
      }
      return result;
    },
  };
}
