//! The device registry: creating devices in batches over the REST API against one
//! transaction per device, and authenticating devices from the cache against a token
//! lookup in the store.
//!
//! The platform serves its real router on 127.0.0.1:0 in this process; the client (the
//! simulator's provisioning client, batches of 1,000 on `POST /devices:batch`) shares the
//! cores. The creation baseline makes the same number of devices on a second platform,
//! one `Registry::create_device` call (one SQLite transaction) each, without HTTP: what a
//! client without the batch endpoint causes at best. Authentication: the cached path of
//! every MQTT CONNECT against hashing the token and finding it in SQLite, over the
//! devices created above.

use super::table::{Row, Table};
use anyhow::{Context, Result};
use std::hint::black_box;
use std::time::{Duration, Instant};
use wanwu_api::{ApiConfig, AppState};
use wanwu_core::token::{self, TokenKind};
use wanwu_core::{BootstrapOutcome, Platform, Scope};
use wanwu_sim::{ApiClient, Credentials, Scenario, fleet_plan};

/// Sizes of one run.
struct Sizes {
    /// Devices created by each side.
    devices: usize,
    /// Cached authentications timed.
    cached_auths: usize,
    /// Store lookups timed.
    store_lookups: usize,
}

/// Runs the registry benchmark.
pub fn run(quick: bool) -> Result<Table> {
    let sizes = if quick {
        Sizes {
            devices: 2_000,
            cached_auths: 5_000,
            store_lookups: 500,
        }
    } else {
        Sizes {
            devices: 50_000,
            cached_auths: 50_000,
            store_lookups: 5_000,
        }
    };
    let runtime = crate::serve::runtime()?;
    runtime.block_on(measure(&sizes))
}

async fn measure(sizes: &Sizes) -> Result<Table> {
    let batch = Side::open().await?;
    let (batch_time, credentials) = batch.create_over_http(sizes.devices).await?;
    let single = Side::open().await?;
    let single_time = single.create_one_by_one(sizes.devices).await?;
    single.platform.shutdown().await;

    let cached = batch
        .cached_auth_us(&credentials, sizes.cached_auths)
        .await?;
    let lookup = batch
        .store_lookup_us(&credentials, sizes.store_lookups)
        .await?;
    batch.platform.shutdown().await;

    let rate = |d: Duration| sizes.devices as f64 / d.as_secs_f64();
    Ok(Table {
        name: "registry",
        baseline: "baseline",
        setup: format!(
            "{} devices per side; baselines: one transaction per device (no HTTP), \
             token lookup in SQLite; {} cached and {} uncached authentications",
            sizes.devices, sizes.cached_auths, sizes.store_lookups
        ),
        load_shares_cores: true,
        rows: vec![
            Row {
                measure: "device creation, devices/s".into(),
                wanwu: rate(batch_time),
                baseline: rate(single_time),
                higher_is_better: true,
            },
            Row {
                measure: "device authentication, us per call".into(),
                wanwu: cached,
                baseline: lookup,
                higher_is_better: false,
            },
        ],
    })
}

/// A platform on a temporary data directory with the air-station product.
struct Side {
    _dir: tempfile::TempDir,
    platform: Platform,
    admin_token: String,
}

impl Side {
    async fn open() -> Result<Side> {
        let dir = tempfile::tempdir().context("creating a temporary data directory")?;
        let platform = Platform::open(dir.path())
            .await
            .context("opening the platform")?;
        let BootstrapOutcome::Generated(admin_token) = platform.bootstrap(None).await? else {
            anyhow::bail!("a fresh data directory has no admin token yet");
        };
        let side = Side {
            _dir: dir,
            platform,
            admin_token,
        };
        let admin = side.admin().await?;
        side.platform
            .registry
            .create_product(&admin, Scenario::AirQuality.product())
            .await
            .context("creating the product")?;
        Ok(side)
    }

    async fn admin(&self) -> Result<Scope> {
        let principal = self
            .platform
            .authenticate_api_token(&self.admin_token)
            .await
            .context("the admin token does not authenticate")?;
        Ok(Scope::own(principal))
    }

    /// Serves the API and creates `count` devices through it in batches; the time taken
    /// and the devices' credentials.
    async fn create_over_http(&self, count: usize) -> Result<(Duration, Vec<Credentials>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the API")?;
        let addr = listener.local_addr()?;
        let state = AppState {
            platform: self.platform.clone(),
            metrics: None,
            config: ApiConfig::default(),
        };
        let server =
            tokio::spawn(async move { axum::serve(listener, wanwu_api::app(state)).await });
        let api = ApiClient::new(&format!("http://{addr}"), &self.admin_token)?;
        let plan = fleet_plan(1, &[Scenario::AirQuality], count, "bench-");
        let start = Instant::now();
        let credentials = api.create_devices(&plan.devices).await?;
        let elapsed = start.elapsed();
        server.abort();
        anyhow::ensure!(
            credentials.len() == count,
            "{} of {count} devices created",
            credentials.len()
        );
        Ok((elapsed, credentials))
    }

    /// Creates `count` devices one call (one transaction) each; the time taken.
    async fn create_one_by_one(&self, count: usize) -> Result<Duration> {
        let admin = self.admin().await?;
        let plan = fleet_plan(1, &[Scenario::AirQuality], count, "bench-");
        let inputs = plan
            .devices
            .iter()
            .map(|d| serde_json::to_value(d).and_then(serde_json::from_value))
            .collect::<Result<Vec<_>, _>>()
            .context("device inputs")?;
        let start = Instant::now();
        for input in inputs {
            self.platform
                .registry
                .create_device(&admin, input)
                .await
                .context("creating a device")?;
        }
        Ok(start.elapsed())
    }

    /// Mean µs of a cached authentication, after one warming pass over every device.
    async fn cached_auth_us(&self, devices: &[Credentials], calls: usize) -> Result<f64> {
        for device in devices {
            self.platform
                .authenticate_device(&device.id, &device.token)
                .await
                .with_context(|| format!("device {} does not authenticate", device.id))?;
        }
        let start = Instant::now();
        for i in 0..calls {
            let device = spread(devices, i);
            black_box(
                self.platform
                    .authenticate_device(&device.id, &device.token)
                    .await,
            );
        }
        Ok(per_call_us(start.elapsed(), calls))
    }

    /// Mean µs of hashing a device token and finding it in the store.
    async fn store_lookup_us(&self, devices: &[Credentials], calls: usize) -> Result<f64> {
        let start = Instant::now();
        for i in 0..calls {
            let device = spread(devices, i);
            let hash = token::hash(TokenKind::Device, &device.token);
            black_box(
                self.platform
                    .store
                    .find_device_by_token(&hash)
                    .await
                    .context("token lookup")?,
            );
        }
        Ok(per_call_us(start.elapsed(), calls))
    }
}

/// The `i`-th device of a walk that visits the devices out of order.
fn spread(devices: &[Credentials], i: usize) -> &Credentials {
    &devices[(i * 7919) % devices.len()]
}

fn per_call_us(elapsed: Duration, calls: usize) -> f64 {
    elapsed.as_secs_f64() * 1e6 / calls.max(1) as f64
}
