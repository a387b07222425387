// The signed-in session: the API token kept in sessionStorage for this browser tab, and who the
// token is (tenant, role) as the server tells it.

const TOKEN_KEY = 'wanwu.token';

/** The stored token, or null. */
export function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Keeps the token for this browser session. */
export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

/** Forgets the token. */
export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Paths (in the OpenAPI document) that describe the calling token, in order of preference. */
export const WHOAMI_PATHS = ['/whoami', '/me', '/tokens/self', '/tokens/current', '/tokens/me', '/auth/whoami'];

/** Normalises the server's description of a token into {tenant, role, name, platformAdmin}. */
export function identityFrom(body) {
  const src = body?.token && typeof body.token === 'object' ? body.token : body || {};
  const tenant = src.tenant ?? src.tenant_id ?? body?.tenant ?? 'default';
  return {
    tenant: typeof tenant === 'object' ? tenant.id : tenant,
    role: src.role ?? body?.role ?? 'unknown',
    name: src.name ?? body?.name ?? '',
    platformAdmin: Boolean(src.platform_admin ?? body?.platform_admin),
  };
}

/** True when the role may change things (anything but a viewer). */
export function canWrite(identity) {
  return identity?.role !== 'viewer';
}
