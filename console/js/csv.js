// CSV for bulk device creation: an RFC 4180 parser and the mapping of rows to device objects.

/** Parses CSV text (quoted fields, doubled quotes, CRLF or LF) into rows of strings. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let fieldText = '';
  let quoted = false;
  let i = 0;
  const src = text.replace(/^\uFEFF/, '');
  while (i < src.length) {
    const c = src[i];
    if (quoted) {
      if (c === '"') {
        if (src[i + 1] === '"') {
          fieldText += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else fieldText += c;
      i += 1;
      continue;
    }
    if (c === '"' && fieldText === '') quoted = true;
    else if (c === ',') {
      row.push(fieldText);
      fieldText = '';
    } else if (c === '\n' || c === '\r') {
      row.push(fieldText);
      rows.push(row);
      row = [];
      fieldText = '';
      if (c === '\r' && src[i + 1] === '\n') i += 1;
    } else fieldText += c;
    i += 1;
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (fieldText !== '' || row.length) {
    row.push(fieldText);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0].trim() === ''));
}

/** Columns a device CSV may have; `tag.<name>` columns become tags. */
export const DEVICE_COLUMNS = ['id', 'product', 'name', 'asset', 'lat', 'lon', 'tags'];

/**
 * Turns CSV text into devices for `POST /devices:batch`. The header names the columns
 * (`id` and `product` are required; `tags` holds `k=v;k=v`; `tag.<k>` columns hold one tag each).
 * Returns `{devices, errors}` where each error names its line; nothing is sent when errors exist.
 */
export function devicesFromCsv(text) {
  let rows;
  try {
    rows = parseCsv(text);
  } catch (e) {
    return { devices: [], errors: [{ line: 0, message: e.message }] };
  }
  if (rows.length === 0) return { devices: [], errors: [{ line: 0, message: 'the file is empty' }] };
  const header = rows[0].map((h) => h.trim());
  const errors = [];
  for (const col of header) {
    if (!DEVICE_COLUMNS.includes(col) && !col.startsWith('tag.')) errors.push({ line: 1, message: `unknown column "${col}"` });
  }
  for (const required of ['id', 'product']) {
    if (!header.includes(required)) errors.push({ line: 1, message: `missing column "${required}"` });
  }
  if (errors.length) return { devices: [], errors };
  const devices = [];
  const seen = new Set();
  rows.slice(1).forEach((cells, index) => {
    const line = index + 2;
    if (cells.length !== header.length) {
      errors.push({ line, message: `expected ${header.length} fields, found ${cells.length}` });
      return;
    }
    const rec = Object.fromEntries(header.map((h, i) => [h, cells[i].trim()]));
    const device = { id: rec.id, product: rec.product };
    if (!rec.id) errors.push({ line, message: 'id is empty' });
    if (!rec.product) errors.push({ line, message: 'product is empty' });
    if (rec.id && seen.has(rec.id)) errors.push({ line, message: `duplicate id "${rec.id}"` });
    seen.add(rec.id);
    if (rec.name) device.name = rec.name;
    if (rec.asset) device.asset = rec.asset;
    if (rec.lat || rec.lon) {
      const lat = Number(rec.lat);
      const lon = Number(rec.lon);
      if (rec.lat === '' || rec.lon === '' || !Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
        errors.push({ line, message: 'lat and lon must both be numbers (lat -90..90, lon -180..180)' });
      } else device.location = { lat, lon };
    }
    const tags = {};
    if (rec.tags) {
      for (const pair of rec.tags.split(';').filter((p) => p.trim())) {
        const eq = pair.indexOf('=');
        if (eq <= 0) errors.push({ line, message: `tag "${pair}" is not key=value` });
        else tags[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
      }
    }
    for (const [k, v] of Object.entries(rec)) if (k.startsWith('tag.') && v) tags[k.slice(4)] = v;
    if (Object.keys(tags).length) device.tags = tags;
    devices.push(device);
  });
  if (devices.length === 0 && errors.length === 0) errors.push({ line: 0, message: 'no device rows below the header' });
  return { devices: errors.length ? [] : devices, errors };
}

/** Quotes one value for CSV output. */
export function csvCell(v) {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
