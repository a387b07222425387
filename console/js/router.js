// Hash routing: `#/devices/st-1?status=online` -> {page, params: {id: 'st-1'}, query}.

/** Parses a location hash into a path (without leading slash) and query parameters. */
export function parseHash(hash) {
  const text = (hash || '').replace(/^#/, '').replace(/^\/+/, '');
  const [path, search = ''] = text.split('?', 2);
  const query = Object.fromEntries(new URLSearchParams(search));
  return { path: path.replace(/\/+$/, ''), query };
}

/**
 * Finds the route for a hash. `routes` is a list of `[pattern, page]` where a pattern is like
 * `devices/:id`; returns `{page, params, query}` or null.
 */
export function matchRoute(routes, hash) {
  const { path, query } = parseHash(hash);
  const parts = path ? path.split('/') : [];
  for (const [pattern, page] of routes) {
    const want = pattern ? pattern.split('/') : [];
    if (want.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < want.length; i++) {
      if (want[i].startsWith(':')) {
        try {
          params[want[i].slice(1)] = decodeURIComponent(parts[i]);
        } catch {
          ok = false;
        }
      } else if (want[i] !== parts[i]) ok = false;
      if (!ok) break;
    }
    if (ok) return { page, params, query };
  }
  return null;
}

/** Builds a hash link from path segments (each encoded) and an optional query object. */
export function link(segments, query) {
  const path = segments.map((s) => encodeURIComponent(s)).join('/');
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString() : '';
  return `#/${path}${q ? `?${q}` : ''}`;
}
