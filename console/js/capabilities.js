// Which endpoints this server offers, read once from its OpenAPI document, so that pages show a
// calm "not available" state for a feature that is not deployed instead of calling it.

const PREFIX = '/api/v1';

function normalise(path) {
  let p = path.startsWith(PREFIX) ? path.slice(PREFIX.length) : path;
  if (!p.startsWith('/')) p = `/${p}`;
  return p.replace(/\/+$/, '') || '/';
}

function segments(path) {
  return normalise(path).split('/').filter(Boolean);
}

function isParam(segment) {
  return /^\{[^}]+\}$/.test(segment) || /^:[A-Za-z_]+$/.test(segment);
}

/** Matches a concrete or templated path against an OpenAPI path template. */
export function pathMatches(template, path) {
  const a = segments(template);
  const b = segments(path);
  if (a.length !== b.length) return false;
  return a.every((s, i) => s === b[i] || isParam(s) || isParam(b[i]));
}

/**
 * Capabilities built from an OpenAPI document (`null` when the document is not available: then
 * every endpoint is assumed present and pages rely on the API's 404 answers).
 */
export function capabilitiesFrom(openapi) {
  const routes = [];
  if (openapi && typeof openapi.paths === 'object') {
    for (const [path, ops] of Object.entries(openapi.paths)) {
      const methods = Object.keys(ops || {}).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m));
      const query = Object.fromEntries(methods.map((m) => [m, new Set([...(ops.parameters || []), ...(ops[m].parameters || [])].filter((p) => p.in === 'query').map((p) => p.name))]));
      routes.push({ path, methods, query });
    }
  }
  const known = routes.length > 0;
  return {
    known,
    /** True when the server offers `method path` (or when that cannot be known). */
    has(method, path) {
      if (!known) return true;
      const m = method.toLowerCase();
      return routes.some((r) => r.methods.includes(m) && pathMatches(r.path, path));
    },
    /** True when the document lists exactly `method path` (no template standing in for it). */
    hasExact(method, path) {
      const m = method.toLowerCase();
      return routes.some((r) => r.methods.includes(m) && normalise(r.path) === normalise(path));
    },
    /** True when `method path` takes the query parameter `name` (or when that cannot be known). */
    takesQuery(method, path, name) {
      if (!known) return true;
      const m = method.toLowerCase();
      return routes.some((r) => r.methods.includes(m) && pathMatches(r.path, path) && r.query[m].has(name));
    },
    /** The HTTP method the server offers to update `path`, preferring PATCH, then PUT. */
    updateMethod(path) {
      if (!known) return 'PATCH';
      if (this.has('patch', path)) return 'PATCH';
      if (this.has('put', path)) return 'PUT';
      return null;
    },
  };
}
