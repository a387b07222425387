//! `wanwu sim`: simulated smart-city devices against a running wanwu.
//!
//! Creates the scenarios' products and devices through the REST API, connects every
//! device over MQTT and runs them until `--duration` ends or Ctrl-C, then prints the
//! simulator's summary.

use anyhow::Context;
use clap::Args;
use std::time::Duration;
use wanwu_sim::{Scenario, SimOptions};

/// Flags of `wanwu sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Base URL of the platform's HTTP API.
    #[arg(long, env = "WANWU_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// MQTT address of the platform, `host:port`.
    #[arg(long, env = "WANWU_MQTT", default_value = "127.0.0.1:1883")]
    mqtt: String,
    /// API token allowed to create products, assets and devices.
    #[arg(long, env = "WANWU_TOKEN", hide_env_values = true)]
    token: String,
    /// Scenarios, comma separated (air-quality, water, power-grid, factory, fleet,
    /// street-lights); all by default.
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<Scenario>,
    /// Number of devices, shared round-robin by the scenarios.
    #[arg(long, default_value_t = 60)]
    devices: usize,
    /// Telemetry messages per device per second.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Seconds to run; until Ctrl-C when absent.
    #[arg(long)]
    duration: Option<u64>,
    /// Seed: the same seed gives the same devices and data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How much faster simulated time runs than wall time.
    #[arg(long, default_value_t = 1.0)]
    speed_up: f64,
    /// Prefix of device ids.
    #[arg(long, default_value = "sim-")]
    prefix: String,
}

impl SimArgs {
    fn options(self) -> SimOptions {
        let defaults = SimOptions::default();
        SimOptions {
            api_url: self.url,
            mqtt: self.mqtt,
            token: self.token,
            scenarios: if self.scenarios.is_empty() {
                defaults.scenarios.clone()
            } else {
                self.scenarios
            },
            devices: self.devices,
            id_prefix: self.prefix,
            rate: self.rate,
            duration: self.duration.map(Duration::from_secs),
            seed: self.seed,
            speed_up: self.speed_up,
            ..defaults
        }
    }
}

/// Runs the simulator and prints its summary.
pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let options = args.options();
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    let summary = runtime
        .block_on(wanwu_sim::run(&options, async {
            let _ = tokio::signal::ctrl_c().await;
        }))
        .context("running the simulator")?;
    print!("{summary}");
    Ok(())
}
