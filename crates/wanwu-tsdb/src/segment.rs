//! Immutable segment files: compressed blocks of many series for one partition, with an index
//! of per-block summaries.
//!
//! Layout: magic, blocks, index (checksummed), footer (index offset, length, crc, magic).
//! File name: `seg-{gen_lo}-{gen_hi}-{tombstones}.blk` (hex). The generation range says which
//! writes the segment holds (higher generation = newer writes); `tombstones` is the highest
//! tombstone sequence already applied to its contents.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::agg::Summary;
use crate::bytes::{DecodeError, DecodeResult, Reader, put_varint, unzigzag, zigzag};
use crate::codec::{BlockFormat, decode_block, encode_block};
use crate::column::Run;
use crate::decimal;
use crate::error::{Error, Result};
use crate::fsutil::{WriteFault, write_atomic};
use crate::head::SeriesId;
use crate::record::{put_value, read_value};
use crate::rollup;
use crate::types::{Value, ValueType};

/// Segment files of format 2: blocks with tagged float coding, compact index entries.
const MAGIC: &[u8; 8] = b"WWTSEG02";
/// Segment files written by older releases (format 1); read, never written.
const MAGIC_V1: &[u8; 8] = b"WWTSEG01";
const FOOTER_LEN: usize = 8 + 4 + 4 + 8;

/// Where a segment belongs: tenant, retention group, partition start and width (ms).
///
/// Partitions start as the configured width; compaction merges closed partitions of sparse
/// series into wider ones (twice the width, aligned to it; see
/// [`crate::maintenance::coarsen`]), so any two partitions of a group are disjoint or one
/// holds the other.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PartitionKey {
    pub(crate) tenant: String,
    pub(crate) group: String,
    pub(crate) start: i64,
    pub(crate) width: i64,
}

impl PartitionKey {
    /// The partition's directory: `p{start}-{width}` (older releases wrote `p{start}`, read as
    /// the configured width).
    pub(crate) fn dir(&self, data_dir: &Path) -> PathBuf {
        data_dir
            .join(format!("t{}", hex(&self.tenant)))
            .join(format!("g{}", hex(&self.group)))
            .join(format!("p{}-{}", self.start, self.width))
    }

    /// The first millisecond after the partition.
    pub(crate) fn end(&self) -> i64 {
        self.start.saturating_add(self.width)
    }

    fn parse(dir: &Path, data_dir: &Path, base_width: i64) -> Option<Self> {
        let rel = dir.strip_prefix(data_dir).ok()?;
        let mut parts = rel.iter().map(|p| p.to_str());
        let tenant = unhex(parts.next()??.strip_prefix('t')?)?;
        let group = unhex(parts.next()??.strip_prefix('g')?)?;
        let name = parts.next()??.strip_prefix('p')?;
        let (start, width) = match name.rsplit_once('-').filter(|(s, _)| !s.is_empty()) {
            Some((start, width)) => (start.parse().ok()?, width.parse().ok()?),
            None => (name.parse().ok()?, base_width),
        };
        Some(Self {
            tenant,
            group,
            start,
            width,
        })
    }

    /// True when `other` lies within this partition (same tenant and group).
    pub(crate) fn holds(&self, other: &PartitionKey) -> bool {
        self.tenant == other.tenant
            && self.group == other.group
            && self.start <= other.start
            && other.end() <= self.end()
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// Index entry of one block.
#[derive(Clone, Debug)]
pub(crate) struct BlockMeta {
    pub(crate) series: SeriesId,
    pub(crate) ty: ValueType,
    pub(crate) min_ts: i64,
    pub(crate) max_ts: i64,
    pub(crate) offset: u64,
    pub(crate) len: u32,
    pub(crate) crc: u32,
    pub(crate) summary: Summary,
    /// Hourly rollups (see [`crate::rollup`]), empty when the block has none.
    pub(crate) rollup: Box<[u8]>,
    /// How the block and its rollups are coded (the segment file's format).
    pub(crate) format: BlockFormat,
}

/// A segment file, loaded index and lazily opened file.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    pub(crate) partition: PartitionKey,
    pub(crate) gen_lo: u64,
    pub(crate) gen_hi: u64,
    pub(crate) tomb_seq: u64,
    /// Sorted by (series, min_ts).
    pub(crate) blocks: Vec<BlockMeta>,
    pub(crate) bytes: u64,
    file: OnceLock<File>,
    obsolete: AtomicBool,
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            if let Err(e) = fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove obsolete segment");
            }
            if let Some(dir) = self.path.parent() {
                let _ = fs::remove_dir(dir);
            }
        }
    }
}

