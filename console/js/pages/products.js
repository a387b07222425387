// Products: the list and the thing-model editor (properties, events, commands), which shows the
// API's validation errors next to the fields they name.

import { seg } from '../api.js';
import { h, replace, card, empty, table, errorBox, busy, toast, loading, field, detailLines } from '../dom.js';
import { fetchAll, loadInto } from '../pagekit.js';
import { link } from '../router.js';
import { PROPERTY_TYPES, ACCESS_MODES, EVENT_SEVERITIES, draftFromProduct, productPayload, productPatch, describeType } from '../thingmodel.js';

/** Page title. */
export const title = 'Products';

/** Renders the list, or the editor for `#/products/{id}` (`#/products?create=1` for a new one). */
export async function render(root, ctx) {
  if (ctx.params.id || ctx.query.create) return renderEditor(root, ctx);
  const host = h('div', {});
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Products'), ctx.canWrite ? h('a', { class: 'button primary', href: link(['products'], { create: '1' }) }, 'New product') : null),
    host,
  );
  await loadInto(ctx, host, {
    feature: 'Products',
    path: '/products',
    load: async () => {
      const { items } = await fetchAll(ctx, '/products', { max: 2000 });
      if (!items.length) {
        replace(host, card('Products', empty('No products yet. A product is the thing model its devices share.', ctx.canWrite ? h('a', { class: 'button primary', href: link(['products'], { create: '1' }) }, 'Create the first product') : null)));
        return;
      }
      replace(
        host,
        card(
          'Products',
          table(
            [
              { label: 'Product', cell: (p) => h('a', { href: link(['products', p.id]) }, p.name || p.id, h('span', { class: 'muted' }, ` ${p.id}`)) },
              { label: 'Properties', cell: (p) => (p.properties || []).map((x) => h('span', { class: 'tag', title: describeType(x) }, x.id)) },
              { label: 'Events', cell: (p) => String((p.events || []).length), class: 'num' },
              { label: 'Commands', cell: (p) => String((p.commands || []).length), class: 'num' },
              { label: 'Devices', cell: (p) => h('a', { href: link(['devices'], { product: p.id }) }, 'list') },
            ],
            items,
            { caption: 'Products' },
          ),
        ),
      );
    },
  });
  return undefined;
}

function blankField(kind) {
  return kind === 'property' ? { id: '', name: '', type: 'float', unit: '', access: 'read' } : { id: '', name: '', type: 'float' };
}

async function renderEditor(root, ctx) {
  const creating = !ctx.params.id;
  let draft;
  if (creating) draft = draftFromProduct({ properties: [blankField('property')] });
  else {
    replace(root, loading('Loading product'));
    try {
      draft = draftFromProduct(await ctx.api.get(`/products/${seg(ctx.params.id)}`, { signal: ctx.signal }));
    } catch (e) {
      if (e?.name === 'AbortError') throw e;
      replace(root, h('h1', {}, ctx.params.id), errorBox(e, e.status === 404 ? 'No such product' : 'The product could not be loaded'), h('p', {}, h('a', { href: '#/products' }, 'Back to products')));
      return;
    }
    ctx.setTitle(draft.name || draft.id);
  }
  const readOnly = !ctx.canWrite;
  const editor = h('div', { class: 'editor' });
  const message = h('div', { class: 'form-message', id: 'product-message' });
  const json = h('textarea', { class: 'mono json-editor', rows: 18, spellcheck: 'false', 'aria-label': 'Thing model as JSON', readonly: readOnly });
  const jsonMessage = h('div', { class: 'form-message' });
  const save = h('button', { type: 'submit', class: 'primary' }, creating ? 'Create product' : 'Save changes');

  const syncJson = () => {
    if (document.activeElement !== json) json.value = JSON.stringify(productPayload(draft), null, 2);
  };
  const redraw = () => {
    replace(editor, modelForm(draft, { creating, readOnly, redraw }));
    syncJson();
  };
  const form = h(
    'form',
    {
      class: 'form product-form',
      'aria-label': 'Thing model',
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        if (readOnly) return;
        replace(message);
        clearMarks(form);
        await busy(save, async () => {
          try {
            const saved = creating
              ? await ctx.api.post('/products', productPayload(draft))
              : await ctx.api.request(ctx.caps.updateMethod(`/products/${seg(draft.id)}`) || 'PATCH', `/products/${seg(draft.id)}`, { body: productPatch(draft) });
            toast(creating ? `Product ${draft.id} created` : 'Product saved', 'ok');
            if (creating) location.hash = link(['products', saved?.id || draft.id]);
            else {
              draft = draftFromProduct(saved || productPayload(draft));
              redraw();
              replace(message, h('p', { class: 'notice ok' }, 'Saved.'));
            }
          } catch (err) {
            if (err?.name === 'AbortError') return;
            replace(message, errorBox(err, 'The thing model was not saved'));
            markErrors(form, err.details);
          }
        });
      },
    },
    editor,
    message,
    readOnly ? null : h('div', { class: 'form-actions sticky' }, save, h('a', { href: '#/products', class: 'button secondary' }, 'Cancel')),
  );
  const jsonCard = card(
    'JSON',
    [
      h('p', { class: 'muted small' }, 'The same thing model as the API takes it; it follows the form. Edit it here and apply it to the form, or copy it.'),
      json,
      jsonMessage,
      readOnly
        ? null
        : h(
            'div',
            { class: 'form-actions' },
            h(
              'button',
              {
                type: 'button',
                onclick: () => {
                  try {
                    const parsed = JSON.parse(json.value);
                    if (!creating) parsed.id = draft.id;
                    draft = draftFromProduct(parsed);
                    redraw();
                    replace(jsonMessage, h('p', { class: 'muted' }, 'Applied to the form. Save to send it.'));
                  } catch (err) {
                    replace(jsonMessage, errorBox(err, 'Not valid JSON'));
                  }
                },
              },
              'Apply JSON to form',
            ),
          ),
    ],
  );
  form.addEventListener('input', syncJson);
  form.addEventListener('change', syncJson);
  redraw();
  replace(
    root,
    h('div', { class: 'page-head' }, h('p', { class: 'crumbs' }, h('a', { href: '#/products' }, 'Products'), ' / '), h('h1', {}, creating ? 'New product' : draft.name || draft.id)),
    h('div', { class: 'grid editor-grid' }, card('Thing model', form), jsonCard),
  );
}

