// Live data over the platform's WebSocket (`/api/v1/ws`): one connection per page, its
// subscriptions sent on every (re)connect, data frames normalised to {kind, device, ts, data},
// reconnect with backoff.
//
// Protocol: the client sends `{"type": "subscribe", "id": "s1", "devices": ["d1"], "kinds":
// ["telemetry", "event"]}`; the server answers `ready`/`subscribed` control frames and data
// frames `{"type": "telemetry", "subscriptions": ["s1"], "device": "d1", "ts": ..., "values":
// {...}}` or `{"type": "event" | "presence" | "twin" | "alarm" | "command", ..., "data": {...}}`.

const CONTROL_FRAMES = new Set(['ready', 'subscribed', 'unsubscribed', 'pong']);

/** Close codes after which reconnecting cannot help: the token is refused or not allowed. */
const FINAL_CLOSE_CODES = new Set([1008, 4001, 4003]);

/**
 * Normalises one server frame into {kind, device, ts, data} (`data` is a telemetry frame's
 * `values`, else the notice's `data`); null for control frames.
 */
export function normaliseFrame(frame) {
  if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') return null;
  if (CONTROL_FRAMES.has(frame.type)) return null;
  if (frame.type === 'error') return { kind: 'error', device: null, ts: Date.now(), data: frame.error ?? frame };
  const data = frame.type === 'telemetry' ? frame.values : frame.data;
  return { kind: frame.type, device: frame.device ?? null, ts: frame.ts ?? Date.now(), data: data ?? {} };
}

/** A subscribe frame for `devices` (ids) and `kinds`; `all` subscribes to the whole tenant. */
export function subscribeFrame(id, { devices = [], kinds, all = false } = {}) {
  return { type: 'subscribe', id, ...(all ? { all: true } : { devices }), ...(kinds ? { kinds } : {}) };
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
      if (FINAL_CLOSE_CODES.has(event.code)) {
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
