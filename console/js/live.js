// Live data over the platform's WebSocket (`/api/v1/ws`): one connection per page, subscriptions
// sent on (re)connect, frames normalised to {kind, device, ts, data}, reconnect with backoff.

/** Normalises one server frame into {kind, device, ts, data}, or null for control frames. */
export function normaliseFrame(frame) {
  if (!frame || typeof frame !== 'object') return null;
  const kind = frame.kind ?? frame.type ?? frame.topic ?? frame.channel;
  if (!kind || ['subscribed', 'unsubscribed', 'pong', 'hello', 'ack', 'ok'].includes(kind)) return null;
  if (kind === 'error') return { kind: 'error', device: null, ts: Date.now(), data: frame.error ?? frame.message ?? frame };
  const device = frame.device ?? frame.device_id ?? frame.data?.device ?? null;
  const ts = frame.ts ?? frame.data?.ts ?? Date.now();
  const data = frame.data ?? frame.payload ?? frame.values ?? frame;
  return { kind: String(kind).replace(/-/g, '_'), device, ts, data };
}

/** The WebSocket URL for the page's origin, with the token in the query. */
export function liveUrl(loc, token) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/api/v1/ws?token=${encodeURIComponent(token)}`;
}

/**
 * Opens the live connection. `subscriptions` is a list of subscribe frames sent after each
 * connect. `onFrame(normalised)` gets data; `onState('connecting'|'open'|'closed'|'failed')`
 * reports the connection. Returns {close()}.
 */
export function openLive({ token, subscriptions, onFrame, onState = () => {} }) {
  let socket = null;
  let closed = false;
  let attempt = 0;
  let timer = null;

  function connect() {
    if (closed) return;
    onState('connecting');
    socket = new WebSocket(liveUrl(location, token));
    socket.addEventListener('open', () => {
      attempt = 0;
      onState('open');
      for (const sub of subscriptions) socket.send(JSON.stringify(sub));
    });
    socket.addEventListener('message', (event) => {
      let parsed;
      try {
        parsed = JSON.parse(event.data);
      } catch {
        return;
      }
      for (const frame of Array.isArray(parsed) ? parsed : [parsed]) {
        const normalised = normaliseFrame(frame);
        if (normalised) onFrame(normalised);
      }
    });
    socket.addEventListener('close', (event) => {
      if (closed) return;
      // 1008: policy (bad token); 4401/4403: not allowed. Retrying would not help.
      if (event.code === 1008 || event.code === 4401 || event.code === 4403) {
        onState('failed');
        return;
      }
      onState('closed');
      attempt += 1;
      timer = setTimeout(connect, Math.min(30000, 500 * 2 ** attempt));
    });
  }

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (socket && socket.readyState <= 1) socket.close(1000, 'page left');
    },
  };
}
