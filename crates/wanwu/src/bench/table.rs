//! One benchmark's results: figures of wanwu and of its baseline, with ratios.

use super::machine::Machine;
use std::fmt::Write;

/// One measure of wanwu and of the baseline.
#[derive(Clone, Debug)]
pub struct Row {
    /// What was measured, with its unit.
    pub measure: String,
    /// wanwu's figure.
    pub wanwu: f64,
    /// The baseline's figure.
    pub baseline: f64,
    /// True when more is better (rates), false when less is better (bytes, latency).
    pub higher_is_better: bool,
}

impl Row {
    /// How many times better wanwu is than the baseline (above 1: better).
    pub fn advantage(&self) -> f64 {
        if self.higher_is_better {
            self.wanwu / self.baseline
        } else {
            self.baseline / self.wanwu
        }
    }
}

/// A benchmark's table.
#[derive(Clone, Debug)]
pub struct Table {
    /// The benchmark's name, as given on the command line.
    pub name: &'static str,
    /// What the baseline is.
    pub baseline: &'static str,
    /// What ran (sizes).
    pub setup: String,
    /// Whether the load generator ran on the same cores as what it measured.
    pub load_shares_cores: bool,
    /// The measures.
    pub rows: Vec<Row>,
}

impl Table {
    /// The table as text: a heading with the machine's facts, then one line per measure.
    pub fn render(&self, machine: &Machine) -> String {
        let mut out = String::new();
        let shared = if self.load_shares_cores {
            "load generator shared the cores"
        } else {
            "load generator on its own cores"
        };
        // Writing to a String cannot fail.
        let _ = writeln!(out, "== bench {}: {}", self.name, self.setup);
        let _ = writeln!(out, "machine: {machine}; {shared}");
        let _ = writeln!(
            out,
            "{:<52} {:>14} {:>14} {:>10}",
            "measure", "wanwu", self.baseline, "advantage"
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "{:<52} {:>14.3} {:>14.3} {:>9.2}x",
                row.measure,
                row.wanwu,
                row.baseline,
                row.advantage()
            );
        }
        out.push('\n');
        out
    }
}