function text(draftObj, key, path, attrs = {}) {
  return h('input', {
    type: attrs.type || 'text',
    value: draftObj[key] ?? '',
    dataset: { path },
    'aria-label': attrs.label || key,
    readonly: attrs.readonly,
    placeholder: attrs.placeholder,
    class: attrs.class,
    oninput: (e) => {
      draftObj[key] = e.target.value;
    },
  });
}

function choice(draftObj, key, options, path, { label, onchange, disabled } = {}) {
  return h(
    'select',
    {
      dataset: { path },
      'aria-label': label || key,
      disabled,
      onchange: (e) => {
        draftObj[key] = e.target.value;
        onchange?.();
      },
    },
    options.map((o) => h('option', { value: o, selected: (draftObj[key] ?? options[0]) === o }, o)),
  );
}

/** A button that removes entry `i` of `list` and redraws. */
function removeButton(list, i, what, redraw) {
  const remove = () => {
    list.splice(i, 1);
    redraw();
  };
  return h('button', { type: 'button', class: 'icon secondary', 'aria-label': `Remove ${what}`, onclick: remove }, '✕');
}

/** A small "+ Add <what>" button. */
function addButton(what, onAdd) {
  return h('button', { type: 'button', class: 'small secondary', onclick: onAdd }, `+ Add ${what}`);
}

/** Rows for a list of typed fields (properties or params), each editable and removable. */
function fieldRows(list, pathPrefix, { withAccess, readOnly, redraw, noun }) {
  const rows = list.map((f, i) => {
    const path = `${pathPrefix}[${i}]`;
    const numeric = f.type === 'int' || f.type === 'float';
    const label = `${noun} ${i + 1}`;
    let typeCells;
    if (numeric) {
      typeCells = [
        text(f, 'unit', `${path}.unit`, { label: `${label} unit`, placeholder: 'unit', readonly: readOnly }),
        text(f, 'min', `${path}.min`, { label: `${label} min`, placeholder: 'min', readonly: readOnly }),
        text(f, 'max', `${path}.max`, { label: `${label} max`, placeholder: 'max', readonly: readOnly }),
      ];
    } else if (f.type === 'enum') {
      typeCells = h('div', { class: 'span3' }, text(f, 'values', `${path}.values`, { label: `${label} values`, placeholder: 'values, comma separated', readonly: readOnly }));
    } else typeCells = h('div', { class: 'span3' });
    return h(
      'div',
      { class: `field-grid${withAccess ? ' with-access' : ''}`, dataset: { path } },
      text(f, 'id', `${path}.id`, { label: `${label} id`, placeholder: 'id', readonly: readOnly }),
      text(f, 'name', `${path}.name`, { label: `${label} name`, placeholder: 'name', readonly: readOnly }),
      choice(f, 'type', PROPERTY_TYPES, `${path}.type`, { label: `${label} type`, onchange: redraw, disabled: readOnly }),
      typeCells,
      withAccess ? choice(f, 'access', ACCESS_MODES, `${path}.access`, { label: `${label} access`, disabled: readOnly }) : h('span', {}),
      readOnly ? null : removeButton(list, i, `${noun} ${f.id || i + 1}`, redraw),
      h('span', { class: 'field-error', dataset: { errorFor: path } }),
    );
  });
  const add = readOnly
    ? null
    : addButton(noun, () => {
        list.push(blankField(withAccess ? 'property' : 'param'));
        redraw();
        setTimeout(() => document.querySelector(`[data-path="${pathPrefix}[${list.length - 1}].id"]`)?.focus());
      });
  const head = h('div', { class: `field-grid head${withAccess ? ' with-access' : ''}`, 'aria-hidden': 'true' }, ['Id', 'Name', 'Type', 'Unit', 'Min', 'Max', withAccess ? 'Access' : ''].map((t) => h('span', {}, t)));
  return h('div', { class: 'field-rows' }, rows.length ? [head, rows] : h('p', { class: 'muted small' }, `No ${noun}s.`), add);
}

