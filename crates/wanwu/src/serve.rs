//! `wanwu serve`: opens the data directory, binds the listeners, serves until SIGINT or
//! SIGTERM, then finishes in-flight requests and closes the store. [`serve_with`] runs the
//! same in-process until a given future completes, telling its caller where it listens
//! (`wanwu demo` builds on it).
//!
//! Wiring order: configuration → listeners (a taken port fails before anything else) →
//! platform (store, bootstrap) → metrics → HTTP → MQTT broker (attached to the platform
//! for downlinks and MQTT over WebSocket) → the `wanwu listening ...` line. On a signal the
//! broker shuts down first (clients are told, sessions flushed), then HTTP finishes.

use crate::config::Config;
use anyhow::{Context, Result};
use clap::Args;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::net::TcpListener;
use wanwu_api::{ApiConfig, AppState};
use wanwu_core::{BootstrapOutcome, Platform};
use wanwu_mqtt::Broker;

/// File in the data directory holding the generated admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// Flags of `wanwu serve`; each overrides the configuration file.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data directory [default: ./wanwu-data]
    #[arg(long, env = "WANWU_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// HTTP listen address (port 0 picks a free port) [default: 127.0.0.1:8080]
    #[arg(long, env = "WANWU_HTTP", value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// MQTT listen address (port 0 picks a free port) [default: 127.0.0.1:1883]
    #[arg(long, env = "WANWU_MQTT", value_name = "ADDR")]
    mqtt: Option<SocketAddr>,
    /// TOML configuration file
    #[arg(long, env = "WANWU_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Let MQTT clients without credentials in as app clients of tenant `default`
    #[arg(long, env = "WANWU_MQTT_ALLOW_ANONYMOUS")]
    mqtt_allow_anonymous: bool,
}

impl ServeArgs {
    /// The configuration: file (if any) with the flags applied over it.
    fn config(&self) -> Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(data) = &self.data {
            config.data = data.clone();
        }
        if let Some(http) = self.http {
            config.http.listen = http;
        }
        if let Some(mqtt) = self.mqtt {
            config.mqtt.listen = mqtt;
        }
        if self.mqtt_allow_anonymous {
            config.mqtt.allow_anonymous = true;
        }
        Ok(config)
    }
}

/// Runs `wanwu serve` to completion.
pub fn run(args: ServeArgs) -> Result<()> {
    let config = args.config()?;
    init_tracing(&config.log.filter);
    runtime()?.block_on(serve_with(config, shutdown_signal(), |_| {}))
}

/// The multi-threaded runtime the platform runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Logs to standard error, filtered by `RUST_LOG` or else by `default_filter`.
pub fn init_tracing(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

async fn bind(flag: &str, addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("{flag} {addr}: cannot listen"))
}

/// Where a started platform listens, and how to act as its admin.
#[derive(Clone, Debug)]
pub struct Ready {
    /// HTTP address (API and console).
    pub http: SocketAddr,
    /// MQTT address.
    pub mqtt: SocketAddr,
    /// The platform admin token: generated at this start, given by `WANWU_ADMIN_TOKEN`, or
    /// read from `DATA/admin-token`; `None` when none of them has it.
    pub admin_token: Option<String>,
}

/// Serves with `config` until `shutdown` completes, then stops the broker, finishes HTTP
/// requests and closes the stores. Calls `on_ready` once both listeners accept
/// connections and the `wanwu listening ...` line is printed.
pub async fn serve_with(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(Ready),
) -> Result<()> {
    let http_listener = bind("--http", config.http.listen).await?;
    let http_addr = http_listener.local_addr()?;
    let mqtt_listener = bind("--mqtt", config.mqtt.listen).await?;
    let mqtt_addr = mqtt_listener.local_addr()?;

    let telemetry = config.tsdb.options()?;
    let platform = Platform::open_with(&config.data, telemetry)
        .await
        .with_context(|| format!("--data {}: cannot open", config.data.display()))?;
    let given_token = std::env::var("WANWU_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let admin_token = match platform.bootstrap(given_token.as_deref()).await? {
        BootstrapOutcome::Generated(token) => {
            announce_admin_token(&config.data, &token)?;
            Some(token)
        }
        BootstrapOutcome::Given => {
            tracing::info!("admin token set from WANWU_ADMIN_TOKEN");
            given_token
        }
        BootstrapOutcome::Existing => stored_admin_token(&config.data),
    };

    let metrics = wanwu_api::metrics::install_recorder()
        .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))?;
    let state = AppState {
        platform: platform.clone(),
        metrics: Some(metrics),
        config: ApiConfig {
            max_body_bytes: config.http.max_body_bytes,
            ws: config.ws.settings()?,
        },
    };
    let broker = Broker::start(
        config.mqtt.broker_config(&config.data),
        wanwu_core::mqtt::hooks(&platform, config.mqtt.allow_anonymous),
    )
    .await
    .context("starting the MQTT broker")?;
    platform.downlink.attach(broker.clone());
    let mqtt = tokio::spawn({
        let broker = broker.clone();
        async move { broker.serve_tcp(mqtt_listener).await }
    });
    let app = wanwu_api::app(state).into_make_service_with_connect_info::<SocketAddr>();
    let http = axum::serve(http_listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        broker.shutdown().await;
    });

    println!("wanwu listening http={http_addr} mqtt={mqtt_addr}");
    std::io::stdout().flush().ok();
    tracing::info!(%http_addr, %mqtt_addr, data = %config.data.display(), "wanwu serving");
    on_ready(Ready {
        http: http_addr,
        mqtt: mqtt_addr,
        admin_token,
    });

    http.await.context("HTTP server failed")?;
    mqtt.await
        .context("MQTT listener task failed")?
        .context("MQTT listener failed")?;
    tracing::info!("shutting down: closing the stores");
    platform.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Prints the generated admin token once and writes it to `DATA/admin-token` (mode 0600).
fn announce_admin_token(data: &Path, token: &str) -> Result<()> {
    let path = data.join(ADMIN_TOKEN_FILE);
    write_private(&path, token).with_context(|| format!("writing {}", path.display()))?;
    println!(
        "wanwu admin token (shown once, also in {}): {token}",
        path.display()
    );
    Ok(())
}

/// The admin token a first start wrote to `DATA/admin-token`, if it is there.
fn stored_admin_token(data: &Path) -> Option<String> {
    let token = std::fs::read_to_string(data.join(ADMIN_TOKEN_FILE)).ok()?;
    Some(token.trim().to_owned()).filter(|t| !t.is_empty())
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{content}\n"))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received"),
        _ = terminate => tracing::info!("SIGTERM received"),
    }
}
