// Devices: search, filters (product, asset, status, tags), cursor pagination, creating one
// device (its token shown once) and bulk creation from CSV.

import { listPage } from '../api.js';
import { h, replace, card, empty, table, errorBox, field, busy, toast, loading } from '../dom.js';
import { devicesFromCsv, csvCell } from '../csv.js';
import { ago } from '../format.js';
import { loadInto, fetchAll } from '../pagekit.js';
import { link } from '../router.js';

/** Page title. */
export const title = 'Devices';

const PAGE_SIZE = 50;

/** Parses a tag filter "k=v, k2=v2" into the query value "k=v,k2=v2" (empty parts dropped). */
export function tagFilter(text) {
  return String(text || '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => /^[^=]+=.*$/.test(p))
    .join(',');
}

function statusBadge(d) {
  const status = d.status || 'offline';
  return h('span', { class: `status status-${status}` }, status);
}

/** Renders the device list. */
export async function render(root, ctx) {
  const q = ctx.query;
  const filters = {
    search: h('input', { type: 'search', name: 'q', value: q.q || '', placeholder: 'id or name', 'aria-label': 'Search devices' }),
    product: h('select', { name: 'product', 'aria-label': 'Product' }, h('option', { value: '' }, 'All products')),
    asset: h('select', { name: 'asset', 'aria-label': 'Asset' }, h('option', { value: '' }, 'All assets')),
    status: h(
      'select',
      { name: 'status', 'aria-label': 'Status' },
      ['', 'online', 'offline'].map((s) => h('option', { value: s, selected: (q.status || '') === s }, s || 'Any status')),
    ),
    tags: h('input', { type: 'text', name: 'tags', value: q.tags || '', placeholder: 'tag: district=east', 'aria-label': 'Tag (key=value)' }),
  };
  const filterForm = h(
    'form',
    {
      class: 'filters',
      role: 'search',
      onsubmit: (e) => {
        e.preventDefault();
        location.hash = link(['devices'], {
          q: filters.search.value.trim(),
          product: filters.product.value,
          asset: filters.asset.value,
          status: filters.status.value,
          tags: tagFilter(filters.tags.value),
        });
      },
    },
    filters.search,
    filters.product,
    filters.asset,
    filters.status,
    filters.tags,
    h('button', { type: 'submit' }, 'Filter'),
  );
  for (const sel of [filters.product, filters.asset, filters.status]) sel.addEventListener('change', () => filterForm.requestSubmit());

  const listHost = h('div', { class: 'list-host' });
  const writeTools = ctx.canWrite ? h('details', { class: 'card add-devices', open: Boolean(q.add) }, h('summary', {}, 'Add devices'), h('div', { class: 'grid two' }, createDeviceCard(ctx), bulkCard(ctx))) : null;
  replace(root, h('div', { class: 'page-head' }, h('h1', {}, 'Devices')), writeTools, card('Find devices', filterForm), listHost);

  fillOptions(ctx, filters.product, '/products', q.product);
  fillOptions(ctx, filters.asset, '/assets', q.asset);

  const { server: query, local, needsLocal } = splitFilters(q, (name) => ctx.caps.takesQuery('get', '/devices', name));
  const cursors = [null];
  let matches = null; // with filters applied here: every matching device, paged here
  const showPage = async (index) => {
    await loadInto(ctx, listHost, {
      feature: 'Devices',
      path: '/devices',
      quiet: index > 0,
      load: async () => {
        let page;
        if (needsLocal) {
          if (!matches) {
            const { items } = await fetchAll(ctx, '/devices', { query, max: SEARCH_MAX });
            matches = items.filter((d) => localMatch(d, local));
          }
          page = { items: matches.slice(index * PAGE_SIZE, (index + 1) * PAGE_SIZE), total: matches.length, next: (index + 1) * PAGE_SIZE < matches.length ? 'more' : null };
        } else {
          const body = await ctx.api.get('/devices', { query: { ...query, limit: PAGE_SIZE, cursor: cursors[index] || undefined }, signal: ctx.signal });
          page = listPage(body);
        }
        cursors[index + 1] = page.next;
        renderList(listHost, page, index, cursors, showPage);
      },
    });
  };
  await showPage(0);
}

/** Most devices searched by text (the search runs over the filtered list in the browser). */
const SEARCH_MAX = 10000;

/** True when a device's id or name contains the search text (case-insensitive). */
export function searchMatches(device, text) {
  const needle = String(text).trim().toLowerCase();
  return !needle || String(device.id).toLowerCase().includes(needle) || String(device.name || '').toLowerCase().includes(needle);
}

/** The API query for a tag filter "k=v": `{tag: "k:v"}` (the first pair; the API filters by one). */
export function tagQuery(text) {
  const first = tagFilter(text).split(',')[0];
  return first ? { tag: first.replace('=', ':') } : {};
}

/** Device list query for the filters: what the API takes, and what is filtered here. */
export function splitFilters(filters, takes) {
  const server = { product: filters.product, asset: filters.asset, ...tagQuery(filters.tags) };
  const local = { q: filters.q || '' };
  if (filters.status) {
    if (takes('status')) server.status = filters.status;
    else local.status = filters.status;
  }
  return { server, local, needsLocal: Boolean(local.q || local.status) };
}

/** True when a device passes the filters applied in the browser. */
export function localMatch(device, local) {
  return searchMatches(device, local.q) && (!local.status || (device.status || 'offline') === local.status);
}

async function fillOptions(ctx, select, path, selected) {
  if (!ctx.caps.has('get', path)) {
    select.disabled = true;
    return;
  }
  try {
    const { items } = await fetchAll(ctx, path, { max: 1000 });
    for (const item of items) select.appendChild(h('option', { value: item.id, selected: item.id === selected }, item.name && item.name !== item.id ? `${item.name} (${item.id})` : item.id));
  } catch (e) {
    if (e?.name === 'AbortError') return;
    select.disabled = true;
  }
}

function renderList(host, page, index, cursors, showPage) {
  if (!page.items.length) {
    replace(host, card('Devices', empty(index === 0 ? 'No devices match. Add devices above, or change the filters.' : 'No more devices.')));
    return;
  }
  const pager = h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', disabled: index === 0, onclick: () => showPage(index - 1) }, '← Previous'),
    h('span', { class: 'muted' }, `Page ${index + 1}${page.total !== null ? ` · ${page.total} devices` : ''}`),
    h('button', { type: 'button', disabled: !cursors[index + 1], onclick: () => showPage(index + 1) }, 'Next →'),
  );
  replace(
    host,
    card(
      'Devices',
      [
        table(
          [
            { label: 'Device', cell: (d) => h('a', { href: link(['devices', d.id]) }, d.name && d.name !== d.id ? `${d.name}` : d.id, d.name && d.name !== d.id ? h('span', { class: 'muted' }, ` ${d.id}`) : null) },
            { label: 'Product', cell: (d) => h('a', { href: link(['products', d.product]) }, d.product) },
            { label: 'Asset', cell: (d) => d.asset || '—' },
            { label: 'Status', cell: statusBadge },
            { label: 'Last seen', cell: (d) => h('span', { title: d.last_seen ? new Date(d.last_seen).toISOString() : '' }, ago(d.last_seen)) },
            { label: 'Tags', cell: (d) => Object.entries(d.tags || {}).map(([k, v]) => h('span', { class: 'tag' }, `${k}=${v}`)) },
          ],
          page.items,
          { caption: 'Devices' },
        ),
        pager,
      ],
    ),
  );
}

