// Map geometry without tiles: an equirectangular projection fitted to the devices' bounds, and
// a colour scale for a property's values.

/**
 * A projection of lat/lon onto a `width` x `height` box with `pad` pixels of margin, keeping
 * distances true at the middle latitude. Returns `(lat, lon) -> {x, y}`.
 */
export function fitProjection(locations, width, height, pad = 24) {
  const valid = locations.filter((l) => Number.isFinite(l?.lat) && Number.isFinite(l?.lon));
  if (valid.length === 0) return () => ({ x: width / 2, y: height / 2 });
  let minLat = Math.min(...valid.map((l) => l.lat));
  let maxLat = Math.max(...valid.map((l) => l.lat));
  let minLon = Math.min(...valid.map((l) => l.lon));
  let maxLon = Math.max(...valid.map((l) => l.lon));
  // A single place (or a line) still gets a visible area around it.
  const minSpan = 0.01;
  if (maxLat - minLat < minSpan) {
    const mid = (maxLat + minLat) / 2;
    minLat = mid - minSpan / 2;
    maxLat = mid + minSpan / 2;
  }
  if (maxLon - minLon < minSpan) {
    const mid = (maxLon + minLon) / 2;
    minLon = mid - minSpan / 2;
    maxLon = mid + minSpan / 2;
  }
  const k = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  const spanX = (maxLon - minLon) * k;
  const spanY = maxLat - minLat;
  const scale = Math.min((width - 2 * pad) / spanX, (height - 2 * pad) / spanY);
  const offX = (width - spanX * scale) / 2;
  const offY = (height - spanY * scale) / 2;
  return (lat, lon) => ({ x: offX + (lon - minLon) * k * scale, y: offY + (maxLat - lat) * scale });
}

const STOPS = [
  [0.0, [68, 1, 84]],
  [0.25, [59, 82, 139]],
  [0.5, [33, 145, 140]],
  [0.75, [94, 201, 98]],
  [1.0, [253, 231, 37]],
];

/** A colour (hex) for `value` between `min` and `max` on a viridis-like scale; grey for none. */
export function colourFor(value, min, max) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '#9aa3ad';
  const t = max > min ? Math.min(1, Math.max(0, (value - min) / (max - min))) : 0.5;
  let i = 1;
  while (i < STOPS.length - 1 && STOPS[i][0] < t) i += 1;
  const [t0, c0] = STOPS[i - 1];
  const [t1, c1] = STOPS[i];
  const f = (t - t0) / (t1 - t0);
  const rgb = c0.map((c, j) => Math.round(c + (c1[j] - c) * f));
  return `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/** Builds the asset tree from a flat list with `parent` ids: roots with `children`, sorted by name. */
export function assetTree(assets) {
  const byId = new Map(assets.map((a) => [a.id, { ...a, children: [] }]));
  const roots = [];
  for (const node of byId.values()) {
    const parent = node.parent ?? node.parent_id;
    if (parent && byId.has(parent) && parent !== node.id) byId.get(parent).children.push(node);
    else roots.push(node);
  }
  const sort = (list) => {
    list.sort((a, b) => String(a.name || a.id).localeCompare(String(b.name || b.id)));
    list.forEach((n) => sort(n.children));
    return list;
  };
  return sort(roots);
}

/** The ids of an asset and all assets below it. */
export function subtreeIds(node) {
  return [node.id, ...node.children.flatMap(subtreeIds)];
}

/** The node with `id` in a tree from `assetTree`, or null. */
export function findAsset(roots, id) {
  for (const node of roots) {
    if (node.id === id) return node;
    const below = findAsset(node.children, id);
    if (below) return below;
  }
  return null;
}
