//! `wanwu demo`: the platform and a simulated smart city in one process.
//!
//! Serves like `wanwu serve` (on a temporary data directory unless `--data` is given),
//! provisions the demo city through the platform's own REST API (assets city ->
//! districts -> sites with coordinates, products, a few hundred devices), creates the
//! example rules, prints the console URL and an admin token, then runs every device over
//! real MQTT until SIGINT or SIGTERM: the devices stop first, then the platform.

use crate::config::Config;
use crate::demo_rules::city_rules;
use crate::serve::{Ready, init_tracing, runtime, serve_with, shutdown_signal};
use anyhow::{Context, Result};
use clap::Args;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{oneshot, watch};
use wanwu_sim::{ApiClient, CityPlan, Credentials, SimError, SimOptions, demo_city, drive};

/// Wall time between two readings of one device.
const READING_INTERVAL: Duration = Duration::from_secs(5);
/// With `--speed` above 1, simulated time starts this much wall time before it reaches
/// the present (readings ahead of the clock are refused by the platform).
const CATCH_UP: Duration = Duration::from_secs(3600);

/// Flags of `wanwu demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Data directory [default: a temporary directory, deleted on exit]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// HTTP listen address (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// MQTT listen address (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1883")]
    mqtt: SocketAddr,
    /// Most devices to simulate (the city has about 260), taken in turn from every scenario
    #[arg(long, value_name = "N")]
    devices: Option<usize>,
    /// Seed: the same seed gives the same devices and the same data
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How much faster simulated time runs than wall time. Above 1, the simulation starts
    /// in the past and reaches the present after an hour; later readings lie in the future
    /// and the platform refuses them.
    #[arg(long, value_name = "X", default_value_t = 1.0, value_parser = speed_factor)]
    speed: f64,
}

/// Parses `--speed`: a finite number of at least 1.
fn speed_factor(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 1.0 => Ok(x),
        _ => Err(format!("{text:?} is not a speed-up of at least 1")),
    }
}

impl DemoArgs {
    /// The platform's configuration and, when no `--data` was given, the temporary
    /// directory that holds the data (removed when dropped).
    fn config(&self) -> Result<(Config, Option<tempfile::TempDir>)> {
        let mut config = Config::default();
        config.http.listen = self.http;
        config.mqtt.listen = self.mqtt;
        let temporary = match &self.data {
            Some(dir) => {
                config.data = dir.clone();
                None
            }
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("wanwu-demo-")
                    .tempdir()
                    .context("creating a temporary data directory")?;
                config.data = dir.path().to_owned();
                Some(dir)
            }
        };
        Ok((config, temporary))
    }

    /// The city to simulate.
    fn plan(&self) -> CityPlan {
        let city = demo_city(self.seed);
        match self.devices {
            Some(limit) => city.at_most(limit),
            None => city,
        }
    }

    /// How the simulator runs against the platform at `ready`.
    fn options(&self, ready: &Ready, token: String) -> SimOptions {
        let start_ms = (self.speed > 1.0).then(|| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            now - (CATCH_UP.as_secs_f64() * (self.speed - 1.0) * 1000.0) as i64
        });
        SimOptions {
            api_url: format!("http://{}", reachable(ready.http)),
            mqtt: reachable(ready.mqtt).to_string(),
            token,
            interval: READING_INTERVAL,
            rate: 1.0,
            seed: self.seed,
            speed_up: self.speed,
            start_ms,
            ..SimOptions::default()
        }
    }
}

/// Runs `wanwu demo` until SIGINT or SIGTERM.
pub fn run(args: DemoArgs) -> Result<()> {
    let (config, temporary) = args.config()?;
    init_tracing(&config.log.filter);
    let outcome = runtime()?.block_on(demo(&args, config));
    if let Some(dir) = temporary {
        dir.close()
            .context("removing the temporary data directory")?;
    }
    outcome
}