/// The blocks of one series for a segment being written: the run and the block ranges.
pub(crate) struct SeriesBlocks<'a> {
    pub(crate) series: SeriesId,
    pub(crate) run: &'a Run,
    pub(crate) range: std::ops::Range<usize>,
}

impl Segment {
    /// Writes a segment holding `series` (each sorted, deduplicated), split into blocks of at
    /// most `block_points`, and loads it.
    pub(crate) fn write(
        data_dir: &Path,
        partition: PartitionKey,
        (gen_lo, gen_hi, tomb_seq): (u64, u64, u64),
        series: &[SeriesBlocks<'_>],
        block_points: usize,
        fault: Option<&WriteFault>,
    ) -> Result<Segment> {
        let mut bytes = MAGIC.to_vec();
        let mut blocks = Vec::new();
        for s in series {
            let mut start = s.range.start;
            while start < s.range.end {
                let end = (start + block_points).min(s.range.end);
                let block = encode_block(s.run, start..end);
                blocks.push(BlockMeta {
                    series: s.series,
                    ty: s.run.values.value_type(),
                    min_ts: s.run.ts[start],
                    max_ts: s.run.ts[end - 1],
                    offset: bytes.len() as u64,
                    len: block.len() as u32,
                    crc: crc32c::crc32c(&block),
                    summary: Summary::of(s.run, start..end),
                    rollup: rollup::encode(s.run, start..end).into_boxed_slice(),
                    format: BlockFormat::V2,
                });
                bytes.extend_from_slice(&block);
                start = end;
            }
        }
        blocks.sort_by_key(|b| (b.series, b.min_ts));
        let index_offset = bytes.len() as u64;
        let index = encode_index(&blocks, partition.start);
        bytes.extend_from_slice(&index);
        bytes.extend_from_slice(&index_offset.to_le_bytes());
        bytes.extend_from_slice(&(index.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(&index).to_le_bytes());
        bytes.extend_from_slice(MAGIC);

        let dir = partition.dir(data_dir);
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(format!(
            "seg-{gen_lo:016x}-{gen_hi:016x}-{tomb_seq:016x}.blk"
        ));
        write_atomic(&path, &bytes, fault)?;
        Ok(Segment {
            path,
            partition,
            gen_lo,
            gen_hi,
            tomb_seq,
            blocks,
            bytes: bytes.len() as u64,
            file: OnceLock::new(),
            obsolete: AtomicBool::new(false),
        })
    }

    /// Loads a segment's index from `path` (inside `data_dir`'s partition tree; partition
    /// directories without a width have `base_width`).
    pub(crate) fn load(data_dir: &Path, path: &Path, base_width: i64) -> Result<Segment> {
        let corrupt = |reason: String| Error::corrupt(path, reason);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let gens: Vec<u64> = name
            .strip_prefix("seg-")
            .and_then(|n| n.strip_suffix(".blk"))
            .map(|n| {
                n.split('-')
                    .filter_map(|h| u64::from_str_radix(h, 16).ok())
                    .collect()
            })
            .unwrap_or_default();
        let [gen_lo, gen_hi, tomb_seq] = gens[..] else {
            return Err(corrupt(format!("unexpected segment file name {name}")));
        };
        let partition = path
            .parent()
            .and_then(|d| PartitionKey::parse(d, data_dir, base_width))
            .ok_or_else(|| corrupt("not inside a partition directory".into()))?;
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if size < (MAGIC.len() + FOOTER_LEN) as u64 {
            return Err(corrupt(format!("file of {size} bytes is too short")));
        }
        let mut footer = [0u8; FOOTER_LEN];
        file.read_exact_at(&mut footer, size - FOOTER_LEN as u64)
            .map_err(|e| Error::io(path, e))?;
        let mut r = Reader::new(&footer);
        let (index_offset, index_len, index_crc) = (r.u64(), r.u32(), r.u32());
        let (index_offset, index_len, index_crc) = (
            index_offset.map_err(|e| corrupt(e.0))?,
            index_len.map_err(|e| corrupt(e.0))?,
            index_crc.map_err(|e| corrupt(e.0))?,
        );
        let format = match &footer[16..] {
            magic if magic == MAGIC => BlockFormat::V2,
            magic if magic == MAGIC_V1 => BlockFormat::V1,
            _ => return Err(corrupt("bad footer: unknown format".into())),
        };
        if index_offset + u64::from(index_len) + FOOTER_LEN as u64 != size {
            return Err(corrupt("bad footer".into()));
        }
        let mut index = vec![0u8; index_len as usize];
        file.read_exact_at(&mut index, index_offset)
            .map_err(|e| Error::io(path, e))?;
        if crc32c::crc32c(&index) != index_crc {
            return Err(corrupt("index checksum mismatch".into()));
        }
        let blocks = decode_index(&index, format, partition.start).map_err(|e| corrupt(e.0))?;
        if blocks
            .iter()
            .any(|b| b.offset + u64::from(b.len) > index_offset)
        {
            return Err(corrupt("block outside the data area".into()));
        }
        Ok(Segment {
            path: path.to_owned(),
            partition,
            gen_lo,
            gen_hi,
            tomb_seq,
            blocks,
            bytes: size,
            file: OnceLock::from(file),
            obsolete: AtomicBool::new(false),
        })
    }

    /// The blocks of `series`, in time order.
    pub(crate) fn blocks_of(&self, series: SeriesId) -> &[BlockMeta] {
        let start = self.blocks.partition_point(|b| b.series < series);
        let end = self.blocks.partition_point(|b| b.series <= series);
        &self.blocks[start..end]
    }

    /// Reads one block's bytes, verifying its checksum.
    pub(crate) fn read_block_bytes(&self, meta: &BlockMeta) -> Result<Vec<u8>> {
        let file = match self.file.get() {
            Some(file) => file,
            None => {
                let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
                self.file.get_or_init(|| file)
            }
        };
        let mut bytes = vec![0u8; meta.len as usize];
        file.read_exact_at(&mut bytes, meta.offset)
            .map_err(|e| Error::io(&self.path, e))?;
        if crc32c::crc32c(&bytes) != meta.crc {
            return Err(Error::corrupt(
                &self.path,
                format!("block checksum mismatch at offset {}", meta.offset),
            ));
        }
        Ok(bytes)
    }

    /// Reads and decodes one block, verifying its checksum.
    pub(crate) fn read_block(&self, meta: &BlockMeta) -> Result<Run> {
        let bytes = self.read_block_bytes(meta)?;
        let run = decode_block(&bytes, meta.ty, meta.format)
            .map_err(|e| Error::corrupt(&self.path, e.0))?;
        if run.ts.first() != Some(&meta.min_ts) || run.ts.last() != Some(&meta.max_ts) {
            return Err(Error::corrupt(
                &self.path,
                "block does not match its index entry",
            ));
        }
        Ok(run)
    }

    /// Marks the segment replaced: its file is removed once the last reader lets go.
    pub(crate) fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }

    /// True when this segment's generations are covered by `other`'s (a compaction output that
    /// replaced it, left behind by a crash before the removal; `other` may be in a wider
    /// partition holding this one's).
    pub(crate) fn is_superseded_by(&self, other: &Segment) -> bool {
        !std::ptr::eq(self, other)
            && other.gen_lo <= self.gen_lo
            && self.gen_hi <= other.gen_hi
            && (other.gen_lo, other.gen_hi, other.tomb_seq)
                != (self.gen_lo, self.gen_hi, self.tomb_seq)
            && other.tomb_seq >= self.tomb_seq
    }
}

fn encode_index(blocks: &[BlockMeta], base: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(blocks.len() * 40);
    put_varint(&mut out, blocks.len() as u64);
    for b in blocks {
        encode_entry(&mut out, b, base);
    }
    out
}

/// Bytes of `block`'s index entry: (fixed fields, summary, rollups with their length).
/// `base` is the start of the block's partition.
pub(crate) fn index_entry_parts(block: &BlockMeta, base: i64) -> (u64, u64, u64) {
    let mut out = Vec::new();
    encode_entry(&mut out, block, base);
    let rollup = {
        let mut len = Vec::new();
        put_varint(&mut len, block.rollup.len() as u64);
        (len.len() + block.rollup.len()) as u64
    };
    let mut summary = Vec::new();
    encode_summary(&mut summary, &block.summary, block.ty);
    let summary = summary.len() as u64;
    (out.len() as u64 - rollup - summary, summary, rollup)
}

/// An index entry: the block's time range relative to the partition's start (`base`) and its
/// length, varint-coded; its checksum; its summary; its rollups.
fn encode_entry(out: &mut Vec<u8>, b: &BlockMeta, base: i64) {
    put_varint(out, u64::from(b.series));
    out.push(b.ty.code());
    put_varint(out, zigzag(b.min_ts.wrapping_sub(base)));
    put_varint(out, b.max_ts.wrapping_sub(b.min_ts) as u64);
    put_varint(out, b.offset);
    put_varint(out, u64::from(b.len));
    out.extend_from_slice(&b.crc.to_le_bytes());
    encode_summary(out, &b.summary, b.ty);
    put_varint(out, b.rollup.len() as u64);
    out.extend_from_slice(&b.rollup);
}

/// A block's summary: count and sum; min, max, first and last values (their timestamps are
/// the block's time range). Float blocks whose min, max, first and last are decimals with few
/// digits store them as scaled integers.
fn encode_summary(out: &mut Vec<u8>, s: &Summary, ty: ValueType) {
    put_varint(out, s.count);
    out.extend_from_slice(&s.sum.to_bits().to_le_bytes());
    let ends = [&s.first, &s.last].map(|end| end.as_ref().map(|(_, v)| v));
    if let (ValueType::F64, [Some(Value::F64(first)), Some(Value::F64(last))]) = (ty, ends) {
        let numbers = [s.min, s.max, *first, *last];
        match decimal::digits_of(&numbers, decimal::MAX_DIGITS) {
            Some(digits) => {
                out.push(digits);
                for k in decimal::scale_all(&numbers, digits) {
                    put_varint(out, zigzag(k));
                }
            }
            None => {
                out.push(RAW_SUMMARY);
                for x in numbers {
                    out.extend_from_slice(&x.to_bits().to_le_bytes());
                }
            }
        }
        return;
    }
    for x in [s.min, s.max] {
        out.extend_from_slice(&x.to_bits().to_le_bytes());
    }
    for value in ends.into_iter().flatten() {
        put_value(out, value);
    }
}

/// Float summary tag: raw floats follow (otherwise the tag is the number of decimal digits).
const RAW_SUMMARY: u8 = u8::MAX;

fn decode_summary(
    r: &mut Reader<'_>,
    ty: ValueType,
    min_ts: i64,
    max_ts: i64,
) -> DecodeResult<Summary> {
    let count = r.varint()?;
    let sum = r.f64()?;
    let (min, max, first, last) = if ty == ValueType::F64 {
        let [min, max, first, last] = match r.u8()? {
            RAW_SUMMARY => [r.f64()?, r.f64()?, r.f64()?, r.f64()?],
            digits @ 0..=decimal::MAX_DIGITS => {
                let factor = decimal::factor(digits);
                let mut numbers = [0f64; 4];
                for x in &mut numbers {
                    *x = decimal::unscale(unzigzag(r.varint()?), factor);
                }
                numbers
            }
            other => return Err(DecodeError(format!("unknown summary coding {other}"))),
        };
        (min, max, Value::F64(first), Value::F64(last))
    } else {
        let (min, max) = (r.f64()?, r.f64()?);
        (min, max, read_value(r, ty)?, read_value(r, ty)?)
    };
    Ok(Summary {
        count,
        sum,
        min,
        max,
        first: Some((min_ts, first)),
        last: Some((max_ts, last)),
    })
}

/// Summary of format 1: count, raw sum, min and max, first and last with their timestamps.
fn decode_summary_v1(r: &mut Reader<'_>, ty: ValueType) -> DecodeResult<Summary> {
    let count = r.varint()?;
    let (sum, min, max) = (r.f64()?, r.f64()?, r.f64()?);
    let first = Some((r.i64()?, read_value(r, ty)?));
    let last = Some((r.i64()?, read_value(r, ty)?));
    Ok(Summary {
        count,
        sum,
        min,
        max,
        first,
        last,
    })
}

/// Decodes the index of a segment of `format` whose partition starts at `base`.
fn decode_index(bytes: &[u8], format: BlockFormat, base: i64) -> DecodeResult<Vec<BlockMeta>> {
    let mut r = Reader::new(bytes);
    let n = r.count()?;
    let mut blocks = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        let series = SeriesId::try_from(r.varint()?)
            .map_err(|_| DecodeError("series id out of range".into()))?;
        let code = r.u8()?;
        let ty = ValueType::from_code(code)
            .ok_or_else(|| DecodeError(format!("unknown value type {code}")))?;
        let (min_ts, max_ts) = match format {
            BlockFormat::V1 => (r.i64()?, r.i64()?),
            BlockFormat::V2 => {
                let min_ts = base.wrapping_add(unzigzag(r.varint()?));
                (min_ts, min_ts.wrapping_add(r.varint()? as i64))
            }
        };
        let offset = r.varint()?;
        let len = u32::try_from(r.varint()?).map_err(|_| DecodeError("block too long".into()))?;
        let crc = r.u32()?;
        let summary = match format {
            BlockFormat::V1 => decode_summary_v1(&mut r, ty)?,
            BlockFormat::V2 => decode_summary(&mut r, ty, min_ts, max_ts)?,
        };
        let rollup = r.section()?.into();
        blocks.push(BlockMeta {
            series,
            ty,
            min_ts,
            max_ts,
            offset,
            len,
            crc,
            summary,
            rollup,
            format,
        });
    }
    if !r.is_empty() {
        return Err(DecodeError("trailing bytes after index".into()));
    }
    Ok(blocks)
}

