// Headless Debian Chromium driven by playwright-core, with console errors collected and
// screenshots saved under test-artifacts/console/.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Where screenshots go (gitignored). */
export const ARTIFACTS = join(repoRoot, 'test-artifacts', 'console');

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Launches Chromium with a fresh profile. Returns {context, page, problems, screenshot(name),
 * close()}. `problems` collects page errors and console errors; a failed request the test
 * expects (a 4xx it provoked) can be allowed with `allow(urlPart)` until `reset()`.
 */
export async function openBrowser({ width = 1366, height = 900 } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'wanwu-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    viewport: { width, height },
  });
  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  const allowed = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const url = msg.location()?.url || '';
    if (allowed.some((a) => url.includes(a) || msg.text().includes(a))) return;
    problems.push(`console error: ${msg.text()} ${url}`);
  });
  mkdirSync(ARTIFACTS, { recursive: true });
  return {
    context,
    page,
    problems,
    allow: (part) => allowed.push(part),
    /** Forgets every allowance and every problem seen so far (each flow starts clean). */
    reset() {
      allowed.length = 0;
      problems.length = 0;
    },
    screenshot: (name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true }),
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
