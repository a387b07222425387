//! A standalone broker over the library, for interoperability tests, crash tests and
//! benchmarks: static user/password logins, optional persistence.
//!
//! ```text
//! wanwu-mqtt-broker [--listen ADDR] [--data DIR] [--user NAME:PASSWORD[@NAMESPACE]]...
//!                   [--fsync always|never|MS] [--max-queued N] [--receive-maximum N]
//! ```
//! Without `--user`, everyone is admitted into namespace `default`. Prints
//! `listening on ADDR` once ready; SIGINT/SIGTERM shut down gracefully.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use wanwu_mqtt::{
    AllowAll, Authenticator, Broker, BrokerConfig, ConnectInfo, FsyncPolicy, HookFuture, Hooks,
    Principal, ReasonCode,
};

/// Logins from the command line: user -> (password, namespace).
struct StaticUsers(HashMap<String, (String, String)>);

impl Authenticator for StaticUsers {
    fn authenticate<'a>(
        &'a self,
        info: &'a ConnectInfo<'a>,
    ) -> HookFuture<'a, Result<Principal, ReasonCode>> {
        let verdict = match (info.username.and_then(|u| self.0.get(u)), info.password) {
            (Some((password, namespace)), Some(given)) if password.as_bytes() == given => {
                Ok(Principal::new(namespace.as_str()))
            }
            _ => Err(ReasonCode::BAD_USERNAME_OR_PASSWORD),
        };
        Box::pin(std::future::ready(verdict))
    }
}

struct Options {
    listen: String,
    config: BrokerConfig,
    users: HashMap<String, (String, String)>,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        listen: "127.0.0.1:1883".into(),
        config: BrokerConfig::default(),
        users: HashMap::new(),
    };
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => options.listen = value()?,
            "--data" => options.config.data_dir = Some(value()?.into()),
            "--fsync" => {
                options.config.fsync = match value()?.as_str() {
                    "always" => FsyncPolicy::Always,
                    "never" => FsyncPolicy::Never,
                    ms => FsyncPolicy::Interval(Duration::from_millis(
                        ms.parse().map_err(|_| "bad --fsync")?,
                    )),
                }
            }
            "--max-queued" => {
                options.config.max_queued_messages =
                    value()?.parse().map_err(|_| "bad --max-queued")?
            }
            "--receive-maximum" => {
                options.config.receive_maximum =
                    value()?.parse().map_err(|_| "bad --receive-maximum")?
            }
            "--user" => {
                let spec = value()?;
                let (login, namespace) = spec.rsplit_once('@').unwrap_or((&spec, "default"));
                let (name, password) = login.split_once(':').ok_or("--user needs NAME:PASSWORD")?;
                options
                    .users
                    .insert(name.into(), (password.into(), namespace.into()));
            }
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            if !error.is_empty() {
                eprintln!("error: {error}");
            }
            eprintln!(
                "usage: wanwu-mqtt-broker [--listen ADDR] [--data DIR] [--user NAME:PASSWORD[@NS]]... \
                 [--fsync always|never|MS] [--max-queued N] [--receive-maximum N]"
            );
            return ExitCode::from(2);
        }
    };
    let hooks = if options.users.is_empty() {
        Hooks::new(AllowAll::new("default"))
    } else {
        Hooks::new(StaticUsers(options.users))
    };
    let broker = match Broker::start(options.config, hooks).await {
        Ok(broker) => broker,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(&options.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: --listen {}: {error}", options.listen);
            return ExitCode::FAILURE;
        }
    };
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!("listening on {address}");
    let serving = tokio::spawn({
        let broker = broker.clone();
        async move { broker.serve_tcp(listener).await }
    });
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    broker.shutdown().await;
    let _ = serving.await;
    ExitCode::SUCCESS
}
