// Formatting of times and values for display.

/** Milliseconds since the epoch from a number, an RFC 3339 string, or null. */
export function toMillis(t) {
  if (t === null || t === undefined || t === '') return null;
  if (typeof t === 'number') return t;
  const parsed = Date.parse(t);
  return Number.isNaN(parsed) ? null : parsed;
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago"; "never" for no time. */
export function ago(t, now = Date.now()) {
  const ms = toMillis(t);
  if (ms === null) return 'never';
  const s = Math.round((now - ms) / 1000);
  if (s < 0) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** Local date and time, e.g. "2026-11-21 22:55:01". */
export function dateTime(t) {
  const ms = toMillis(t);
  if (ms === null) return '—';
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A property value for display: numbers trimmed, objects as compact JSON. */
export function value(v, unit) {
  if (v === null || v === undefined) return '—';
  let text;
  if (typeof v === 'number') text = Number.isInteger(v) ? String(v) : String(Math.abs(v) >= 100 ? Number(v.toFixed(1)) : Number(v.toPrecision(4)));
  else if (typeof v === 'object') text = v.lat !== undefined && v.lon !== undefined ? `${v.lat}, ${v.lon}` : JSON.stringify(v);
  else text = String(v);
  return unit ? `${text} ${unit}` : text;
}

/** A rate such as "1.2 k/s". */
export function rate(perSecond) {
  if (perSecond === null || perSecond === undefined || Number.isNaN(perSecond)) return '—';
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond < 10 ? perSecond.toFixed(1) : Math.round(perSecond)} /s`;
}