function createDeviceCard(ctx) {
  const id = h('input', { name: 'id', required: true, maxlength: 64, pattern: '[A-Za-z0-9_][A-Za-z0-9_.\\-]*', title: 'letters, digits, _ - and .', autocomplete: 'off' });
  const name = h('input', { name: 'name' });
  const product = h('select', { name: 'product', required: true }, h('option', { value: '' }, 'Choose a product'));
  fillOptions(ctx, product, '/products', ctx.query.product);
  const result = h('div', { class: 'form-message' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create device');
  const form = h(
    'form',
    {
      class: 'form',
      'aria-label': 'Create a device',
      onsubmit: async (e) => {
        e.preventDefault();
        replace(result);
        await busy(submit, async () => {
          try {
            const body = { id: id.value.trim(), product: product.value.trim() };
            if (name.value.trim()) body.name = name.value.trim();
            const created = await ctx.api.post('/devices', body);
            replace(result, tokenNotice(created));
            toast(`Device ${created.id} created`, 'ok');
            id.value = '';
            name.value = '';
          } catch (err) {
            if (err?.name === 'AbortError') return;
            replace(result, errorBox(err, 'The device was not created'));
          }
        });
      },
    },
    h('div', { class: 'row' }, field('Id', id), field('Product', product), field('Name (optional)', name)),
    h('div', { class: 'form-actions' }, submit),
    result,
  );
  return card('Create a device', form);
}

/** The one-time device token notice shown after creation or rotation. */
export function tokenNotice(device) {
  return h(
    'div',
    { class: 'notice ok', 'data-device-token': device.token ? 'shown' : 'absent' },
    h('p', {}, 'Device ', h('a', { href: link(['devices', device.id]) }, h('strong', {}, device.id)), ' is ready. Its token is shown only now; store it on the device:'),
    device.token ? h('pre', { class: 'mono secret', tabindex: '0' }, device.token) : h('p', { class: 'muted' }, 'The server returned no token.'),
  );
}

function bulkCard(ctx) {
  const fileInput = h('input', { type: 'file', accept: '.csv,text/csv', 'aria-label': 'CSV file' });
  const text = h('textarea', { rows: 6, class: 'mono', name: 'csv', spellcheck: 'false', placeholder: 'id,product,name,asset,lat,lon,tags\nst-1,aq,Station 1,district-east,31.23,121.47,district=east;kind=roadside' });
  const result = h('div', { class: 'form-message' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create devices');
  fileInput.addEventListener('change', async () => {
    const file = fileInput.files?.[0];
    if (file) text.value = await file.text();
  });
  const supported = ctx.caps.has('post', '/devices:batch');
  const form = h(
    'form',
    {
      class: 'form',
      'aria-label': 'Create devices from CSV',
      onsubmit: async (e) => {
        e.preventDefault();
        const parsed = devicesFromCsv(text.value);
        if (parsed.errors.length) {
          replace(result, errorBox({ message: 'The CSV has problems; nothing was sent.', details: parsed.errors.map((er) => `line ${er.line}: ${er.message}`) }, 'Check the file'));
          return;
        }
        replace(result, loading(`Creating ${parsed.devices.length} devices`));
        await busy(submit, async () => {
          try {
            const answer = await ctx.api.post('/devices:batch', { devices: parsed.devices });
            const created = listPage(answer, 'devices').items;
            replace(result, batchResult(created.length ? created : parsed.devices));
          } catch (err) {
            if (err?.name === 'AbortError') return;
            replace(result, errorBox(err, 'No device was created'));
          }
        });
      },
    },
    h('p', { class: 'muted' }, 'Columns: ', h('code', {}, 'id, product'), ' (required), ', h('code', {}, 'name, asset, lat, lon, tags'), ' (tags as ', h('code', {}, 'k=v;k=v'), ', or one ', h('code', {}, 'tag.<key>'), ' column per tag).'),
    fileInput,
    field('CSV', text),
    h('div', { class: 'form-actions' }, submit),
    result,
  );
  if (!supported) {
    submit.disabled = true;
    result.appendChild(h('p', { class: 'muted' }, 'Bulk creation is not available on this server.'));
  }
  return card('Create devices from CSV', form);
}

function batchResult(devices) {
  const withTokens = devices.filter((d) => d.token);
  return h(
    'div',
    { class: 'notice ok' },
    h('p', {}, `${devices.length} devices created.`),
    withTokens.length
      ? [
          h('p', {}, 'Their tokens are shown only now:'),
          h('pre', { class: 'mono secret', tabindex: '0' }, ['id,token', ...withTokens.map((d) => `${csvCell(d.id)},${csvCell(d.token)}`)].join('\n')),
        ]
      : null,
  );
}

