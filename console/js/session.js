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

/** The endpoint that describes the calling token. */
export const WHOAMI_PATH = '/whoami';

/**
 * The server's description of the token (`GET /whoami`: {tenant, role, platform_admin,
 * token: {id, name, tenant}}) as {tenant, role, tokenId, name, platformAdmin}.
 */
export function identityFrom(body) {
  return {
    tenant: body?.tenant ?? '?',
    role: body?.role ?? 'unknown',
    tokenId: body?.token?.id ?? '',
    name: body?.token?.name ?? '',
    platformAdmin: Boolean(body?.platform_admin),
  };
}

/** True when the role may change things (admins and operators; viewers only read). */
export function canWrite(identity) {
  return identity?.role === 'admin' || identity?.role === 'operator';
}
