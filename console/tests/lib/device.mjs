// Runs the simulated device (device.py, paho-mqtt) as a child process.
import { spawn, execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = join(dirname(fileURLToPath(import.meta.url)), 'device.py');

/**
 * Starts a device that publishes telemetry (`ranges`: property -> [low, high]) every
 * `intervalS` and answers commands. Resolves once it is subscribed; returns {lines, stop()}.
 */
export async function startDevice({ host, port, id, token, ranges = {}, intervalS = 1 }) {
  const child = spawn('python3', [script, host, String(port), id, token, JSON.stringify(ranges), String(intervalS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let err = '';
  child.stderr.on('data', (c) => (err += c.toString()));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`device ${id} did not subscribe:\n${lines.join('\n')}\n${err}`)), 30000);
    child.stdout.on('data', (c) => {
      for (const l of c.toString().split('\n').filter(Boolean)) {
        lines.push(l);
        if (l === 'ready') {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`device ${id} exited (${code}):\n${lines.join('\n')}\n${err}`));
    });
  });
  child.removeAllListeners('exit');
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  process.once('exit', stop);
  return { lines, stop };
}

/**
 * A device that posts telemetry over HTTP (`POST /api/v1/devices/{id}/telemetry` with its
 * token) every `intervalMs`. Returns {errors, stop()}; `errors` collects refused posts.
 */
export function startHttpDevice({ url, id, token, ranges, intervalMs = 1000 }) {
  const errors = [];
  const post = async () => {
    const values = Object.fromEntries(Object.entries(ranges).map(([k, [lo, hi]]) => [k, Math.round((lo + Math.random() * (hi - lo)) * 100) / 100]));
    try {
      const res = await fetch(`${url}/api/v1/devices/${encodeURIComponent(id)}/telemetry`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(values) });
      if (!res.ok) errors.push(`${res.status} ${await res.text()}`);
    } catch (e) {
      errors.push(String(e));
    }
  };
  const timer = setInterval(post, intervalMs);
  post();
  return { errors, stop: () => clearInterval(timer) };
}

/**
 * Publishes one message (`payload` as JSON, QoS 1) as device `id` with `mosquitto_pub`, under a
 * client id of its own so that the running device keeps its connection.
 */
export function publishAsDevice({ host, port }, id, token, topic, payload) {
  execFileSync('mosquitto_pub', ['-h', host, '-p', String(port), '-i', `${id}-once-${process.pid}`, '-u', id, '-P', token, '-q', '1', '-t', topic, '-m', JSON.stringify(payload)], { timeout: 20000 });
}
