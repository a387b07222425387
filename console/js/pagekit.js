// What pages share: loading a feature's data with the calm "not available" state, paging
// through lists, and Prometheus text for live rates.

import { listPage } from './api.js';
import { replace, loading, unavailable, errorBox } from './dom.js';

/**
 * Loads data for one part of a page into `host`: shows loading, then returns the data; on a
 * feature the server does not offer, shows "not available" and returns undefined; on another
 * error, shows it and returns undefined. AbortError (page left) propagates.
 */
export async function loadInto(ctx, host, { feature, path, method = 'get', load, quiet = false }) {
  if (!ctx.caps.has(method, path)) {
    replace(host, unavailable(feature));
    return undefined;
  }
  if (!quiet) replace(host, loading());
  try {
    return await load();
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    if (e?.notDeployed && ctx.caps.known === false) replace(host, unavailable(feature));
    else replace(host, errorBox(e, `${feature} could not be loaded`));
    return undefined;
  }
}

/** Fetches every page of a list (up to `max` items); returns {items, truncated}. */
export async function fetchAll(ctx, path, { query = {}, key, max = 5000, pageSize = 500 } = {}) {
  const items = [];
  let cursor;
  for (;;) {
    const body = await ctx.api.get(path, { query: { ...query, limit: pageSize, cursor }, signal: ctx.signal });
    const page = listPage(body, key);
    items.push(...page.items);
    if (!page.next || items.length >= max || page.items.length === 0) return { items: items.slice(0, max), truncated: Boolean(page.next) && items.length >= max };
    cursor = page.next;
  }
}

/** Sums the samples of Prometheus counters whose name satisfies `accept` (labels ignored). */
export function counterSum(text, accept) {
  let sum = 0;
  let found = false;
  for (const line of String(text).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eE]+|NaN|[+-]?Inf)/.exec(line);
    if (!match || !accept(match[1], match[2] || '')) continue;
    const v = Number(match[3]);
    if (Number.isFinite(v)) {
      sum += v;
      found = true;
    }
  }
  return found ? sum : null;
}

/** Turns two successive counter readings into a rate per second (null when unknown or reset). */
export function ratePerSecond(prev, next) {
  if (!prev || !next || prev.value === null || next.value === null) return null;
  const dt = (next.at - prev.at) / 1000;
  if (dt <= 0 || next.value < prev.value) return null;
  return (next.value - prev.value) / dt;
}

/**
 * `fn` run at most once per `ms`: a call while it is resting runs once when the rest ends (live
 * frames may arrive many times a second; a list is reloaded once for them).
 */
export function throttled(fn, ms = 1000) {
  let resting = false;
  let pending = false;
  const run = async () => {
    resting = true;
    try {
      await fn();
    } catch {
      /* the caller's loader shows its own errors */
    }
    setTimeout(() => {
      resting = false;
      if (pending) {
        pending = false;
        run();
      }
    }, ms);
  };
  return () => {
    if (resting) pending = true;
    else run();
  };
}
