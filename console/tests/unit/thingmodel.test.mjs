import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inputKind, readValue, readParams, numericProperties, isWritable, productPayload, productPatch, draftFromProduct, describeType } from '../../js/thingmodel.js';

const blink = [
  { id: 'times', type: 'int', min: 1, max: 10 },
  { id: 'colour', type: 'enum', values: ['red', 'green'] },
  { id: 'loud', type: 'bool' },
  { id: 'note', type: 'string' },
  { id: 'level', type: 'float', min: 0 },
  { id: 'at', type: 'geo' },
];

test('each type gets its kind of input', () => {
  assert.deepEqual(inputKind({ type: 'int', min: 1, max: 10 }), { kind: 'number', min: 1, max: 10, step: 1 });
  assert.equal(inputKind({ type: 'float' }).step, 'any');
  assert.equal(inputKind({ type: 'bool' }).kind, 'checkbox');
  assert.deepEqual(inputKind({ type: 'enum', values: ['a', 'b'] }), { kind: 'select', options: ['a', 'b'] });
  assert.equal(inputKind({ type: 'geo' }).kind, 'geo');
  assert.equal(inputKind({ type: 'string' }).kind, 'text');
});

test('form text becomes typed params; empty optional params are left out', () => {
  const { values, errors } = readParams(blink, { times: '3', colour: 'green', loud: true, note: '', level: '0.5', at: { lat: '31.2', lon: '121.5' } });
  assert.deepEqual(errors, {});
  assert.deepEqual(values, { times: 3, colour: 'green', loud: true, level: 0.5, at: { lat: 31.2, lon: 121.5 } });
});

test('out of range, wrong type and unknown enum values are named per param', () => {
  const { values, errors } = readParams(blink, { times: '11', colour: 'blue', loud: false, note: 'x', level: '-1', at: { lat: '95', lon: '0' } });
  assert.equal(errors.times, 'times must be at most 10');
  assert.equal(errors.colour, 'colour must be one of red, green');
  assert.equal(errors.level, 'level must be at least 0');
  assert.match(errors.at, /lat \(-90..90\)/);
  assert.deepEqual(values, { loud: false, note: 'x' });
  assert.deepEqual(readValue({ type: 'int' }, '2.5'), { error: 'must be a whole number' });
  assert.deepEqual(readValue({ type: 'float' }, 'abc'), { error: 'must be a number' });
});

test('numeric and writable properties are recognised', () => {
  const product = { properties: [{ id: 'pm25', type: 'float' }, { id: 'on', type: 'bool', access: 'read_write' }, { id: 'n', type: 'int', access: 'read_write' }] };
  assert.deepEqual(numericProperties(product).map((p) => p.id), ['pm25', 'n']);
  assert.deepEqual(product.properties.filter(isWritable).map((p) => p.id), ['on', 'n']);
});

test('the editor draft round-trips to the API payload with typed numbers and enum lists', () => {
  const product = {
    id: 'aq', name: 'Air station', tenant: 'default', created_at: 1, updated_at: 2,
    properties: [{ id: 'pm25', name: 'PM2.5', type: 'float', unit: 'ug/m3', min: 0, max: 1000, access: 'read' }, { id: 'mode', type: 'enum', values: ['auto', 'off'], access: 'read_write' }],
    events: [{ id: 'fail', name: 'Failure', severity: 'critical', params: [{ id: 'code', type: 'int' }] }],
    commands: [{ id: 'blink', params: [{ id: 'times', type: 'int', min: 1, max: 10 }], response: [] }],
  };
  const draft = draftFromProduct(product);
  assert.equal(draft.properties[1].values, 'auto, off');
  draft.properties[0].min = '5';
  draft.properties.push({ id: ' temp ', name: '', type: 'float', min: '', max: 'x' });
  const payload = productPayload(draft);
  assert.deepEqual(payload.properties[0], { id: 'pm25', name: 'PM2.5', type: 'float', unit: 'ug/m3', min: 5, max: 1000, access: 'read' });
  assert.deepEqual(payload.properties[1], { id: 'mode', type: 'enum', values: ['auto', 'off'], access: 'read_write' });
  // A value that is not a number is sent as typed, so that the API names the field.
  assert.deepEqual(payload.properties[2], { id: 'temp', type: 'float', max: 'x' });
  assert.deepEqual(payload.events, [{ id: 'fail', name: 'Failure', severity: 'critical', params: [{ id: 'code', type: 'int' }] }]);
  assert.deepEqual(payload.commands, [{ id: 'blink', params: [{ id: 'times', type: 'int', min: 1, max: 10 }], response: [] }]);
  assert.equal(payload.tenant, undefined);
  const patch = productPatch(draft);
  assert.equal(patch.id, undefined);
  assert.equal(patch.name, 'Air station');
});

test('types are described with their ranges', () => {
  assert.equal(describeType({ type: 'int', min: 1, max: 10 }), 'int 1..10');
  assert.equal(describeType({ type: 'float', min: 0, unit: 'ug/m3' }), 'float 0.. ug/m3');
  assert.equal(describeType({ type: 'enum', values: ['a', 'b'] }), 'enum: a, b');
  assert.equal(describeType({ type: 'bool' }), 'bool');
});
