//! Benchmarks wanwu's MQTT broker against mosquitto and prints the comparison.
//!
//! ```text
//! cargo build --release -p wanwu-mqtt --bin wanwu-mqtt-broker
//! cargo run --release -p wanwu-sim --example mqtt_bench -- \
//!     [--wanwu PATH] [--mosquitto PATH] [--seconds N] [--idle N] [--publishers N] [--subscribers N]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wanwu_sim::mqtt_load::{MqttBenchOptions, run};

fn default_wanwu_broker() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("release/wanwu-mqtt-broker")
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut wanwu = default_wanwu_broker();
    let mut mosquitto = PathBuf::from("/usr/sbin/mosquitto");
    let mut tweaks: Vec<(String, String)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            eprintln!("{flag} needs a value");
            return ExitCode::from(2);
        };
        match flag.as_str() {
            "--wanwu" => wanwu = value.into(),
            "--mosquitto" => mosquitto = value.into(),
            _ => tweaks.push((flag, value)),
        }
    }
    let mut options = MqttBenchOptions::standard(wanwu, mosquitto);
    for (flag, value) in tweaks {
        let Ok(number) = value.parse::<usize>() else {
            eprintln!("{flag}: not a number: {value}");
            return ExitCode::from(2);
        };
        match flag.as_str() {
            "--seconds" => options.duration = Duration::from_secs(number as u64),
            "--idle" => options.idle_connections = number,
            "--publishers" => options.publishers = number,
            "--subscribers" => options.subscribers = number,
            _ => {
                eprintln!("unknown flag {flag}");
                return ExitCode::from(2);
            }
        }
    }
    match run(&options).await {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
