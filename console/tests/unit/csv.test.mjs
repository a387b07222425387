import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCsv, devicesFromCsv, csvCell } from '../../js/csv.js';

test('parses quoted fields, doubled quotes, CRLF and a BOM', () => {
  const rows = parseCsv('\uFEFFid,name\r\n"a,1","say ""hi"""\r\nb,\n');
  assert.deepEqual(rows, [['id', 'name'], ['a,1', 'say "hi"'], ['b', '']]);
});

test('a quoted field may span lines', () => {
  assert.deepEqual(parseCsv('a,"x\ny"\n'), [['a', 'x\ny']]);
});

test('an unterminated quote is an error', () => {
  assert.throws(() => parseCsv('a,"b\n'), /unterminated/);
});

test('rows become devices with location and tags', () => {
  const csv = 'id,product,name,asset,lat,lon,tags,tag.kind\nst-1,aq,Station 1,east,31.2,121.4,district=east;zone=a,roadside\nst-2,aq,,,,,,\n';
  const { devices, errors } = devicesFromCsv(csv);
  assert.deepEqual(errors, []);
  assert.deepEqual(devices, [
    { id: 'st-1', product: 'aq', name: 'Station 1', asset: 'east', location: { lat: 31.2, lon: 121.4 }, tags: { district: 'east', zone: 'a', kind: 'roadside' } },
    { id: 'st-2', product: 'aq' },
  ]);
});

test('problems name their line and nothing is returned to send', () => {
  const csv = 'id,product,lat,lon\nst-1,aq,91,10\nst-1,aq,,\n,aq,,\nx,y,1\n';
  const { devices, errors } = devicesFromCsv(csv);
  assert.deepEqual(devices, []);
  assert.deepEqual(errors.map((e) => e.line), [2, 3, 4, 5]);
  assert.match(errors[0].message, /lat and lon/);
  assert.match(errors[1].message, /duplicate id "st-1"/);
  assert.match(errors[2].message, /id is empty/);
  assert.match(errors[3].message, /expected 4 fields, found 3/);
});

test('unknown or missing columns are reported on line 1', () => {
  const { errors } = devicesFromCsv('id,colour\nx,red\n');
  assert.deepEqual(errors, [
    { line: 1, message: 'unknown column "colour"' },
    { line: 1, message: 'missing column "product"' },
  ]);
});

test('a header without rows or an empty file is an error', () => {
  assert.equal(devicesFromCsv('id,product\n').errors[0].message, 'no device rows below the header');
  assert.equal(devicesFromCsv('').errors[0].message, 'the file is empty');
});

test('cells that need quoting are quoted', () => {
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('say "x"'), '"say ""x"""');
  assert.equal(csvCell(null), '');
  assert.equal(csvCell(12), '12');
});
