// Benchmark: drawing a device chart of 7 days in headless Chromium, as the console does it
// (series -> uPlot columns -> chart), for the server-downsampled range (10 min buckets, 1,008
// points) against the raw 1-minute points (10,080) in the same run. Prints times and the ratio.
// Run: node console/tests/bench/chart-render.mjs
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, resolve, dirname, extname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openBrowser } from '../lib/browser.mjs';

const consoleDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
const ROUNDS = 20;

const server = createServer(async (req, res) => {
  const path = normalize(new URL(req.url, 'http://x').pathname).replace(/^(\.\.[/\\])+/, '');
  if (path === '/blank.html') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>chart benchmark</title>');
    return;
  }
  try {
    const body = await readFile(join(consoleDir, path === '/' ? 'index.html' : path));
    res.writeHead(200, { 'content-type': TYPES[extname(path)] || 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const browser = await openBrowser();
try {
  // A blank page of the same origin, so that the console's modules can be imported.
  await browser.page.goto(`http://127.0.0.1:${server.address().port}/blank.html`);
  const result = await browser.page.evaluate(async (rounds) => {
    const { lineChart } = await import('/js/chart.js');
    const { columnsFromSeries } = await import('/js/chartdata.js');
    const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    // uPlot draws in a microtask after construction: a macrotask turn later, the chart is drawn.
    const nextTask = () => new Promise((r) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => r();
      channel.port2.postMessage(null);
    });
    const measure = async (n) => {
      const now = Date.now();
      const week = 7 * 24 * 3600 * 1000;
      const step = week / n; // 10-minute buckets for 1,008 points, 1-minute readings for 10,080
      const points = Array.from({ length: n }, (_, i) => ({ ts: now - (n - i) * step, value: 30 + 10 * Math.sin(i / 50) + Math.random() }));
      const host = document.createElement('div');
      host.style.width = '900px';
      document.body.appendChild(host);
      const times = [];
      for (let k = 0; k < rounds; k++) {
        const t0 = performance.now();
        const chart = lineChart(host, { label: 'pm25', column: columnsFromSeries([{ key: 'pm25', points }]).get('pm25'), spanMs: week });
        await nextTask();
        times.push(performance.now() - t0);
        chart.destroy();
      }
      host.remove();
      return median(times);
    };
    return { downsampled: await measure(1008), raw: await measure(10080) };
  }, ROUNDS);
  console.log(`7 days, server-downsampled (1,008 points): ${result.downsampled.toFixed(1)} ms per chart (median of ${ROUNDS})`);
  console.log(`7 days, raw 1-minute points (10,080):      ${result.raw.toFixed(1)} ms per chart (median of ${ROUNDS})`);
  console.log(`raw / downsampled: ${(result.raw / result.downsampled).toFixed(1)}x`);
} finally {
  await browser.close();
  server.close();
}
