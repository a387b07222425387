// Pure helpers exported by page modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { searchMatches, tagQuery, tagFilter, splitFilters, localMatch } from '../../js/pages/devices.js';
import { ruleMetrics, sampleMessage, dryRunSummary, RULE_TEMPLATE } from '../../js/pages/rules.js';
import { isIngestCounter, rateSource } from '../../js/pages/overview.js';

test('device search matches id or name, ignoring case', () => {
  assert.ok(searchMatches({ id: 'st-12', name: 'Station Twelve' }, 'TWELVE'));
  assert.ok(searchMatches({ id: 'st-12' }, 'st-1'));
  assert.ok(!searchMatches({ id: 'st-12', name: 'x' }, 'pump'));
  assert.ok(searchMatches({ id: 'a' }, '  '));
});

test('tag filters keep key=value pairs; the API gets the first', () => {
  assert.equal(tagFilter(' district=east, junk ,zone=a'), 'district=east,zone=a');
  assert.deepEqual(tagQuery('district=east,zone=a'), { tag: 'district:east' });
  assert.deepEqual(tagQuery(''), {});
});

test('rule metrics are read whatever the server calls them', () => {
  assert.deepEqual(ruleMetrics({ metrics: { evaluations: 5, matches: 2, firings: 1, actions: 2, errors: 1, last_error: { ts: 1, device: 'd1', message: 'boom' } } }), { evaluations: 5, matches: 2, firings: 1, actions: 2, errors: 1, lastError: 'boom (d1)' });
  assert.deepEqual(ruleMetrics({}), { evaluations: 0, matches: 0, firings: 0, actions: 0, errors: 0, lastError: null });
  assert.deepEqual(sampleMessage(RULE_TEMPLATE, 5), { device: 'st-1', ts: 5, values: { pm25: 80.0 } });
  assert.equal(sampleMessage({ trigger: { type: 'message', devices: { ids: ['d9'] } } }).device, 'd9');
});

test('dry-run outcomes are told in one sentence', () => {
  assert.equal(dryRunSummary({ trigger_matched: false }), 'the trigger does not accept this message.');
  assert.equal(dryRunSummary({ trigger_matched: true, condition: false }), 'the condition does not hold.');
  assert.equal(dryRunSummary({ trigger_matched: true, error: 'no such key' }), 'the condition failed: no such key');
  assert.equal(dryRunSummary({ trigger_matched: true, condition: true, fires: true, actions: [{}] }), 'the rule would fire now and plan 1 action(s).');
  assert.equal(dryRunSummary({ trigger_matched: true, condition: true, fires: false, hold_ms: 600000 }), 'the condition holds; the rule fires once it has held for 600 s.');
});

test('the ingest counter is recognised by name', () => {
  assert.ok(isIngestCounter('wanwu_ingest_messages_total'));
  assert.ok(!isIngestCounter('wanwu_ingest_messages_rejected_total'));
  assert.ok(!isIngestCounter('wanwu_mqtt_bytes_total'));
  assert.equal(rateSource('mqtt_messages_received_total{qos="1"} 3\nwanwu_tsdb_points_written_total 9\n').label, 'MQTT messages per second');
  assert.equal(rateSource('wanwu_tsdb_points_written_total 9\nwanwu_ingest_messages_total{proto="mqtt"} 2\n').label, 'Messages per second');
  assert.equal(rateSource('wanwu_http_requests_total 9\n'), null);
});

test('filters the API does not take are applied in the browser', () => {
  const withStatus = splitFilters({ product: 'aq', status: 'online', tags: 'a=b' }, () => true);
  assert.deepEqual(withStatus, { server: { product: 'aq', asset: undefined, tag: 'a:b', status: 'online' }, local: { q: '' }, needsLocal: false });
  const without = splitFilters({ status: 'online', q: 'st' }, (name) => name !== 'status');
  assert.deepEqual(without.local, { q: 'st', status: 'online' });
  assert.ok(without.needsLocal);
  assert.ok(localMatch({ id: 'st-1', status: 'online' }, without.local));
  assert.ok(!localMatch({ id: 'st-1' }, without.local));
});