/// Every segment file under `data_dir`, and leftovers to remove (temporary files and segments
/// superseded by a compaction output).
pub(crate) fn scan(data_dir: &Path, base_width: i64) -> Result<Vec<Segment>> {
    let mut segments = Vec::new();
    if !data_dir.exists() {
        return Ok(segments);
    }
    let mut dirs = vec![data_dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let path = entry.map_err(|e| Error::io(&dir, e))?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "tmp") {
                fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            } else if path.extension().is_some_and(|e| e == "blk") {
                match Segment::load(data_dir, &path, base_width) {
                    Ok(segment) => segments.push(segment),
                    Err(Error::Corrupt { reason, .. }) => {
                        // Keep the bytes for inspection, out of the engine's way.
                        tracing::error!(path = %path.display(), reason, "corrupt segment set aside");
                        let aside = path.with_extension("corrupt");
                        fs::rename(&path, &aside).map_err(|e| Error::io(&path, e))?;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    let superseded: Vec<bool> = segments
        .iter()
        .map(|s| {
            segments
                .iter()
                .any(|o| o.partition.holds(&s.partition) && s.is_superseded_by(o))
        })
        .collect();
    let mut live = Vec::with_capacity(segments.len());
    for (segment, superseded) in segments.into_iter().zip(superseded) {
        if superseded {
            segment.mark_obsolete();
        } else {
            live.push(segment);
        }
    }
    Ok(live)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::Column;

    /// A segment file as older releases wrote it (format 1: fixed-width index fields, raw
    /// summary) still loads and reads.
    #[test]
    fn format_1_segments_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let partition = PartitionKey {
            tenant: "t".into(),
            group: String::new(),
            start: 0,
            width: 86_400_000,
        };
        let run = Run {
            ts: vec![1_000, 2_000, 3_000],
            values: Column::I64(vec![7, -1, 4]),
        };
        let block = encode_block(&run, 0..3);
        let mut file = MAGIC_V1.to_vec();
        let offset = file.len() as u64;
        file.extend_from_slice(&block);
        let mut index = Vec::new();
        put_varint(&mut index, 1);
        put_varint(&mut index, 5);
        index.push(ValueType::I64.code());
        index.extend_from_slice(&1_000i64.to_le_bytes());
        index.extend_from_slice(&3_000i64.to_le_bytes());
        put_varint(&mut index, offset);
        put_varint(&mut index, block.len() as u64);
        index.extend_from_slice(&crc32c::crc32c(&block).to_le_bytes());
        put_varint(&mut index, 3);
        for x in [10.0f64, -1.0, 7.0] {
            index.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        for (ts, v) in [(1_000i64, 7i64), (3_000, 4)] {
            index.extend_from_slice(&ts.to_le_bytes());
            index.extend_from_slice(&v.to_le_bytes());
        }
        put_varint(&mut index, 0);
        let index_offset = file.len() as u64;
        file.extend_from_slice(&index);
        file.extend_from_slice(&index_offset.to_le_bytes());
        file.extend_from_slice(&(index.len() as u32).to_le_bytes());
        file.extend_from_slice(&crc32c::crc32c(&index).to_le_bytes());
        file.extend_from_slice(MAGIC_V1);
        // Older releases named partition directories by their start only.
        let part_dir = dir.path().join("t74").join("g").join("p0");
        fs::create_dir_all(&part_dir).unwrap();
        let path = part_dir.join(format!("seg-{:016x}-{:016x}-{:016x}.blk", 1, 1, 0));
        fs::write(&path, &file).unwrap();

        let segment = Segment::load(dir.path(), &path, 86_400_000).unwrap();
        assert_eq!(segment.partition, partition);
        let meta = &segment.blocks_of(5)[0];
        assert_eq!(meta.format, BlockFormat::V1);
        assert_eq!((meta.summary.count, meta.summary.sum), (3, 10.0));
        assert_eq!(meta.summary.last, Some((3_000, Value::I64(4))));
        assert_eq!(segment.read_block(meta).unwrap(), run);
    }

    #[test]
    fn format_2_index_round_trips_and_is_compact() {
        let dir = tempfile::tempdir().unwrap();
        let partition = PartitionKey {
            tenant: "t".into(),
            group: "g".into(),
            start: 86_400_000,
            width: 2 * 86_400_000,
        };
        let ts: Vec<i64> = (0..1440).map(|m| 86_400_000 + m * 60_000).collect();
        let values: Vec<f64> = (0..1440).map(|m| f64::from(m % 50) / 10.0).collect();
        let run = Run {
            ts,
            values: Column::F64(values),
        };
        let series = [SeriesBlocks {
            series: 3,
            run: &run,
            range: 0..1440,
        }];
        let written =
            Segment::write(dir.path(), partition, (1, 1, 0), &series, 2048, None).unwrap();
        let loaded = Segment::load(dir.path(), &written.path, 86_400_000).unwrap();
        assert_eq!(loaded.partition, written.partition);
        let (a, b) = (&written.blocks[0], &loaded.blocks[0]);
        assert_eq!(
            (a.min_ts, a.max_ts, a.summary.clone()),
            (b.min_ts, b.max_ts, b.summary.clone())
        );
        assert_eq!(loaded.read_block(b).unwrap(), run);
        let (entry, summary, _) = index_entry_parts(b, loaded.partition.start);
        assert!(entry + summary < 40, "{entry} + {summary} bytes");
    }
}