function modelForm(draft, { creating, readOnly, redraw }) {
  const section = (heading, ...body) => h('fieldset', { class: 'model-section' }, h('legend', {}, heading), body);
  const namedBlock = (list, i, kind, extra) => {
    const item = list[i];
    const path = `${kind}s[${i}]`;
    return h(
      'div',
      { class: 'named-block', dataset: { path } },
      h(
        'div',
        { class: 'field-row' },
        text(item, 'id', `${path}.id`, { label: `${kind} ${i + 1} id`, placeholder: 'id', readonly: readOnly, class: 'w-id' }),
        text(item, 'name', `${path}.name`, { label: `${kind} ${i + 1} name`, placeholder: 'name', readonly: readOnly }),
        extra,
        readOnly ? null : removeButton(list, i, `${kind} ${item.id || i + 1}`, redraw),
        h('span', { class: 'field-error', dataset: { errorFor: path } }),
      ),
      h('div', { class: 'nested' }, h('span', { class: 'muted small' }, 'Parameters'), fieldRows(item.params, `${path}.params`, { withAccess: false, readOnly, redraw, noun: 'parameter' })),
      kind === 'command' ? h('div', { class: 'nested' }, h('span', { class: 'muted small' }, 'Response'), fieldRows(item.response, `${path}.response`, { withAccess: false, readOnly, redraw, noun: 'response field' })) : null,
    );
  };
  const addBlock = (list, kind) =>
    readOnly
      ? null
      : addButton(kind, () => {
          list.push(kind === 'event' ? { id: '', name: '', severity: 'info', params: [] } : { id: '', name: '', params: [], response: [] });
          redraw();
        });
  return [
    h(
      'div',
      { class: 'row' },
      field('Id', text(draft, 'id', 'id', { readonly: readOnly || !creating, label: 'Product id' })),
      field('Name', text(draft, 'name', 'name', { readonly: readOnly, label: 'Product name' })),
    ),
    h('span', { class: 'field-error', dataset: { errorFor: 'id' } }),
    h('span', { class: 'field-error', dataset: { errorFor: 'name' } }),
    section('Properties', fieldRows(draft.properties, 'properties', { withAccess: true, readOnly, redraw, noun: 'property' })),
    section('Events', draft.events.map((_, i) => namedBlock(draft.events, i, 'event', choice(draft.events[i], 'severity', EVENT_SEVERITIES, `events[${i}].severity`, { label: `event ${i + 1} severity`, disabled: readOnly }))), addBlock(draft.events, 'event')),
    section('Commands', draft.commands.map((_, i) => namedBlock(draft.commands, i, 'command', null)), addBlock(draft.commands, 'command')),
  ];
}

function clearMarks(form) {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
}

/** Marks the inputs named by validation error paths such as `properties[2].max`. */
function markErrors(form, details) {
  const list = Array.isArray(details) ? details : [];
  let first = null;
  for (const d of list) {
    if (!d || typeof d.path !== 'string') continue;
    const input = form.querySelector(`[data-path="${CSS.escape(d.path)}"]`);
    if (input && input.matches('input, select, textarea')) {
      input.setAttribute('aria-invalid', 'true');
      input.title = d.message;
      first = first || input;
    }
    // The message goes to the nearest row that shows errors: the field's own row or a parent's.
    let p = d.path;
    while (p) {
      const slot = form.querySelector(`[data-error-for="${CSS.escape(p)}"]`);
      if (slot) {
        slot.textContent = [slot.textContent, detailLines(d)[0]].filter(Boolean).join('; ');
        break;
      }
      const parent = p.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
      p = parent === p ? '' : parent;
    }
  }
  first?.focus();
}
