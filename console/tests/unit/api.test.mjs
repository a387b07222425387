// The API client against a real HTTP server on a free port.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createApi, ApiError, queryString, listPage, errorFromResponse } from '../../js/api.js';

let server;
let base;
const seen = [];

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body });
      if (req.url.startsWith('/api/v1/bad')) {
        res.writeHead(422, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'invalid_product', message: 'the product is not valid', details: [{ path: 'properties[0].max', message: 'must be at least min' }] } }));
      } else if (req.url.startsWith('/api/v1/plain404')) {
        res.writeHead(404);
        res.end();
      } else if (req.url.startsWith('/api/v1/empty')) {
        res.writeHead(204);
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true }));
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => server.close());

function client(token = 'tok') {
  let unauthorized = 0;
  const api = createApi({ getToken: () => token, onUnauthorized: () => (unauthorized += 1), fetchImpl: (url, init) => fetch(base + url, init) });
  return { api, unauthorized: () => unauthorized };
}

test('requests carry the bearer token, JSON body and query', async () => {
  const { api } = client();
  assert.deepEqual(await api.post('/devices', { id: 'd' }, { query: { x: 1, empty: '', keys: ['a', 'b'] } }), { ok: true });
  const last = seen.at(-1);
  assert.equal(last.method, 'POST');
  assert.equal(last.url, '/api/v1/devices?x=1&keys=a%2Cb');
  assert.equal(last.auth, 'Bearer tok');
  assert.equal(last.type, 'application/json');
  assert.deepEqual(JSON.parse(last.body), { id: 'd' });
  assert.equal(await api.get('/empty'), null);
});

test('error JSON becomes an ApiError with code, message and details', async () => {
  const { api } = client();
  await assert.rejects(api.get('/bad'), (e) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 422);
    assert.equal(e.code, 'invalid_product');
    assert.equal(e.message, 'the product is not valid');
    assert.deepEqual(e.details, [{ path: 'properties[0].max', message: 'must be at least min' }]);
    assert.equal(e.notDeployed, false);
    return true;
  });
  await assert.rejects(api.get('/plain404'), (e) => e.status === 404 && e.code === 'not_found' && e.notDeployed);
});

test('an unreachable server is a network_error', async () => {
  const api = createApi({ getToken: () => 't', fetchImpl: (url, init) => fetch(`http://127.0.0.1:1${url}`, init) });
  await assert.rejects(api.get('/x'), (e) => e.status === 0 && e.code === 'network_error');
});

test('helpers: query strings, list pages and non-JSON errors', () => {
  assert.equal(queryString({}), '');
  assert.equal(queryString({ a: 'x y', b: null }), '?a=x+y');
  assert.deepEqual(listPage({ items: [1], next_cursor: 'c' }), { items: [1], next: 'c', total: null });
  assert.deepEqual(listPage([1, 2]), { items: [1, 2], next: null, total: 2 });
  assert.deepEqual(listPage({ devices: [1], total: 9 }, 'devices'), { items: [1], next: null, total: 9 });
  const e = errorFromResponse(502, 'Bad Gateway', '<html>');
  assert.equal(e.code, 'http_502');
  assert.equal(e.message, '<html>');
});
