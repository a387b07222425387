// Chart data: time ranges with the server-side downsampling interval for each, and columns in
// uPlot's shape ([seconds[], values[]]) built from query answers and extended by live points.

/** The ranges a device chart offers; each asks the server for about 200-1000 buckets. */
export const RANGES = {
  '15m': { label: '15 min', ms: 15 * 60 * 1000, interval: '5s' },
  '1h': { label: '1 h', ms: 60 * 60 * 1000, interval: '15s' },
  '24h': { label: '24 h', ms: 24 * 60 * 60 * 1000, interval: '2m' },
  '7d': { label: '7 d', ms: 7 * 24 * 60 * 60 * 1000, interval: '10m' },
};

/** The query for a range ending now: {from, to, interval, agg}. */
export function rangeQuery(rangeKey, now = Date.now()) {
  const range = RANGES[rangeKey] || RANGES['1h'];
  return { from: now - range.ms, to: now, interval: range.interval, agg: 'avg' };
}

/** Converts a telemetry answer's `series` into a map key -> {xs: seconds[], ys: number[]}. */
export function columnsFromSeries(series) {
  const out = new Map();
  for (const s of series || []) {
    const xs = [];
    const ys = [];
    const points = [...(s.points || [])].sort((a, b) => a.ts - b.ts);
    for (const p of points) {
      const v = typeof p.value === 'number' ? p.value : p.value === null || p.value === undefined ? null : Number(p.value);
      xs.push(p.ts / 1000);
      ys.push(Number.isFinite(v) ? v : null);
    }
    out.set(s.key, { xs, ys });
  }
  return out;
}

/**
 * Adds a live point (ts in ms) to a column in time order (same time: replaced) and drops points
 * older than `fromMs`. Returns the column (mutated).
 */
export function addPoint(column, ts, value, fromMs) {
  const x = ts / 1000;
  const y = typeof value === 'number' && Number.isFinite(value) ? value : null;
  const { xs, ys } = column;
  let i = xs.length;
  while (i > 0 && xs[i - 1] > x) i -= 1;
  if (i > 0 && xs[i - 1] === x) ys[i - 1] = y;
  else {
    xs.splice(i, 0, x);
    ys.splice(i, 0, y);
  }
  if (fromMs !== undefined) {
    const cut = fromMs / 1000;
    let drop = 0;
    while (drop < xs.length && xs[drop] < cut) drop += 1;
    if (drop) {
      xs.splice(0, drop);
      ys.splice(0, drop);
    }
  }
  return column;
}

/**
 * Latest values from `GET /devices/{id}/telemetry/latest`, whatever its shape:
 * `{values: {k: {ts, value}}}`, `{values: {k: v}, ts}`, `{k: {ts, value}}`, `[{key, ts, value}]`
 * or `{series: [{key, points}]}`. Returns a Map key -> {ts, value}.
 */
export function latestFrom(body) {
  const out = new Map();
  if (!body) return out;
  if (Array.isArray(body)) {
    for (const p of body) if (p && p.key !== undefined) out.set(p.key, { ts: p.ts ?? null, value: p.value });
    return out;
  }
  if (Array.isArray(body.series)) {
    for (const s of body.series) {
      const last = (s.points || []).reduce((a, b) => (a && a.ts >= b.ts ? a : b), null);
      if (last) out.set(s.key, { ts: last.ts, value: last.value });
    }
    return out;
  }
  if (Array.isArray(body.values) || Array.isArray(body.latest) || Array.isArray(body.items)) return latestFrom(body.values || body.latest || body.items);
  const values = body.values && typeof body.values === 'object' ? body.values : body.latest && typeof body.latest === 'object' ? body.latest : body;
  for (const [key, v] of Object.entries(values)) {
    if (['device', 'ts', 'tenant'].includes(key) && values === body) continue;
    if (v && typeof v === 'object' && 'value' in v) out.set(key, { ts: v.ts ?? body.ts ?? null, value: v.value });
    else out.set(key, { ts: body.ts ?? null, value: v });
  }
  return out;
}
