// Assets: the tree (city -> district -> site) and a tile-free map of devices by location,
// coloured by a chosen numeric property.

import { seg } from '../api.js';
import { h, replace, card, empty, errorBox, busy, toast, field, loading } from '../dom.js';
import { latestFrom } from '../chartdata.js';
import { value as fmtValue } from '../format.js';
import { assetTree, subtreeIds, fitProjection, colourFor, findAsset } from '../geo.js';
import { fetchAll, loadInto } from '../pagekit.js';
import { link } from '../router.js';
import { numericProperties } from '../thingmodel.js';

/** Page title. */
export const title = 'Assets';

const SVG = 'http://www.w3.org/2000/svg';
const MAP_W = 800;
const MAP_H = 480;
const MAX_MAP_DEVICES = 2000;

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

/** Renders the assets page. */
export async function render(root, ctx) {
  const treeHost = h('div', { class: 'tree-host' });
  const mapHost = h('div', { class: 'map-host' });
  const controls = h('div', { class: 'map-controls' });
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Assets')),
    h('div', { class: 'grid assets-grid' }, card('Asset tree', treeHost), card('Map', [controls, mapHost])),
    ctx.canWrite && ctx.caps.has('post', '/assets') ? createAssetCard(ctx) : null,
  );
  const assets = await loadInto(ctx, treeHost, { feature: 'Assets', path: '/assets', load: async () => (await fetchAll(ctx, '/assets', { max: 5000 })).items });
  let devices = [];
  try {
    devices = (await fetchAll(ctx, '/devices', { max: MAX_MAP_DEVICES })).items;
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    replace(mapHost, errorBox(e, 'Devices could not be loaded'));
    return;
  }
  const roots = assetTree(assets || []);
  const state = { selected: ctx.query.asset || null, property: ctx.query.property || '' };
  const mapView = createMap(ctx, mapHost, controls, devices, assets || [], state);
  if (assets) {
    drawTree(treeHost, roots, devices, state, (id) => {
      state.selected = id;
      mapView.redraw();
    });
  }
  await mapView.redraw();
}

function drawTree(host, roots, devices, state, onSelect) {
  if (!roots.length) {
    replace(host, empty('No assets yet. Assets group devices by place: city, district, site.'));
    return;
  }
  const countBelow = (node) => {
    const ids = new Set(subtreeIds(node));
    return devices.filter((d) => ids.has(d.asset)).length;
  };
  const nodeEl = (node) => {
    const label = h(
      'button',
      {
        type: 'button',
        class: `tree-label${state.selected === node.id ? ' selected' : ''}`,
        'aria-pressed': String(state.selected === node.id),
        dataset: { asset: node.id },
        onclick: () => {
          for (const b of host.querySelectorAll('.tree-label')) {
            b.classList.toggle('selected', b === label);
            b.setAttribute('aria-pressed', String(b === label));
          }
          onSelect(node.id);
        },
      },
      node.name || node.id,
      ' ',
      h('span', { class: 'muted small' }, `${node.kind || ''} · ${countBelow(node)} devices`),
    );
    if (!node.children.length) return h('li', {}, label);
    return h('li', {}, h('details', { open: true }, h('summary', {}, label), h('ul', {}, node.children.map(nodeEl))));
  };
  replace(
    host,
    h(
      'button',
      {
        type: 'button',
        class: 'small secondary',
        onclick: () => {
          for (const b of host.querySelectorAll('.tree-label')) b.classList.remove('selected');
          onSelect(null);
        },
      },
      'Show all',
    ),
    h('ul', { class: 'tree', 'aria-label': 'Assets' }, roots.map(nodeEl)),
  );
}

