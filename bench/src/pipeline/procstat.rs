//! What each process of the stack costs, read from /proc: CPU time (all threads) and peak
//! resident memory, plus CPU pinning through util-linux's `taskset`.

use anyhow::Context;
use std::collections::HashMap;
use std::process::Command;

/// The services the pipeline talks to, by the kernel's process name; the S3 server's name
/// is the benchmark's `--s3-process`.
pub fn services(s3_process: &str) -> [(String, String); 3] {
    [
        ("PostgreSQL".into(), "postgres".into()),
        ("RabbitMQ".into(), "beam.smp".into()),
        (format!("S3 ({s3_process})"), s3_process.into()),
    ]
}

/// Clock ticks per second of /proc/*/stat times.
pub fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// User + system CPU ticks of a process, all its threads; None once it has exited.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Peak resident set size (VmHWM) in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Peak resident set size in MiB; NaN once the process is gone.
pub fn peak_rss_mib(pid: u32) -> f64 {
    peak_rss_kib(pid).map_or(f64::NAN, |k| k as f64 / 1024.0)
}

/// Every process whose kernel name is `comm`.
pub fn pids_named(comm: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .collect()
}

/// CPU ticks per process of a group, so that a later snapshot gives the group's share of an
/// interval. Processes that exit in between are not counted (PostgreSQL backends that the
/// pools keep open are).
#[derive(Default)]
pub struct Snapshot(HashMap<u32, u64>);

impl Snapshot {
    pub fn of(pids: &[u32]) -> Self {
        Self(
            pids.iter()
                .filter_map(|&p| Some((p, cpu_ticks(p)?)))
                .collect(),
        )
    }

    /// Ticks spent since `earlier`; a process that started in between counts whole.
    pub fn since(&self, earlier: &Snapshot) -> u64 {
        self.0
            .iter()
            .map(|(pid, now)| now.saturating_sub(earlier.0.get(pid).copied().unwrap_or(0)))
            .sum()
    }
}

/// Pins every thread of `pid` to `cpus` (a taskset list such as "0" or "0-1"). taskset fails
/// when a thread exits while it walks them (a dropped thread pool winding down): try again.
pub fn pin(pid: u32, cpus: &str) -> anyhow::Result<()> {
    for _ in 0..10 {
        let status = Command::new("taskset")
            .args(["-a", "-p", "-c", cpus, &pid.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .context("taskset (util-linux)")?;
        if status.success() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    anyhow::bail!("taskset -a -c {cpus} -p {pid} kept failing")
}

/// Pins the services to `cpus` and puts them back on every core when dropped, so that a
/// failed run does not leave the machine's PostgreSQL on one core.
pub struct ServicePinning {
    all_cpus: String,
    services: [(String, String); 3],
}

impl ServicePinning {
    pub fn apply(
        services: [(String, String); 3],
        cpus: &str,
        all_cpus: &str,
    ) -> anyhow::Result<Self> {
        let guard = Self {
            all_cpus: all_cpus.to_string(),
            services,
        };
        for (_, comm) in &guard.services {
            // New PostgreSQL backends fork from the postmaster and inherit its mask.
            for pid in pids_named(comm) {
                pin(pid, cpus)?;
            }
        }
        Ok(guard)
    }
}

impl Drop for ServicePinning {
    fn drop(&mut self) {
        for (_, comm) in &self.services {
            for pid in pids_named(comm) {
                let _ = pin(pid, &self.all_cpus);
            }
        }
    }
}
