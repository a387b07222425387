//! The rule engine benchmark: `cargo run --release -p wanwu-rules --example rules_bench --
//! [--rules N] [--devices N] [--messages N] [--rate N] [--seconds N] [--workers N]`.

use wanwu_rules::bench::{BenchConfig, run};

fn main() {
    let mut config = BenchConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        let Some(value) = value else {
            eprintln!(
                "usage: rules_bench [--rules N] [--devices N] [--messages N] [--rate N] [--seconds N] [--workers N]"
            );
            std::process::exit(2);
        };
        match flag.as_str() {
            "--rules" => config.rules = value as usize,
            "--devices" => config.devices = value as usize,
            "--messages" => config.messages = value as usize,
            "--rate" => config.rate = value,
            "--seconds" => config.seconds = value,
            "--workers" => config.workers = value as usize,
            other => {
                eprintln!("unknown flag {other}");
                std::process::exit(2);
            }
        }
    }
    print!("{}", run(config));
}
