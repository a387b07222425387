//! Where the bytes per point go: the simulator's 1-minute data and, when given, a CSV file of
//! `date,temp` rows (e.g. the public dataset of `wanwu bench ingest`).
//!
//! `cargo run --release -p wanwu-tsdb --features bench --example tsdb_bytes -- [SERIES] [DAYS] [CSV...]`

use wanwu_tsdb::bench::{MINUTE, START, device_key, engine_storage, ingest_values};
use wanwu_tsdb::{Options, Point, SeriesKey, Value};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let series: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100);
    let days: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(7);
    let dir = tempfile::tempdir()?;
    let simulated: Vec<(SeriesKey, Vec<Point>)> = ingest_values(series, days * 1440)
        .into_iter()
        .enumerate()
        .map(|(i, values)| {
            let points = values
                .into_iter()
                .enumerate()
                .map(|(m, v)| Point::new(START + m as i64 * MINUTE, Value::F64(v)))
                .collect();
            (device_key(i), points)
        })
        .collect();
    let breakdown = engine_storage(dir.path(), &simulated, Options::default()).await?;
    println!("simulator, {series} series x {days} days of 1-minute data: {breakdown}");
    let files: Vec<String> = args.collect();
    let mut public = Vec::new();
    for file in &files {
        public.push((SeriesKey::new("bench", file, "temp"), read_csv(file)?));
    }
    if !public.is_empty() {
        let breakdown = engine_storage(dir.path(), &public, Options::default()).await?;
        println!("{}: {breakdown}", files.join(", "));
    }
    Ok(())
}

/// Rows of `date,temp` or `temp,date` (dates `YYYY/MM/DD HH:MM[:SS]`, UTC).
fn read_csv(path: &str) -> Result<Vec<Point>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let date = header
        .iter()
        .position(|h| *h == "date")
        .ok_or("no date column")?;
    let temp = header
        .iter()
        .position(|h| *h == "temp")
        .ok_or("no temp column")?;
    let mut points = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        let when = fields.get(date).ok_or("short row")?;
        let civil = jiff::civil::DateTime::strptime("%Y/%m/%d %H:%M:%S", when)
            .or_else(|_| jiff::civil::DateTime::strptime("%Y/%m/%d %H:%M", when))?;
        let ts = civil
            .to_zoned(jiff::tz::TimeZone::UTC)?
            .timestamp()
            .as_millisecond();
        let value: f64 = fields.get(temp).ok_or("short row")?.parse()?;
        points.push(Point::new(ts, Value::F64(value)));
    }
    Ok(points)
}
