//! The public dataset for bytes per point: hourly air temperatures (°F, one decimal) of
//! Seattle and San Francisco for 2010, from NOAA (public domain), as shipped in the PyPI
//! package `vega_datasets` 0.9.0 (MIT licence). `scripts/fetch-bench-dataset` puts its two
//! CSV files under `$WANWU_BENCH_DATASETS` (default `~/.cache/wanwu/datasets`); the data is
//! not part of the repository.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;

/// Where `scripts/fetch-bench-dataset` writes the files.
pub fn directory() -> Option<PathBuf> {
    let root = match std::env::var_os("WANWU_BENCH_DATASETS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/wanwu/datasets"),
    };
    Some(root.join("vega_datasets-0.9.0"))
}

/// The dataset's files and the city each is of.
const FILES: [(&str, &str); 2] = [("seattle-temps.csv", "seattle"), ("sf-temps.csv", "sf")];

/// One city's readings: (ms since the epoch, value).
pub struct CitySeries {
    /// The city's short name.
    pub city: &'static str,
    /// Hourly readings in time order.
    pub points: Vec<(i64, f64)>,
}

/// Reads the dataset, or `None` when it has not been fetched.
pub fn load() -> Result<Option<Vec<CitySeries>>> {
    let Some(dir) = directory().filter(|d| d.is_dir()) else {
        return Ok(None);
    };
    let mut all = Vec::new();
    for (file, city) in FILES {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let points = parse(&text).with_context(|| format!("parsing {}", path.display()))?;
        all.push(CitySeries { city, points });
    }
    Ok(Some(all))
}

/// Parses `date,temp` or `temp,date` rows (dates `YYYY/MM/DD HH:MM[:SS]`, taken as UTC).
fn parse(text: &str) -> Result<Vec<(i64, f64)>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("empty file")?.split(',').collect();
    let column = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(date), Some(temp)) = (column("date"), column("temp")) else {
        bail!("expected date and temp columns, found {header:?}");
    };
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let (Some(d), Some(t)) = (fields.get(date), fields.get(temp)) else {
                bail!("short row {line:?}");
            };
            let value: f64 = t
                .trim()
                .parse()
                .with_context(|| format!("value in {line:?}"))?;
            Ok((timestamp(d.trim())?, value))
        })
        .collect()
}

fn timestamp(date: &str) -> Result<i64> {
    let civil = jiff::civil::DateTime::strptime("%Y/%m/%d %H:%M:%S", date)
        .or_else(|_| jiff::civil::DateTime::strptime("%Y/%m/%d %H:%M", date))
        .with_context(|| format!("date {date:?}"))?;
    Ok(civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .context("date in UTC")?
        .timestamp()
        .as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_both_column_orders_and_date_forms() {
        let seattle = parse("date,temp\n2010/01/01 00:00,39.4\n2010/01/01 01:00,39.2\n").unwrap();
        let sf = parse("temp,date\n47.8,2010/01/01 00:00:00\n").unwrap();
        assert_eq!(
            seattle,
            [(1_262_304_000_000, 39.4), (1_262_307_600_000, 39.2)]
        );
        assert_eq!(sf, [(1_262_304_000_000, 47.8)]);
        assert!(parse("when,temp\nx,1\n").is_err());
        assert!(parse("date,temp\n2010-01-01,1\n").is_err());
    }
}
