//! The `wanwu` binary: command line and wiring only.
//!
//! Each subcommand lives in its own module; `main` parses the command line and dispatches.
//! Exit codes: 0 ok, 2 usage (from clap), 1 runtime failure.

mod bench;
mod config;
mod demo;
mod demo_rules;
mod serve;
mod sim;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The process's allocator. mimalloc keeps a heap per thread: the ingest path's many small,
/// short-lived allocations (made on the runtime's threads, often freed on the log writer's)
/// cost a fraction of what glibc's shared arenas charge, where they were a third of the
/// server's CPU time under MQTT load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// wanwu (万物): an open, self-hostable AIoT platform in one binary.
#[derive(Debug, Parser)]
#[command(name = "wanwu", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the platform: HTTP API, console and MQTT on an embedded data directory.
    Serve(serve::ServeArgs),
    /// Runs the platform with a simulated smart city on it, printing the console URL.
    Demo(demo::DemoArgs),
    /// Runs the benchmarks, each against its baseline in the same run.
    Bench(bench::BenchArgs),
    /// Simulates smart-city devices against a running wanwu over its API and MQTT.
    Sim(sim::SimArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Sim(args) => sim::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