async fn demo(args: &DemoArgs, config: Config) -> Result<()> {
    let data = config.data.clone();
    let (signalled_tx, signalled) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = signalled_tx.send(true);
    });
    let (stop_server, server_stopped) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = oneshot::channel();
    let server = tokio::spawn(serve_with(
        config,
        async move {
            let _ = server_stopped.await;
        },
        move |ready| {
            let _ = ready_tx.send(ready);
        },
    ));
    // No `Ready` means the server ended before listening: its error follows below.
    let city = match ready_rx.await {
        Ok(ready) => run_city(args, &ready, &data, signalled).await,
        Err(_) => Ok(()),
    };
    let _ = stop_server.send(());
    let served = server.await.context("the platform task failed")?;
    city.and(served)
}

/// Provisions the city on the platform at `ready`, prints how to reach it, and drives
/// its devices until `signalled` turns true.
async fn run_city(
    args: &DemoArgs,
    ready: &Ready,
    data: &std::path::Path,
    signalled: watch::Receiver<bool>,
) -> Result<()> {
    let token = ready.admin_token.clone().with_context(|| {
        format!(
            "no admin token for --data {}: set WANWU_ADMIN_TOKEN",
            data.display()
        )
    })?;
    let plan = args.plan();
    let options = args.options(ready, token.clone());
    let api = ApiClient::new(&options.api_url, &token)?;
    let rules = city_rules(&plan);
    let credentials = tokio::select! {
        provisioned = provision(&api, &plan, &rules) => provisioned.context("provisioning the demo city")?,
        () = until_true(signalled.clone()) => return Ok(()),
    };
    let summary = format!(
        "wanwu demo: the city of Haixin, {} assets, {} devices, {} rules (seed {}, speed {}x)\n\
         console:     http://{}/\n\
         admin token: {token}\n\
         MQTT:        {}\n\
         data:        {}\n\
         Ctrl-C stops the devices, then the platform.",
        plan.assets.len(),
        plan.devices.len(),
        rules.len(),
        args.seed,
        args.speed,
        reachable(ready.http),
        reachable(ready.mqtt),
        data.display(),
    );
    println!("{summary}");
    std::io::stdout().flush().ok();
    let outcome = drive(&plan, &credentials, &options, until_true(signalled))
        .await
        .context("running the simulated devices")?;
    print!("{outcome}");
    std::io::stdout().flush().ok();
    Ok(())
}

/// Creates the plan's products, assets and devices, then `rules` (those that exist are
/// left as they are); the devices' credentials.
async fn provision(
    api: &ApiClient,
    plan: &CityPlan,
    rules: &[serde_json::Value],
) -> Result<Vec<Credentials>, SimError> {
    let credentials = api.provision(plan).await?;
    for rule in rules {
        let context = format!("creating rule {}", rule["id"]);
        api.create("/rules", rule, &context).await?;
    }
    Ok(credentials)
}

/// Resolves once `flag` is true (or its sender is gone).
async fn until_true(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}

/// The address to connect to for a listener bound to `addr`: loopback for an unspecified
/// address such as `0.0.0.0`.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::reachable;

    #[test]
    fn speed_is_a_finite_factor_of_at_least_one() {
        assert_eq!(super::speed_factor("60"), Ok(60.0));
        assert_eq!(super::speed_factor("1"), Ok(1.0));
        for bad in ["0.5", "-2", "NaN", "inf", "fast"] {
            assert!(super::speed_factor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unspecified_addresses_are_reached_over_loopback() {
        let at = |s: &str| -> std::net::SocketAddr { s.parse().unwrap() };
        assert_eq!(reachable(at("0.0.0.0:8080")), at("127.0.0.1:8080"));
        assert_eq!(reachable(at("[::]:1883")), at("[::1]:1883"));
        assert_eq!(reachable(at("10.0.0.5:80")), at("10.0.0.5:80"));
    }
}
