//! CSV export of a device query, produced chunk by chunk so that any range can be exported
//! without holding it in memory: `ts,key,value` rows after a header row, one key after the
//! other. Raw points are decoded one block at a time off the async threads; the engine's
//! iterators hold no lock, so ingestion goes on while an export streams.

use super::blocking;
use super::error::QueryError;
use super::params::{Shape, Window};
use std::collections::VecDeque;
use std::fmt::Write;
use wanwu_tsdb::{Engine, RawIter, SeriesKey, Value};

/// The header row.
pub const HEADER: &str = "ts,key,value\n";
/// A chunk is cut once it holds about this many bytes.
const CHUNK_BYTES: usize = 64 * 1024;

enum Source {
    Raw(RawIter),
    Buckets(std::vec::IntoIter<wanwu_tsdb::Bucket>),
}

struct Part {
    key: String,
    source: Source,
    left: Option<usize>,
}

/// A CSV export in progress; call [`CsvExport::next_chunk`] until it returns `None`.
pub struct CsvExport {
    header_sent: bool,
    parts: VecDeque<Part>,
}

impl CsvExport {
    /// Opens the sources of every `(series, key)`; buckets are computed now, raw points
    /// are read as the export goes.
    pub(super) fn open(
        tsdb: &Engine,
        series: Vec<(SeriesKey, String)>,
        window: Window,
        shape: &Shape,
    ) -> Result<Self, QueryError> {
        let mut parts = VecDeque::new();
        for (series, key) in series {
            let (source, left) = match shape {
                Shape::Raw { limit, order } => (
                    Source::Raw(tsdb.raw_iter(&series, window.from, window.to, *order)?),
                    *limit,
                ),
                Shape::Buckets(b) => {
                    let buckets =
                        tsdb.query_agg(&series, window.from, window.to, b.interval, b.agg, &b.tz)?;
                    (Source::Buckets(buckets.into_iter()), None)
                }
            };
            parts.push_back(Part { key, source, left });
        }
        Ok(CsvExport {
            header_sent: false,
            parts,
        })
    }

    /// The next chunk of CSV text, `None` at the end.
    pub async fn next_chunk(&mut self) -> Option<Result<Vec<u8>, QueryError>> {
        if !self.header_sent {
            self.header_sent = true;
            return Some(Ok(HEADER.as_bytes().to_vec()));
        }
        if self.parts.is_empty() {
            return None;
        }
        let mut parts = std::mem::take(&mut self.parts);
        let result = blocking(move || {
            let chunk = fill_chunk(&mut parts);
            (parts, chunk)
        })
        .await;
        match result {
            Ok((parts, chunk)) => {
                self.parts = parts;
                match chunk {
                    Ok(chunk) if chunk.is_empty() => None,
                    other => Some(other),
                }
            }
            Err(e) => Some(Err(e)),
        }
    }
}

/// Writes rows until the chunk is full or every part is done.
fn fill_chunk(parts: &mut VecDeque<Part>) -> Result<Vec<u8>, QueryError> {
    let mut out = String::with_capacity(CHUNK_BYTES + 256);
    while out.len() < CHUNK_BYTES {
        let Some(part) = parts.front_mut() else { break };
        let next = match part.left {
            Some(0) => None,
            _ => match &mut part.source {
                Source::Raw(iter) => iter.next().transpose()?.map(|p| (p.ts, p.value)),
                Source::Buckets(iter) => iter.next().map(|b| (b.start, b.value)),
            },
        };
        match next {
            Some((ts, value)) => {
                if let Some(left) = &mut part.left {
                    *left -= 1;
                }
                write_row(&mut out, ts, &part.key, &value);
            }
            None => {
                parts.pop_front();
            }
        }
    }
    Ok(out.into_bytes())
}

fn write_row(out: &mut String, ts: i64, key: &str, value: &Value) {
    let _ = write!(out, "{ts},");
    write_field(out, key);
    out.push(',');
    match value {
        Value::F64(v) => {
            let _ = write!(out, "{v}");
        }
        Value::I64(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Bool(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Str(s) => write_field(out, s),
        Value::Geo(g) => {
            let _ = write!(out, "\"{},{}\"", g.lat, g.lon);
        }
    }
    out.push('\n');
}

/// Writes a text field, quoted (with doubled quotes) when it holds a comma, quote or newline.
fn write_field(out: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_quote_what_needs_quoting() {
        let mut out = String::new();
        write_row(&mut out, 1, "k", &Value::F64(21.5));
        write_row(&mut out, 2, "k", &Value::Str("a,\"b\"".into()));
        write_row(
            &mut out,
            3,
            "pos",
            &Value::Geo(wanwu_tsdb::GeoPoint {
                lat: 31.2,
                lon: 121.5,
            }),
        );
        write_row(&mut out, 4, "n", &Value::I64(-7));
        assert_eq!(
            out,
            "1,k,21.5\n2,k,\"a,\"\"b\"\"\"\n3,pos,\"31.2,121.5\"\n4,n,-7\n"
        );
    }
}
