//! Runs a plan: provisions it through the REST API ([`run_plan`]), then drives every device
//! over MQTT ([`drive`]) until the duration ends or the caller stops it, and sums up.

use crate::api::{ApiClient, Credentials};
use crate::device::SimDevice;
use crate::error::SimError;
use crate::plan::{CityPlan, fleet_plan};
use crate::scenario::Scenario;
use crate::session::{SessionConfig, run_session};
use crate::stats::{Stats, Summary};
use rumqttc::QoS;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio::time::Instant;

/// What to simulate, against which platform, how fast.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Base URL of the platform's HTTP API, e.g. `http://127.0.0.1:8080`.
    pub api_url: String,
    /// MQTT address, `host:port`.
    pub mqtt: String,
    /// API token allowed to create products, assets and devices.
    pub token: String,
    /// Scenarios to simulate (for [`run`]; a plan brings its own).
    pub scenarios: Vec<Scenario>,
    /// Number of devices, shared round-robin by the scenarios (for [`run`]).
    pub devices: usize,
    /// Prefix of device ids (for [`run`]).
    pub id_prefix: String,
    /// Telemetry messages per device per `interval`.
    pub rate: f64,
    /// The wall-clock interval that `rate` counts in.
    pub interval: Duration,
    /// How long to run; `None` runs until stopped.
    pub duration: Option<Duration>,
    /// Seed: the same seed gives the same devices and data.
    pub seed: u64,
    /// How much faster simulated time runs than wall time.
    pub speed_up: f64,
    /// Simulated time of the first step, ms since the Unix epoch. By default the run is
    /// placed so that simulated time reaches the present exactly at the end of `duration`
    /// (never in the future); without a duration it starts now.
    pub start_ms: Option<i64>,
    /// QoS of telemetry and events (0 or 1).
    pub qos: u8,
    /// New MQTT connections per second while devices come online.
    pub connect_rate: u32,
    /// How long to wait for outstanding acknowledgements when stopping.
    pub drain: Duration,
}

impl Default for SimOptions {
    fn default() -> SimOptions {
        SimOptions {
            api_url: "http://127.0.0.1:8080".into(),
            mqtt: "127.0.0.1:1883".into(),
            token: String::new(),
            scenarios: Scenario::ALL.to_vec(),
            devices: 60,
            id_prefix: "sim-".into(),
            rate: 1.0,
            interval: Duration::from_secs(1),
            duration: None,
            seed: 1,
            speed_up: 1.0,
            start_ms: None,
            qos: 1,
            connect_rate: 500,
            drain: Duration::from_secs(5),
        }
    }
}

impl SimOptions {
    /// Checks the options.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |m: &str| Err(SimError::Options(m.into()));
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return bad("rate must be a positive number");
        }
        if self.interval.is_zero() {
            return bad("interval must be longer than zero");
        }
        if !(self.speed_up.is_finite() && self.speed_up >= 1.0) {
            return bad("speed-up must be at least 1");
        }
        if self.qos > 1 {
            return bad("qos must be 0 or 1");
        }
        if self.connect_rate == 0 {
            return bad("connect rate must be at least 1 per second");
        }
        if self.scenarios.is_empty() {
            return bad("at least one scenario is needed");
        }
        self.mqtt_address().map(|_| ())
    }

    /// The MQTT host and port.
    fn mqtt_address(&self) -> Result<(String, u16), SimError> {
        let (host, port) = self.mqtt.rsplit_once(':').ok_or_else(|| {
            SimError::Options(format!("mqtt address {:?} is not host:port", self.mqtt))
        })?;
        let port = port
            .parse()
            .map_err(|_| SimError::Options(format!("mqtt port {port:?} is not a port number")))?;
        Ok((host.trim_matches(['[', ']']).to_owned(), port))
    }

    /// Wall time between two steps of one device.
    pub fn step_wall(&self) -> Duration {
        self.interval.div_f64(self.rate)
    }

    /// Simulated time between two steps of one device, ms (at least 1).
    pub fn step_sim_ms(&self) -> i64 {
        ((self.step_wall().as_secs_f64() * self.speed_up * 1000.0).round() as i64).max(1)
    }

    /// Simulated time of the first step, given the wall clock `now_ms`.
    pub fn start_ms_at(&self, now_ms: i64) -> i64 {
        self.start_ms.unwrap_or_else(|| match self.duration {
            Some(d) => now_ms - (d.as_secs_f64() * (self.speed_up - 1.0) * 1000.0) as i64,
            None => now_ms,
        })
    }
}

/// Provisions `options.devices` devices of `options.scenarios` and runs them for
/// `options.duration` (or until `stop` completes): `wanwu sim`.
pub async fn run(
    options: &SimOptions,
    stop: impl Future<Output = ()> + Send,
) -> Result<Summary, SimError> {
    options.validate()?;
    let plan = fleet_plan(
        options.seed,
        &options.scenarios,
        options.devices,
        &options.id_prefix,
    );
    run_plan(&plan, options, stop).await
}

