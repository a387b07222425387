//! How many simulated devices one core carries: runs `--devices` devices of every
//! scenario against an MQTT broker for `--seconds`, then prints what was sent and the CPU
//! time and memory this process used.
//!
//! ```text
//! cargo run --release -p wanwu-mqtt --bin wanwu-mqtt-broker -- --listen 127.0.0.1:18830 &
//! cargo run --release -p wanwu-sim --example sim_scale -- --mqtt 127.0.0.1:18830 --devices 5000
//! ```
//! The broker admits everyone, so devices need no provisioning here.

use std::time::Duration;
use wanwu_sim::{Credentials, Scenario, SimOptions, drive, fleet_plan};

/// CPU seconds (user + system) this process has used, from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident memory of this process in MiB, from `/proc/self/status`.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let devices: usize = arg(&args, "--devices", "2000")
        .parse()
        .expect("--devices N");
    let seconds: u64 = arg(&args, "--seconds", "30").parse().expect("--seconds N");
    let rate: f64 = arg(&args, "--rate", "1")
        .parse()
        .expect("--rate messages per device per second");
    let options = SimOptions {
        mqtt: arg(&args, "--mqtt", "127.0.0.1:1883"),
        rate,
        duration: Some(Duration::from_secs(seconds)),
        speed_up: 60.0,
        connect_rate: 1000,
        ..SimOptions::default()
    };
    let plan = fleet_plan(1, &Scenario::ALL, devices, "scale-");
    let credentials: Vec<_> = plan
        .devices
        .iter()
        .map(|d| Credentials {
            id: d.id.clone(),
            token: "-".into(),
        })
        .collect();
    let cpu_before = cpu_seconds();
    let summary = drive(&plan, &credentials, &options, std::future::pending())
        .await
        .expect("valid options");
    let cpu = cpu_seconds() - cpu_before;
    let wall = summary.elapsed_ms as f64 / 1000.0;
    println!("{summary}");
    println!(
        "cpu            {cpu:.1} s over {wall:.1} s wall = {:.2} cores; {:.0} devices per core at {rate} msg/s each; peak RSS {:.0} MiB",
        cpu / wall,
        devices as f64 / (cpu / wall).max(1e-6),
        peak_rss_mib()
    );
}
