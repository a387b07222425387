// Starts a real `wanwu serve` on free ports with a temporary data dir, for end-to-end tests.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

let built = null;

/** The wanwu binary: $WANWU_BIN, or a debug build made once (in $CARGO_TARGET_DIR, else `target`). */
export function wanwuBinary() {
  if (process.env.WANWU_BIN) return process.env.WANWU_BIN;
  if (built) return built;
  const target = process.env.CARGO_TARGET_DIR || join(repoRoot, 'target');
  execFileSync('cargo', ['build', '-p', 'wanwu', '--quiet'], { cwd: repoRoot, stdio: 'inherit', env: { ...process.env, CARGO_TARGET_DIR: target } });
  built = join(target, 'debug', 'wanwu');
  return built;
}

/**
 * Runs `wanwu serve --http 127.0.0.1:0 --mqtt 127.0.0.1:0` and waits for its
 * `wanwu listening http=HOST:PORT mqtt=HOST:PORT` line. Returns {url, mqtt: {host, port},
 * token, stop()}; stop() kills the process and removes the data dir.
 */
export async function startWanwu({ timeoutMs = 60000 } = {}) {
  const bin = wanwuBinary();
  if (!existsSync(bin)) throw new Error(`wanwu binary not found at ${bin}`);
  const data = mkdtempSync(join(tmpdir(), 'wanwu-console-'));
  const token = `test-admin-${randomBytes(12).toString('hex')}`;
  const child = spawn(bin, ['serve', '--data', data, '--http', '127.0.0.1:0', '--mqtt', '127.0.0.1:0'], {
    env: { ...process.env, WANWU_ADMIN_TOKEN: token, RUST_LOG: process.env.RUST_LOG || 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(data, { recursive: true, force: true });
  };
  process.once('exit', stop);
  const ready = await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`wanwu did not report listening within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => /wanwu listening/.test(l) && /http=\S+/.test(l));
      if (line) {
        clearTimeout(timer);
        resolveReady(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => (output += c.toString()));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`wanwu exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  child.stdout.resume();
  child.stderr.resume();
  const http = /http=(\S+)/.exec(ready)[1];
  const mqttAddr = /mqtt=(\S+)/.exec(ready)?.[1];
  const [mqttHost, mqttPort] = mqttAddr ? [mqttAddr.slice(0, mqttAddr.lastIndexOf(':')), Number(mqttAddr.slice(mqttAddr.lastIndexOf(':') + 1))] : [null, null];
  return {
    url: http.startsWith('http') ? http : `http://${http}`,
    mqtt: { host: mqttHost, port: mqttPort },
    token,
    stop,
    output: () => output,
  };
}

/** A small client of the server's REST API for test setup and checks (fetch, bearer token). */
export function restClient(server, token = server.token) {
  const call = async (method, path, body, headers = {}) => {
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, body: json };
  };
  return {
    call,
    /** Calls and insists on a 2xx answer. */
    async ok(method, path, body, headers) {
      const r = await call(method, path, body, headers);
      if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path} -> ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    /** The paths of the server's OpenAPI document (without the /api/v1 prefix). */
    async paths() {
      const r = await call('GET', '/openapi.json');
      if (r.status !== 200) return new Set();
      return new Set(Object.keys(r.body.paths || {}).map((p) => p.replace(/^\/api\/v1/, '')));
    },
  };
}
