// The HTTP client of the platform's REST API: bearer token, JSON in and out, and errors in the
// contract's shape {"error": {"code", "message", "details"}} turned into ApiError.

/** Base path of the REST API. */
export const API_BASE = '/api/v1';

/** An error answered by the API (or a network failure, with status 0). */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** True when the server does not offer the endpoint (a feature not deployed). */
  get notDeployed() {
    return this.status === 404 || this.status === 405 || this.status === 501;
  }
}

/** Builds a query string from an object, skipping empty values; arrays are joined by commas. */
export function queryString(query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.set(key, Array.isArray(value) ? value.join(',') : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Turns a non-2xx response body into an ApiError. */
export function errorFromResponse(status, statusText, bodyText) {
  let parsed;
  try {
    parsed = bodyText ? JSON.parse(bodyText) : undefined;
  } catch {
    parsed = undefined;
  }
  const err = parsed && typeof parsed === 'object' ? parsed.error : undefined;
  if (err && typeof err === 'object') {
    return new ApiError(status, err.code || `http_${status}`, err.message || statusText || `HTTP ${status}`, err.details);
  }
  const message = typeof err === 'string' ? err : bodyText && bodyText.length < 300 ? bodyText : statusText || `HTTP ${status}`;
  return new ApiError(status, status === 404 ? 'not_found' : `http_${status}`, message, undefined);
}

/** Normalises a list answer (`{items, next_cursor}`, `{data}`, or a bare array). */
export function listPage(body, key) {
  if (Array.isArray(body)) return { items: body, next: null, total: body.length };
  const items = (key && body?.[key]) || body?.items || body?.data || body?.results || [];
  const next = body?.next_cursor ?? body?.cursor ?? body?.next ?? null;
  const total = typeof body?.total === 'number' ? body.total : typeof body?.count === 'number' ? body.count : null;
  return { items, next: next || null, total };
}

/** Creates a client. `getToken()` supplies the bearer token; `onUnauthorized()` runs on 401. */
export function createApi({ getToken, onUnauthorized, fetchImpl = (...a) => fetch(...a) } = {}) {
  async function request(method, path, { query, body, headers = {}, signal, raw = false } = {}) {
    const url = (path.startsWith('/api/') || path.startsWith('/metrics') || path.startsWith('/health') ? path : API_BASE + path) + queryString(query);
    const init = { method, headers: { Accept: 'application/json', ...headers }, signal };
    const token = getToken?.();
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      init.headers['Content-Type'] = headers['Content-Type'] || 'application/json';
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    let response;
    try {
      response = await fetchImpl(url, init);
    } catch (e) {
      if (e?.name === 'AbortError') throw e;
      throw new ApiError(0, 'network_error', 'The server could not be reached. Check that wanwu is running.', String(e?.message || e));
    }
    const text = await response.text();
    if (!response.ok) {
      const error = errorFromResponse(response.status, response.statusText, text);
      if (response.status === 401) onUnauthorized?.(error);
      throw error;
    }
    if (raw) return text;
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return {
    request,
    get: (path, opts) => request('GET', path, opts),
    post: (path, body, opts) => request('POST', path, { ...opts, body }),
    put: (path, body, opts) => request('PUT', path, { ...opts, body }),
    patch: (path, body, opts) => request('PATCH', path, { ...opts, body }),
    del: (path, opts) => request('DELETE', path, opts),
  };
}

/** Encodes one path segment (ids may hold characters that are special in URLs). */
export const seg = (id) => encodeURIComponent(id);
