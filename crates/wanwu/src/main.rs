//! The `wanwu` binary: command line and wiring only.
//!
//! Each subcommand lives in its own module; `main` parses the command line and dispatches.
//! Exit codes: 0 ok, 2 usage (from clap), 1 runtime failure.

mod config;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
