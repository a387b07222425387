//! Where the bytes on disk go: file framing, index entries, block summaries, hourly rollups,
//! timestamps and values of the blocks, the log and the catalog. Measured by reading the
//! segments, to find what to make smaller.

use std::fmt;

use crate::codec::timestamp_section_len;
use crate::error::{Error, Result};
use crate::segment::{Segment, index_entry_parts};

/// Bytes on disk by what they hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageBreakdown {
    /// Points in blocks.
    pub points: u64,
    /// Blocks.
    pub blocks: u64,
    /// Segment files.
    pub segments: u64,
    /// Magic numbers, footers and index lengths of the segment files.
    pub framing: u64,
    /// Index entries without their summary and rollups: series, type, time range, offset,
    /// length, checksum.
    pub index_entries: u64,
    /// Per-block summaries in the index (count, sum, min, max, first, last).
    pub summaries: u64,
    /// Hourly rollups in the index.
    pub rollups: u64,
    /// Timestamps inside blocks (with the point count).
    pub timestamps: u64,
    /// Values inside blocks.
    pub values: u64,
    /// The write-ahead log.
    pub log: u64,
    /// The series catalog and tombstones.
    pub catalog: u64,
}

impl StorageBreakdown {
    /// Every byte counted.
    pub fn total(&self) -> u64 {
        self.framing
            + self.index_entries
            + self.summaries
            + self.rollups
            + self.timestamps
            + self.values
            + self.log
            + self.catalog
    }

    /// The parts as (name, bytes), in display order.
    pub fn parts(&self) -> [(&'static str, u64); 8] {
        [
            ("values", self.values),
            ("timestamps", self.timestamps),
            ("rollups", self.rollups),
            ("summaries", self.summaries),
            ("index entries", self.index_entries),
            ("file framing", self.framing),
            ("log", self.log),
            ("catalog", self.catalog),
        ]
    }

    /// Adds what `segment` holds, reading each block to split timestamps from values.
    pub(crate) fn add_segment(&mut self, segment: &Segment) -> Result<()> {
        self.segments += 1;
        let mut indexed = 0;
        for block in &segment.blocks {
            self.blocks += 1;
            self.points += block.summary.count;
            let (entry, summary, rollup) = index_entry_parts(block, segment.partition.start);
            self.index_entries += entry;
            self.summaries += summary;
            self.rollups += rollup;
            indexed += entry + summary + rollup + u64::from(block.len);
            let bytes = segment.read_block_bytes(block)?;
            let ts = timestamp_section_len(&bytes)
                .map_err(|e| Error::corrupt(&segment.path, e.0))? as u64;
            self.timestamps += ts;
            self.values += bytes.len() as u64 - ts;
        }
        self.framing += segment.bytes.saturating_sub(indexed);
        Ok(())
    }
}

impl fmt::Display for StorageBreakdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let points = self.points.max(1) as f64;
        writeln!(
            f,
            "{} points in {} blocks, {} segment files, {} bytes ({:.3} B/point)",
            self.points,
            self.blocks,
            self.segments,
            self.total(),
            self.total() as f64 / points
        )?;
        for (name, bytes) in self.parts() {
            writeln!(
                f,
                "  {name:<14} {bytes:>12} B {:>8.3} B/point",
                bytes as f64 / points
            )?;
        }
        Ok(())
    }
}
