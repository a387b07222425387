//! The facts of the machine a benchmark ran on.

use std::fmt;

/// Cores and memory, as the benchmark saw them.
#[derive(Clone, Copy, Debug)]
pub struct Machine {
    /// Cores available to this process.
    pub cores: usize,
    /// Total memory in bytes, if `/proc/meminfo` says.
    pub memory_bytes: Option<u64>,
}

impl Machine {
    /// Reads the facts of this machine.
    pub fn probe() -> Self {
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes: std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|text| mem_total(&text)),
        }
    }
}

/// The `MemTotal` line of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} cores", self.cores)?;
        match self.memory_bytes {
            Some(bytes) => write!(f, ", {:.1} GiB memory", bytes as f64 / (1u64 << 30) as f64),
            None => write!(f, ", memory unknown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mem_total;

    #[test]
    fn reads_mem_total_in_bytes() {
        let text = "MemTotal:       25165824 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total(text), Some(25_165_824 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }
}
