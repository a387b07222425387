//! Records shared by the write-ahead log, the series catalog and the tombstone file.

use crate::bytes::{DecodeError, DecodeResult, Reader, put_str, put_varint};
use crate::head::SeriesId;
use crate::types::{GeoPoint, SeriesKey, Value, ValueType};

const DEFINE: u8 = 1;
const POINTS: u8 = 2;
const DELETE: u8 = 3;

/// A series as the catalog knows it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SeriesDef {
    pub(crate) id: SeriesId,
    pub(crate) ty: ValueType,
    /// Retention group chosen by the caller's policy (e.g. product); empty for none.
    pub(crate) group: String,
    pub(crate) key: SeriesKey,
}

/// A deletion of a series' points in `[from, to]`, applying to data from sources (segments,
/// frozen heads) whose generation is below `gen_limit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tombstone {
    pub(crate) seq: u64,
    pub(crate) series: SeriesId,
    pub(crate) from: i64,
    pub(crate) to: i64,
    pub(crate) gen_limit: u64,
}

/// A decoded record.
#[derive(Debug)]
pub(crate) enum Record {
    Define(SeriesDef),
    /// Points per series, in write order.
    Points(Vec<(SeriesId, Vec<(i64, Value)>)>),
    Delete(Tombstone),
}

pub(crate) fn encode_define(out: &mut Vec<u8>, def: &SeriesDef) {
    out.push(DEFINE);
    put_varint(out, u64::from(def.id));
    out.push(def.ty.code());
    put_str(out, &def.group);
    put_str(out, &def.key.tenant);
    put_str(out, &def.key.device);
    put_str(out, &def.key.key);
}

pub(crate) fn encode_delete(out: &mut Vec<u8>, t: &Tombstone) {
    out.push(DELETE);
    put_varint(out, t.seq);
    put_varint(out, u64::from(t.series));
    out.extend_from_slice(&t.from.to_le_bytes());
    out.extend_from_slice(&t.to.to_le_bytes());
    put_varint(out, t.gen_limit);
}

/// Starts a points record holding `series_count` series.
pub(crate) fn begin_points(out: &mut Vec<u8>, series_count: usize) {
    out.push(POINTS);
    put_varint(out, series_count as u64);
}

/// Appends one series' points to a points record.
pub(crate) fn put_series_points<'a>(
    out: &mut Vec<u8>,
    id: SeriesId,
    points: impl ExactSizeIterator<Item = (i64, &'a Value)>,
) {
    put_varint(out, u64::from(id));
    put_varint(out, points.len() as u64);
    for (ts, value) in points {
        out.extend_from_slice(&ts.to_le_bytes());
        put_value(out, value);
    }
}

/// Appends a value in its raw form (the reader knows the type).
pub(crate) fn put_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::F64(v) => out.extend_from_slice(&v.to_bits().to_le_bytes()),
        Value::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Bool(v) => out.push(u8::from(*v)),
        Value::Str(s) => put_str(out, s),
        Value::Geo(g) => {
            out.extend_from_slice(&g.lat.to_bits().to_le_bytes());
            out.extend_from_slice(&g.lon.to_bits().to_le_bytes());
        }
    }
}

pub(crate) fn read_value(r: &mut Reader<'_>, ty: ValueType) -> DecodeResult<Value> {
    Ok(match ty {
        ValueType::F64 => Value::F64(r.f64()?),
        ValueType::I64 => Value::I64(r.i64()?),
        ValueType::Bool => Value::Bool(r.u8()? != 0),
        ValueType::Str => Value::Str(r.str()?.to_owned()),
        ValueType::Geo => Value::Geo(GeoPoint {
            lat: r.f64()?,
            lon: r.f64()?,
        }),
    })
}

/// Decodes a record; `type_of` resolves the type of series defined earlier.
pub(crate) fn decode(
    payload: &[u8],
    type_of: impl Fn(SeriesId) -> Option<ValueType>,
) -> DecodeResult<Record> {
    let mut r = Reader::new(payload);
    let record = match r.u8()? {
        DEFINE => {
            let id = series_id(&mut r)?;
            let code = r.u8()?;
            let ty = ValueType::from_code(code)
                .ok_or_else(|| DecodeError(format!("unknown value type {code}")))?;
            let group = r.str()?.to_owned();
            let key = SeriesKey::new(r.str()?, r.str()?, r.str()?);
            Record::Define(SeriesDef { id, ty, group, key })
        }
        POINTS => {
            let count = r.count()?;
            let mut series = Vec::with_capacity(count.min(1 << 16));
            for _ in 0..count {
                let id = series_id(&mut r)?;
                let ty = type_of(id)
                    .ok_or_else(|| DecodeError(format!("points for undefined series {id}")))?;
                let n = r.count()?;
                let mut points = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    let ts = r.i64()?;
                    points.push((ts, read_value(&mut r, ty)?));
                }
                series.push((id, points));
            }
            Record::Points(series)
        }
        DELETE => Record::Delete(Tombstone {
            seq: r.varint()?,
            series: series_id(&mut r)?,
            from: r.i64()?,
            to: r.i64()?,
            gen_limit: r.varint()?,
        }),
        other => return Err(DecodeError(format!("unknown record kind {other}"))),
    };
    if !r.is_empty() {
        return Err(DecodeError("trailing bytes after record".into()));
    }
    Ok(record)
}

fn series_id(r: &mut Reader<'_>) -> DecodeResult<SeriesId> {
    SeriesId::try_from(r.varint()?).map_err(|_| DecodeError("series id out of range".into()))
}