/// Provisions `plan` (products, assets, devices) through the REST API and runs it until
/// `options.duration` ends or `stop` completes: `wanwu demo` runs [`crate::demo_city`].
pub async fn run_plan(
    plan: &CityPlan,
    options: &SimOptions,
    stop: impl Future<Output = ()> + Send,
) -> Result<Summary, SimError> {
    options.validate()?;
    let api = ApiClient::new(&options.api_url, &options.token)?;
    let credentials = api.provision(plan).await?;
    drive(plan, &credentials, options, stop).await
}

/// Runs already provisioned devices of `plan` over MQTT with their `credentials` until
/// `options.duration` ends or `stop` completes, then waits for acknowledgements (up to
/// `options.drain`) and sums up. Devices without credentials are left out.
pub async fn drive(
    plan: &CityPlan,
    credentials: &[Credentials],
    options: &SimOptions,
    stop: impl Future<Output = ()> + Send,
) -> Result<Summary, SimError> {
    options.validate()?;
    let (host, port) = options.mqtt_address()?;
    let config = Arc::new(SessionConfig {
        host,
        port,
        qos: if options.qos == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        },
        step_wall: options.step_wall(),
        keep_alive_s: 60,
        drain: options.drain,
    });
    let tokens: HashMap<&str, &str> = credentials
        .iter()
        .map(|c| (c.id.as_str(), c.token.as_str()))
        .collect();
    let start_ms = options.start_ms_at(wall_now_ms());
    let step_ms = options.step_sim_ms();
    let stats = Arc::new(Stats::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let began = Instant::now();

    let devices: Vec<_> = plan
        .devices
        .iter()
        .filter_map(|d| Some((d, tokens.get(d.id.as_str())?.to_string())))
        .collect();
    let count = devices.len();
    let mut sessions = Vec::with_capacity(count);
    for (n, (plan_device, token)) in devices.into_iter().enumerate() {
        let device = SimDevice::new(
            &plan_device.id,
            plan_device.scenario,
            plan.seed,
            plan_device.index,
            start_ms,
            step_ms,
        );
        // Connections come at `connect_rate` per second; ticks are spread over one step.
        let connect_at = began + Duration::from_secs_f64(n as f64 / options.connect_rate as f64);
        let stagger = config.step_wall.mul_f64(n as f64 / count.max(1) as f64);
        let (config, stats, stop) = (config.clone(), stats.clone(), stop_rx.clone());
        sessions.push(tokio::spawn(async move {
            tokio::time::sleep_until(connect_at).await;
            if *stop.borrow() {
                return;
            }
            let first_tick = Instant::now() + stagger;
            run_session(device, token, first_tick, config, stats, stop).await;
        }));
    }

    let deadline = async {
        match options.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = deadline => {}
        _ = stop => {}
    }
    let elapsed = began.elapsed();
    let _ = stop_tx.send(true);
    let give_up = Instant::now() + options.drain + Duration::from_secs(5);
    for session in sessions {
        let abort = session.abort_handle();
        if tokio::time::timeout_at(give_up, session).await.is_err() {
            abort.abort();
        }
    }
    let steps = (elapsed.as_secs_f64() / config.step_wall.as_secs_f64()).floor();
    let simulated = Duration::from_millis((steps * step_ms as f64) as u64);
    Ok(stats.summary(count, elapsed, simulated))
}

fn wall_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_time_catches_up_with_the_present_at_the_end() {
        let options = SimOptions {
            speed_up: 60.0,
            duration: Some(Duration::from_secs(600)),
            rate: 2.0,
            ..SimOptions::default()
        };
        assert_eq!(options.step_wall(), Duration::from_millis(500));
        assert_eq!(options.step_sim_ms(), 30_000);
        let now = 1_700_000_000_000;
        let start = options.start_ms_at(now);
        // 1200 steps of 30 s simulated end exactly 600 s of wall time after now.
        assert_eq!(start + 1200 * 30_000, now + 600_000);
        let open_ended = SimOptions {
            duration: None,
            ..options
        };
        assert_eq!(open_ended.start_ms_at(now), now);
    }

    #[test]
    fn bad_options_are_refused() {
        for options in [
            SimOptions {
                rate: 0.0,
                ..SimOptions::default()
            },
            SimOptions {
                speed_up: 0.5,
                ..SimOptions::default()
            },
            SimOptions {
                qos: 2,
                ..SimOptions::default()
            },
            SimOptions {
                mqtt: "localhost".into(),
                ..SimOptions::default()
            },
            SimOptions {
                mqtt: "localhost:http".into(),
                ..SimOptions::default()
            },
            SimOptions {
                scenarios: vec![],
                ..SimOptions::default()
            },
        ] {
            assert!(
                matches!(options.validate(), Err(SimError::Options(_))),
                "{options:?}"
            );
        }
        SimOptions::default().validate().unwrap();
    }
}
