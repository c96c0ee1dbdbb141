//! The benchmark suite's shared parts: the raw JSON-RPC it speaks ([`wire`]), the two load
//! drivers ([`stdio`], [`http`]), what it reads of a server process ([`procfs`]) and the source of
//! the many-tool servers ([`generate`]).

pub mod generate;
pub mod http;
pub mod procfs;
pub mod stdio;
pub mod wire;

use std::time::Duration;

/// The flags of the benchmark's programs: `--name value` pairs and bare switches.
#[derive(Debug)]
pub struct Args(Vec<String>);

impl Args {
    /// This process's arguments.
    pub fn from_env() -> Args {
        Args(std::env::args().skip(1).collect())
    }

    /// The value after `flag`, if it was given.
    pub fn value(&self, flag: &str) -> Option<String> {
        self.0
            .iter()
            .position(|a| a == flag)
            .and_then(|i| self.0.get(i + 1))
            .cloned()
    }

    /// The value after `flag` parsed, or `default` when absent or unparsable.
    pub fn parse<T: std::str::FromStr>(&self, flag: &str, default: T) -> T {
        self.value(flag).and_then(|v| v.parse().ok()).unwrap_or(default)
    }

    /// Whether the switch `flag` was given.
    pub fn has(&self, flag: &str) -> bool {
        self.0.iter().any(|a| a == flag)
    }
}

/// One measured run.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Completed calls per second in the measured window.
    pub calls_per_s: f64,
    /// Median latency of one call, first request to final answer.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Server CPU time (user + system) per call in the window.
    pub cpu_per_call: Duration,
    /// Server resident memory at the end, KiB.
    pub rss_kib: u64,
    /// Calls answered with an error (there should be none).
    pub errors: u64,
}

/// How long to load a server, and how hard.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// The era spoken.
    pub era: wire::Era,
    /// What each call asks.
    pub call: wire::Call,
    /// Requests in flight (stdio) or concurrent clients (HTTP).
    pub width: usize,
    /// Unmeasured time first.
    pub warmup: Duration,
    /// The measured window.
    pub window: Duration,
}

/// Latency percentiles, calls/s and CPU per call from what a run recorded.
pub(crate) fn summarize(
    mut latencies: Vec<Duration>,
    elapsed: Duration,
    cpu: Duration,
    rss_kib: u64,
    errors: u64,
) -> Sample {
    latencies.sort_unstable();
    let n = latencies.len();
    let at = |q: f64| {
        latencies
            .get(((n as f64 * q) as usize).min(n.saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Sample {
        calls_per_s: n as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        cpu_per_call: if n == 0 { Duration::ZERO } else { cpu / n as u32 },
        rss_kib,
        errors,
    }
}
