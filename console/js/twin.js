// The device twin as the console holds it: the answer of `GET /devices/{id}/shadow` (or of the
// desired PATCH), kept current by the WebSocket's twin frames.

/** A twin from the API: {reported, desired, delta, version}, each side an object. */
export function twinFrom(body) {
  return {
    reported: { ...(body?.reported || {}) },
    desired: { ...(body?.desired || {}) },
    delta: { ...(body?.delta || {}) },
    version: typeof body?.version === 'number' ? body.version : null,
  };
}

function merge(side, changed) {
  const out = { ...side };
  for (const [k, v] of Object.entries(changed || {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/**
 * Applies a twin change frame's data (`{version, reported, desired, delta}`: the keys that
 * changed on each side, `null` for a removed key, and the whole delta) to `twin`. A change
 * older than the twin held is ignored. Returns the new twin.
 */
export function applyTwinChange(twin, change) {
  if (!change || typeof change !== 'object') return twin;
  if (twin.version !== null && typeof change.version === 'number' && change.version <= twin.version) return twin;
  return {
    reported: merge(twin.reported, change.reported),
    desired: merge(twin.desired, change.desired),
    delta: change.delta ? { ...change.delta } : twin.delta,
    version: typeof change.version === 'number' ? change.version : twin.version,
  };
}
