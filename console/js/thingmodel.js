// The thing model as the console needs it: kinds of inputs for typed fields, reading typed values
// out of form text with range checks, and the product payload built from the editor's draft.

const NUMERIC = new Set(['float', 'double', 'number', 'int', 'integer', 'long']);
const INTEGER = new Set(['int', 'integer', 'long']);
const BOOL = new Set(['bool', 'boolean']);

/** Property types offered by the editor. */
export const PROPERTY_TYPES = ['float', 'int', 'bool', 'string', 'enum', 'geo'];
/** Access modes of a property: reported only, or also settable as desired state. */
export const ACCESS_MODES = ['read', 'read_write'];
/** Event severities. */
export const EVENT_SEVERITIES = ['info', 'warning', 'critical'];

/** True when values of this field are numbers (chartable). */
export function isNumeric(def) {
  return NUMERIC.has(String(def?.type || '').toLowerCase());
}

/** The numeric properties of a product, in model order. */
export function numericProperties(product) {
  return (product?.properties || []).filter(isNumeric);
}

/** True when the property may be set through the desired twin. */
export function isWritable(def) {
  return def?.access === 'read_write';
}

/** Which input a typed field needs: {kind, min, max, step, options}. */
export function inputKind(def) {
  const type = String(def?.type || 'string').toLowerCase();
  if (NUMERIC.has(type)) {
    return { kind: 'number', min: def.min, max: def.max, step: INTEGER.has(type) ? 1 : 'any' };
  }
  if (BOOL.has(type)) return { kind: 'checkbox' };
  if (type === 'enum') return { kind: 'select', options: (def.values || []).map((v) => (typeof v === 'object' ? v.value ?? v.id : v)) };
  if (type === 'geo') return { kind: 'geo' };
  if (type === 'object' || type === 'array' || type === 'json') return { kind: 'json' };
  return { kind: 'text', maxLength: def.max_length ?? def.maxLength };
}

/**
 * Reads one typed value from form input. `raw` is a string (or boolean for a checkbox, or
 * {lat, lon} strings for geo). Returns {value} or {error}; {skip: true} for an empty optional.
 */
export function readValue(def, raw) {
  const { kind, min, max } = inputKind(def);
  const type = String(def?.type || 'string').toLowerCase();
  if (kind === 'checkbox') return { value: Boolean(raw) };
  if (kind === 'geo') {
    if ((raw?.lat ?? '') === '' && (raw?.lon ?? '') === '') return def.required ? { error: 'is required' } : { skip: true };
    const lat = Number(raw.lat);
    const lon = Number(raw.lon);
    if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
      return { error: 'needs lat (-90..90) and lon (-180..180)' };
    }
    return { value: { lat, lon } };
  }
  const text = typeof raw === 'string' ? raw.trim() : raw;
  if (text === '' || text === undefined || text === null) return def.required ? { error: 'is required' } : { skip: true };
  if (kind === 'number') {
    const n = Number(text);
    if (!Number.isFinite(n)) return { error: 'must be a number' };
    if (INTEGER.has(type) && !Number.isInteger(n)) return { error: 'must be a whole number' };
    if (min !== undefined && min !== null && n < min) return { error: `must be at least ${min}` };
    if (max !== undefined && max !== null && n > max) return { error: `must be at most ${max}` };
    return { value: n };
  }
  if (kind === 'select') {
    const options = inputKind(def).options;
    if (!options.map(String).includes(String(text))) return { error: `must be one of ${options.join(', ')}` };
    const original = options.find((o) => String(o) === String(text));
    return { value: original };
  }
  if (kind === 'json') {
    try {
      return { value: JSON.parse(text) };
    } catch (e) {
      return { error: `is not valid JSON (${e.message})` };
    }
  }
  return { value: String(text) };
}