function createMap(ctx, host, controls, devices, assets, state) {
  const products = new Map();
  const latestByDevice = new Map();
  const propertySelect = h('select', { 'aria-label': 'Colour by property', dataset: { role: 'colour-by' } }, h('option', { value: '' }, 'status (online/offline)'));
  replace(controls, field('Colour by', propertySelect));
  propertySelect.addEventListener('change', () => {
    state.property = propertySelect.value;
    redraw();
  });

  async function ensureProducts(list) {
    const missing = [...new Set(list.map((d) => d.product))].filter((p) => !products.has(p));
    await Promise.all(
      missing.map(async (p) => {
        try {
          products.set(p, await ctx.api.get(`/products/${seg(p)}`, { signal: ctx.signal }));
        } catch (e) {
          if (e?.name === 'AbortError') throw e;
          products.set(p, null);
        }
      }),
    );
    const options = new Map();
    for (const prod of products.values()) for (const prop of numericProperties(prod)) options.set(prop.id, prop);
    const current = propertySelect.value || state.property;
    replace(propertySelect, h('option', { value: '' }, 'status (online/offline)'), [...options.values()].map((p) => h('option', { value: p.id, selected: p.id === current }, `${p.name || p.id}${p.unit ? ` (${p.unit})` : ''}`)));
  }

  async function ensureLatest(list) {
    const missing = list.filter((d) => !latestByDevice.has(d.id));
    if (!missing.length || !ctx.caps.has('get', '/devices/x/telemetry/latest')) return;
    const queue = [...missing];
    const worker = async () => {
      while (queue.length) {
        const d = queue.shift();
        try {
          latestByDevice.set(d.id, latestFrom(await ctx.api.get(`/devices/${seg(d.id)}/telemetry/latest`, { signal: ctx.signal })));
        } catch (e) {
          if (e?.name === 'AbortError') throw e;
          latestByDevice.set(d.id, new Map());
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
  }

  async function redraw() {
    const selected = state.selected ? findAsset(assetTree(assets), state.selected) : null;
    const ids = state.selected ? new Set(selected ? subtreeIds(selected) : [state.selected]) : null;
    const shown = devices.filter((d) => d.location && (!ids || ids.has(d.asset)));
    if (!shown.length) {
      replace(host, empty(devices.some((d) => d.location) ? 'No device of this asset has a location.' : 'No device has a location yet. Give devices a location (lat, lon) to see them here.'));
      return;
    }
    replace(host, loading('Drawing map'));
    await ensureProducts(shown);
    if (state.property) await ensureLatest(shown);
    const key = state.property;
    const values = shown.map((d) => latestByDevice.get(d.id)?.get(key)?.value).filter((v) => typeof v === 'number');
    const min = values.length ? Math.min(...values) : 0;
    const max = values.length ? Math.max(...values) : 1;
    const project = fitProjection([...shown.map((d) => d.location), ...assets.filter((a) => a.location && (!ids || ids.has(a.id))).map((a) => a.location)], MAP_W, MAP_H, 32);
    const grid = svg('g', { class: 'map-grid' });
    for (let i = 1; i < 8; i++) grid.appendChild(svg('line', { x1: (MAP_W / 8) * i, y1: 0, x2: (MAP_W / 8) * i, y2: MAP_H }));
    for (let i = 1; i < 5; i++) grid.appendChild(svg('line', { x1: 0, y1: (MAP_H / 5) * i, x2: MAP_W, y2: (MAP_H / 5) * i }));
    const assetLayer = svg('g', { class: 'map-assets' });
    const labelled = [];
    for (const a of assets) {
      if (!a.location || (ids && !ids.has(a.id))) continue;
      const p = project(a.location.lat, a.location.lon);
      const free = labelled.every((q) => Math.abs(q.x - p.x) > 90 || Math.abs(q.y - p.y) > 18);
      if (free) labelled.push(p);
      assetLayer.appendChild(svg('g', {}, svg('circle', { cx: p.x, cy: p.y, r: 14, class: 'asset-ring' }, svg('title', {}, a.name || a.id)), free ? svg('text', { x: p.x + 16, y: p.y - 10, class: 'asset-label' }, a.name || a.id) : null));
    }
    const dots = svg('g', { class: 'map-devices' });
    for (const d of shown) {
      const p = project(d.location.lat, d.location.lon);
      const v = key ? latestByDevice.get(d.id)?.get(key)?.value : undefined;
      const fill = key ? colourFor(v, min, max) : d.status === 'online' ? '#2b8a3e' : '#9aa3ad';
      const label = `${d.name || d.id}: ${key ? fmtValue(v) : d.status || 'offline'}`;
      dots.appendChild(svg('a', { href: link(['devices', d.id]), 'aria-label': label }, svg('circle', { cx: p.x, cy: p.y, r: 6, fill, class: 'device-dot', 'data-device': d.id }, svg('title', {}, label))));
    }
    const map = svg('svg', { viewBox: `0 0 ${MAP_W} ${MAP_H}`, class: 'map', role: 'img', 'aria-label': `Map of ${shown.length} devices` }, svg('rect', { x: 0, y: 0, width: MAP_W, height: MAP_H, class: 'map-bg' }), grid, assetLayer, dots);
    replace(host, map, legend(key, min, max, values.length, shown.length));
  }

  return { redraw };
}

function legend(key, min, max, withValue, total) {
  if (key && !withValue) return h('div', { class: 'legend' }, h('span', { class: 'swatch', style: { background: '#9aa3ad' } }), h('span', { class: 'muted' }, `No device shown has a ${key} value yet.`));
  if (!key) {
    return h('div', { class: 'legend' }, h('span', { class: 'swatch', style: { background: '#2b8a3e' } }), 'online ', h('span', { class: 'swatch', style: { background: '#9aa3ad' } }), 'offline', h('span', { class: 'muted small' }, ` · ${total} devices`));
  }
  const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => colourFor(min + (max - min) * t, min, max));
  return h(
    'div',
    { class: 'legend' },
    h('span', {}, fmtValue(min)),
    h('span', { class: 'gradient', style: { background: `linear-gradient(to right, ${stops.join(', ')})` } }),
    h('span', {}, fmtValue(max)),
    h('span', { class: 'muted small' }, ` · ${key}: ${withValue} of ${total} devices have a value`),
  );
}

function createAssetCard(ctx) {
  const id = h('input', { name: 'id', required: true });
  const name = h('input', { name: 'name', required: true });
  const kind = h('select', { name: 'kind' }, ['city', 'district', 'street', 'site', 'building', 'line'].map((k) => h('option', { value: k }, k)));
  const parent = h('input', { name: 'parent', placeholder: 'parent asset id (empty for a root)' });
  const lat = h('input', { name: 'lat', type: 'number', step: 'any', placeholder: 'lat' });
  const lon = h('input', { name: 'lon', type: 'number', step: 'any', placeholder: 'lon' });
  const message = h('div', { class: 'form-message' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create asset');
  const form = h(
    'form',
    {
      class: 'form',
      'aria-label': 'Create an asset',
      onsubmit: async (e) => {
        e.preventDefault();
        const body = { id: id.value.trim(), name: name.value.trim(), kind: kind.value };
        if (parent.value.trim()) body.parent = parent.value.trim();
        if (lat.value !== '' || lon.value !== '') body.location = { lat: Number(lat.value), lon: Number(lon.value) };
        await busy(submit, async () => {
          try {
            await ctx.api.post('/assets', body);
            toast(`Asset ${body.id} created`, 'ok');
            window.dispatchEvent(new HashChangeEvent('hashchange'));
          } catch (err) {
            if (err?.name !== 'AbortError') replace(message, errorBox(err, 'The asset was not created'));
          }
        });
      },
    },
    h('div', { class: 'row' }, field('Id', id), field('Name', name), field('Kind', kind), field('Parent', parent)),
    h('div', { class: 'row' }, field('Latitude', lat), field('Longitude', lon)),
    h('div', { class: 'form-actions' }, submit),
    message,
  );
  return card('Create an asset', form);
}
