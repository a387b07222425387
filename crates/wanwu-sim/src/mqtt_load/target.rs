//! Brokers under test, run as child processes, and what /proc says about them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::{CpuUse, LoadError};

/// How to start a broker that listens on a given port.
#[derive(Debug, Clone)]
pub struct BrokerSpec {
    /// Name shown in the report.
    pub name: String,
    /// Program to run.
    pub program: PathBuf,
    /// Arguments; `{port}` is replaced by the port and `{dir}` by a scratch directory.
    pub args: Vec<String>,
    /// A configuration file to write to `{dir}/broker.conf` first (with the same
    /// substitutions), for brokers configured by file.
    pub config_file: Option<String>,
}

impl BrokerSpec {
    /// wanwu's standalone broker binary (`wanwu-mqtt-broker`), persistence off.
    pub fn wanwu(program: impl Into<PathBuf>) -> Self {
        Self {
            name: "wanwu".into(),
            program: program.into(),
            args: [
                "--listen",
                "127.0.0.1:{port}",
                "--max-queued",
                "100000",
                "--receive-maximum",
                "64",
            ]
            .map(String::from)
            .to_vec(),
            config_file: None,
        }
    }

    /// The whole platform, `wanwu serve` of the executable at `program`: its broker with the
    /// platform's authentication, ACL, uplink and presence hooks, persistence in a scratch
    /// data directory, anonymous clients admitted as applications of tenant `default`, and
    /// queues as deep as mosquitto's.
    pub fn wanwu_serve(program: impl Into<PathBuf>) -> Self {
        Self {
            name: "wanwu".into(),
            program: program.into(),
            args: [
                "serve",
                "--data",
                "{dir}/data",
                "--http",
                "127.0.0.1:0",
                "--mqtt",
                "127.0.0.1:{port}",
                "--mqtt-allow-anonymous",
                "--config",
                "{dir}/broker.conf",
            ]
            .map(String::from)
            .to_vec(),
            config_file: Some(
                "[mqtt]\nmax_queued_messages = 100000\nreceive_maximum = 64\n".into(),
            ),
        }
    }

    /// Eclipse Mosquitto with persistence off and queues as deep as wanwu's.
    pub fn mosquitto(program: impl Into<PathBuf>) -> Self {
        let config = "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                      max_queued_messages 100000\nmax_inflight_messages 64\nmax_connections -1\n\
                      set_tcp_nodelay true\nlog_dest none\n";
        Self {
            name: "mosquitto".into(),
            program: program.into(),
            args: ["-c", "{dir}/broker.conf"].map(String::from).to_vec(),
            config_file: Some(config.into()),
        }
    }
}

/// A running broker; killed on drop.
pub(crate) struct RunningBroker {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process id.
    pub pid: u32,
    _dir: tempfile::TempDir,
}

fn free_port() -> Result<u16, LoadError> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(LoadError::io("bind a probe port"))?;
    Ok(listener
        .local_addr()
        .map_err(LoadError::io("probe port"))?
        .port())
}

impl RunningBroker {
    /// Starts the broker and waits until it accepts connections.
    pub async fn start(spec: &BrokerSpec) -> Result<Self, LoadError> {
        let port = free_port()?;
        let dir = tempfile::tempdir().map_err(LoadError::io("create a scratch directory"))?;
        let fill = |s: &str| {
            s.replace("{port}", &port.to_string())
                .replace("{dir}", &dir.path().display().to_string())
        };
        if let Some(config) = &spec.config_file {
            std::fs::write(dir.path().join("broker.conf"), fill(config))
                .map_err(LoadError::io("write broker config"))?;
        }
        let child = Command::new(&spec.program)
            .args(spec.args.iter().map(|a| fill(a)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| LoadError::Start(spec.program.display().to_string(), e))?;
        let pid = child.id().ok_or(LoadError::Exited(spec.name.clone()))?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(Self {
                    child,
                    addr,
                    pid,
                    _dir: dir,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(LoadError::Exited(spec.name.clone()))
    }

    /// Resident memory in bytes.
    pub fn rss(&self) -> u64 {
        rss_of(format!("/proc/{}/status", self.pid))
    }

    /// Reads the CPU time of this broker and of the load generator.
    pub fn cpu_probe(&self) -> CpuProbe {
        CpuProbe { pid: self.pid }
    }

    /// Stops the broker.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn rss_of(path: impl AsRef<Path>) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// utime + stime of a process from /proc/PID/stat (clock ticks of 1/100 s).
fn cpu_seconds_of(path: impl AsRef<Path>) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces) start at state, field 3.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Reads the CPU time used so far by a broker and by this process (the load generator).
pub(crate) struct CpuProbe {
    pid: u32,
}

impl CpuProbe {
    /// CPU seconds used so far.
    pub fn read(&self) -> CpuUse {
        CpuUse {
            broker: cpu_seconds_of(format!("/proc/{}/stat", self.pid)),
            generator: cpu_seconds_of("/proc/self/stat"),
        }
    }
}