/** Reads all params of a command or event: {values, errors: {paramId: message}}. */
export function readParams(params, rawById) {
  const values = {};
  const errors = {};
  for (const def of params || []) {
    const result = readValue(def, rawById[def.id]);
    if (result.error) errors[def.id] = `${def.name || def.id} ${result.error}`;
    else if (!result.skip) values[def.id] = result.value;
  }
  return { values, errors };
}

/** A short description of a field's type and range, e.g. "int 1..10" or "enum: on, off". */
export function describeType(def) {
  const type = def?.type || 'string';
  if (type === 'enum') return `enum: ${(def.values || []).map((v) => (typeof v === 'object' ? v.value ?? v.id : v)).join(', ')}`;
  const hasMin = def?.min !== undefined && def?.min !== null;
  const hasMax = def?.max !== undefined && def?.max !== null;
  const range = hasMin || hasMax ? ` ${hasMin ? def.min : ''}..${hasMax ? def.max : ''}` : '';
  return `${type}${range}${def?.unit ? ` ${def.unit}` : ''}`;
}

function numberOrUndefined(v) {
  if (v === '' || v === undefined || v === null) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : v; // a non-number is sent as is so that the API names the error
}

function cleanField(f, { withAccess }) {
  const out = { id: (f.id || '').trim(), name: (f.name || '').trim() || undefined, type: f.type || 'float' };
  if (f.unit) out.unit = f.unit.trim();
  if (out.type === 'enum') {
    const values = Array.isArray(f.values) ? f.values : String(f.values || '').split(',');
    out.values = values.map((v) => String(v).trim()).filter(Boolean);
  } else if (NUMERIC.has(out.type)) {
    const min = numberOrUndefined(f.min);
    const max = numberOrUndefined(f.max);
    const step = numberOrUndefined(f.step);
    if (min !== undefined) out.min = min;
    if (max !== undefined) out.max = max;
    if (step !== undefined) out.step = step;
  }
  if (withAccess && f.access) out.access = f.access;
  if (f.description) out.description = f.description;
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

/** The API payload for a product from the editor's draft (strings from inputs made typed). */
export function productPayload(draft) {
  const payload = {
    id: (draft.id || '').trim(),
    name: (draft.name || '').trim(),
    properties: (draft.properties || []).map((p) => cleanField(p, { withAccess: true })),
    events: (draft.events || []).map((e) => {
      const out = { id: (e.id || '').trim(), name: (e.name || '').trim() || undefined, severity: e.severity || 'info', params: (e.params || []).map((p) => cleanField(p, { withAccess: false })) };
      if (!out.name) delete out.name;
      return out;
    }),
    commands: (draft.commands || []).map((c) => {
      const out = {
        id: (c.id || '').trim(),
        name: (c.name || '').trim() || undefined,
        params: (c.params || []).map((p) => cleanField(p, { withAccess: false })),
        response: (c.response || []).map((p) => cleanField(p, { withAccess: false })),
      };
      if (!out.name) delete out.name;
      return out;
    }),
  };
  if (draft.description) payload.description = draft.description;
  return payload;
}

/** A draft for the editor from a product returned by the API (deep copy, enum values joined). */
export function draftFromProduct(product) {
  const copyField = (f) => ({ ...f, values: Array.isArray(f.values) ? f.values.map((v) => (typeof v === 'object' ? v.value ?? v.id : v)).join(', ') : f.values });
  return {
    id: product?.id || '',
    name: product?.name || '',
    description: product?.description || '',
    properties: (product?.properties || []).map(copyField),
    events: (product?.events || []).map((e) => ({ ...e, params: (e.params || []).map(copyField) })),
    commands: (product?.commands || []).map((c) => ({ ...c, params: (c.params || []).map(copyField), response: (c.response || []).map(copyField) })),
  };
}

/** The body of an update (`PATCH /products/{id}`): the payload without its id. */
export function productPatch(draft) {
  const { id: _id, ...patch } = productPayload(draft);
  return patch;
}
