// Small DOM helpers: element creation, state boxes (loading, empty, error, not available) and toasts.

/**
 * Creates an element. `attrs` keys: `class`, `text`, `on<event>` (listener), `dataset`,
 * `style` (object), booleans (set when true, omitted when false), anything else as attribute.
 * Children may be strings, numbers, nodes, arrays, or null/undefined/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value' && 'value' in el) el.value = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A muted "loading" line. */
export function loading(what = 'Loading') {
  return h('p', { class: 'muted loading' }, `${what}…`);
}

/** An empty state: a short sentence and an optional action. */
export function empty(message, action) {
  return h('div', { class: 'state empty' }, h('p', {}, message), action || null);
}

/** A calm state for a feature this server does not offer. */
export function unavailable(feature) {
  return h(
    'div',
    { class: 'state unavailable', dataset: { state: 'unavailable' } },
    h('p', {}, h('strong', {}, `${feature} is not available on this server.`)),
    h('p', { class: 'muted' }, 'The platform answered that this feature is not deployed. Everything else keeps working.'),
  );
}

/** An error box showing an ApiError's code, message and details. */
export function errorBox(err, title = 'Something went wrong') {
  const box = h('div', { class: 'error-box', role: 'alert' });
  box.appendChild(h('p', {}, h('strong', {}, title), ': ', err?.message || String(err)));
  if (err?.code) box.appendChild(h('p', { class: 'muted' }, `code: ${err.code}${err.status ? ` (HTTP ${err.status})` : ''}`));
  const details = detailLines(err?.details);
  if (details.length) box.appendChild(h('ul', { class: 'details' }, details.map((line) => h('li', {}, line))));
  return box;
}

/** Flattens an error's `details` (string, array, object, or nested) into readable lines. */
export function detailLines(details) {
  if (details === undefined || details === null || details === '') return [];
  if (typeof details === 'string') return [details];
  if (Array.isArray(details)) return details.flatMap((d) => detailLines(d));
  if (typeof details === 'object') {
    const where = details.path ?? details.field ?? details.pointer;
    const what = details.message ?? details.reason ?? details.error;
    const at = details.line !== undefined ? ` (line ${details.line}${details.column !== undefined ? `, column ${details.column}` : ''})` : '';
    if (where !== undefined && what !== undefined) return [`${where}${at}: ${what}`];
    if (what !== undefined && Object.keys(details).length === 1) return [String(what)];
    return Object.entries(details).flatMap(([k, v]) =>
      typeof v === 'object' && v !== null ? detailLines(v).map((l) => `${k}: ${l}`) : [`${k}: ${v}`],
    );
  }
  return [String(details)];
}

/** Shows a short message at the bottom of the screen. */
export function toast(message, kind = 'info') {
  const host = document.getElementById('toasts');
  if (!host) return;
  const el = h('div', { class: `toast ${kind}` }, message);
  host.appendChild(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

/** A labelled form field around an input element. */
export function field(label, input) {
  return h('label', { class: 'field' }, h('span', { class: 'label' }, label), input);
}

/** A section card with a heading and optional actions on the right. */
export function card(title, body, actions) {
  return h(
    'section',
    { class: 'card', 'aria-label': title },
    h('div', { class: 'card-head' }, h('h2', {}, title), actions ? h('div', { class: 'actions' }, actions) : null),
    h('div', { class: 'card-body' }, body),
  );
}

/** A table from column definitions `{label, cell(row) -> node|string}` and rows. */
export function table(columns, rows, { caption, rowClass } = {}) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      caption ? h('caption', { class: 'sr-only' }, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h(
        'tbody',
        {},
        rows.map((row) => h('tr', { class: rowClass ? rowClass(row) : null }, columns.map((c) => h('td', { class: c.class }, c.cell(row))))),
      ),
    ),
  );
}

/** Disables a button while `work` runs; returns work's result. */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}
