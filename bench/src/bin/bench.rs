//! The benchmark runner: starts each server, loads it with the raw JSON-RPC load generator,
//! interleaves the frameworks run by run, and prints one table of medians with ratios to rmcp
//! and to the hand-written floor, all measured in the same run. Where `redis-server` is on the
//! PATH, ours also runs with its state in Redis (started here, on loopback, stopped at the end)
//! for the scenarios where a store is used: stateless `ask`, and HTTP. `scripts/bench` builds
//! everything in release and calls this; `--help` lists the options.

use mcp_bench::wire::{Call, Era};
use mcp_bench::{Load, Sample, generate, http, procfs, stdio};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fw {
    Ours,
    /// Ours with a Redis store (`--redis URL`), as a replica of a fleet.
    OursRedis,
    Rmcp,
    Floor,
    /// Ours behind our own proxy (`examples/proxy -- ours`): what the proxy adds per call.
    Proxied,
}

const FRAMEWORKS: [Fw; 5] = [Fw::Ours, Fw::OursRedis, Fw::Rmcp, Fw::Floor, Fw::Proxied];
const NAMES: [&str; 5] = ["ours", "ours, Redis", "rmcp", "floor", "ours via proxy"];

struct Options {
    ours: PathBuf,
    bins: PathBuf,
    root: PathBuf,
    runs: usize,
    window: Duration,
    sessions: usize,
    build: bool,
    only: Option<String>,
    /// The Redis the Redis column uses, when there is one.
    redis: Option<String>,
    /// Our proxy (`examples/proxy`), for the proxy column, when given.
    proxy: Option<PathBuf>,
}

impl Options {
    fn command(&self, fw: Fw, many: bool, http: Option<SocketAddr>) -> Vec<String> {
        let bin = match (fw, many) {
            (Fw::Ours | Fw::OursRedis, false) => self.ours.clone(),
            (Fw::Ours | Fw::OursRedis, true) => self.bins.join("many_ours"),
            (Fw::Rmcp, false) => self.bins.join("rmcp_echo"),
            (Fw::Rmcp, true) => self.bins.join("many_rmcp"),
            (Fw::Floor, _) => self.bins.join("floor_echo"),
            (Fw::Proxied, _) => self.proxy.clone().unwrap_or_default(),
        };
        let mut cmd = vec![bin.display().to_string()];
        if fw == Fw::Proxied {
            cmd.extend(["--".into(), self.ours.display().to_string()]);
        }
        if many && fw == Fw::Floor {
            cmd.push("--many".into());
        }
        if let Some(addr) = http {
            cmd.extend(["--http".into(), addr.to_string()]);
        }
        if let (Fw::OursRedis, Some(url)) = (fw, &self.redis) {
            cmd.extend(["--redis".into(), url.clone()]);
        }
        cmd
    }

    /// Whether `fw` runs `scenario`: the Redis column only where a store is used; the floor
    /// has no handshake-era sessions over HTTP that ask the client anything.
    fn runs(&self, scenario: Scenario, fw: Fw) -> bool {
        // The proxy column: stdio calls, echo and ask, forwarded to ours over stdio.
        if fw == Fw::Proxied {
            return self.proxy.is_some() && matches!(scenario, Scenario::Stdio(_, Call::Echo | Call::Ask, _));
        }
        // A session per call needs the Redis its `lookup` tool reads; the proxy does not run it.
        if let Scenario::SessionPerCall(_) = scenario {
            return self.redis.is_some();
        }
        // Only ours serves tasks (rmcp's need its own task handler; the floor has none).
        if matches!(scenario, Scenario::Http(_, Call::Task, _)) {
            return matches!(fw, Fw::Ours) || (fw == Fw::OursRedis && self.redis.is_some());
        }
        match fw {
            Fw::Floor => !matches!(scenario, Scenario::Http(Era::Handshake, Call::Ask, _)),
            Fw::OursRedis => {
                self.redis.is_some()
                    && matches!(
                        scenario,
                        Scenario::Stdio(Era::Stateless, Call::Ask, _) | Scenario::Http(..)
                    )
            }
            _ => true,
        }
    }
}

/// A `redis-server` on a free loopback port for the Redis column, stopped when dropped; `None`
/// when there is none on the PATH.
struct Redis(std::process::Child);

impl Redis {
    fn start() -> Option<(Redis, String)> {
        let port = free_addr().port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        let redis = Redis(child);
        for _ in 0..100 {
            if let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                // The value the `lookup` tools read, set in Redis's own protocol (RESP).
                use std::io::{Read, Write};
                let (k, v) = (mcp_bench::wire::LOOKUP_KEY, mcp_bench::wire::LOOKUP_VALUE);
                let set = format!("*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n", k.len(), v.len());
                let mut ok = [0u8; 5];
                tcp.write_all(set.as_bytes()).ok()?;
                tcp.read_exact(&mut ok).ok()?;
                return Some((redis, format!("redis://127.0.0.1:{port}/")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one scenario measures.
#[derive(Clone, Copy)]
enum Scenario {
    Stdio(Era, Call, usize),
    Http(Era, Call, usize),
    /// 50 clients, each iteration a whole handshake-era session around one `lookup` call;
    /// whether ours opens sessions (rmcp and the floor never do here, as in the published
    /// benchmark this reproduces).
    SessionPerCall(bool),
    ListMany,
    ColdStart,
    IdleRss,
    SessionRss,
    BuildTime,
}

impl Scenario {
    fn name(self, o: &Options) -> String {
        let call = |c: Call| match c {
            Call::Echo => "echo",
            Call::Ask => "ask",
            Call::List => "tools/list",
            Call::Task => "task created and completed",
            Call::SessionPerCall => "session per call",
        };
        match self {
            Scenario::Stdio(era, c, w) => format!("stdio {} W={w} {}", call(c), era.label()),
            Scenario::Http(era, c, w) => format!("HTTP {} C={w} {}", call(c), era.label()),
            Scenario::SessionPerCall(true) => format!("HTTP session per call C={SESSION_CLIENTS}, ours with sessions"),
            Scenario::SessionPerCall(false) => format!("HTTP session per call C={SESSION_CLIENTS}, no sessions"),
            Scenario::ListMany => "stdio tools/list, 1,000 tools, W=1".into(),
            Scenario::ColdStart => "cold start to first response".into(),
            Scenario::IdleRss => "idle RSS (stdio, after initialize)".into(),
            Scenario::SessionRss => format!("RSS per idle HTTP session ({} open)", o.sessions),
            Scenario::BuildTime => "clean release build, 50 tools".into(),
        }
    }
}

/// The clients of the session-per-call scenario, as in the benchmark it reproduces.
const SESSION_CLIENTS: usize = 50;

/// One figure of a scenario: its name, whether more is better, and how to print it.
#[derive(Clone, Copy)]
enum Metric {
    CallsPerS,
    P50,
    P99,
    Cpu,
    Millis,
    KiB,
    AnonKiB,
    Bytes,
    Seconds,
}

impl Metric {
    fn label(self) -> &'static str {
        match self {
            Metric::CallsPerS => "calls/s",
            Metric::P50 => "p50",
            Metric::P99 => "p99",
            Metric::Cpu => "server CPU/call",
            Metric::Millis => "ms",
            Metric::KiB => "RSS",
            Metric::AnonKiB => "anonymous RSS",
            Metric::Bytes => "bytes/session",
            Metric::Seconds => "seconds",
        }
    }

    fn show(self, v: f64) -> String {
        match self {
            Metric::CallsPerS => group(v),
            Metric::P50 | Metric::P99 | Metric::Cpu => {
                if v >= 1000.0 {
                    format!("{:.2} ms", v / 1000.0)
                } else {
                    format!("{v:.1} µs")
                }
            }
            Metric::Millis => format!("{v:.1} ms"),
            Metric::KiB | Metric::AnonKiB => format!("{:.1} MiB", v / 1024.0),
            Metric::Bytes => group(v),
            Metric::Seconds => format!("{v:.1} s"),
        }
    }
}

fn group(v: f64) -> String {
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn sample_metrics(s: &Sample) -> Vec<(Metric, f64)> {
    vec![
        (Metric::CallsPerS, s.calls_per_s),
        (Metric::P50, s.p50.as_secs_f64() * 1e6),
        (Metric::P99, s.p99.as_secs_f64() * 1e6),
        (Metric::Cpu, s.cpu_per_call.as_secs_f64() * 1e6),
    ]
}

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap()
}

/// A server serving HTTP, stopped when dropped.
struct HttpServer {
    _child: tokio::process::Child,
    addr: SocketAddr,
    pid: u32,
}

impl HttpServer {
    async fn start(cmd: Vec<String>, addr: SocketAddr) -> std::io::Result<HttpServer> {
        let child = tokio::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if Instant::now() > deadline {
                return Err(std::io::Error::other(format!("{} never listened on {addr}", cmd[0])));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(HttpServer {
            _child: child,
            addr,
            pid,
        })
    }
}

type Figures = Vec<(Metric, f64)>;

async fn measure(o: &Options, scenario: Scenario, fw: Fw) -> std::io::Result<Figures> {
    let load = |era, call, width| Load {
        era,
        call,
        width,
        warmup: o.window / 4,
        window: o.window,
    };
    let check = |s: &Sample| {
        if s.errors > 0 || s.calls_per_s == 0.0 {
            Err(std::io::Error::other(format!(
                "{} errors, {} calls/s",
                s.errors, s.calls_per_s
            )))
        } else {
            Ok(())
        }
    };
    match scenario {
        Scenario::Stdio(era, call, width) => {
            let mut server = stdio::Server::spawn(&o.command(fw, false, None))?;
            if era == Era::Handshake {
                server.handshake().await?;
            }
            let s = server.run(&load(era, call, width)).await?;
            server.stop().await;
            check(&s)?;
            Ok(sample_metrics(&s))
        }
        Scenario::Http(era, call, width) => {
            let addr = free_addr();
            let server = HttpServer::start(o.command(fw, false, Some(addr)), addr).await?;
            let s = http::run(server.addr, server.pid, &load(era, call, width)).await?;
            drop(server);
            check(&s)?;
            Ok(sample_metrics(&s))
        }
        Scenario::SessionPerCall(sessions) => {
            let addr = free_addr();
            let mut cmd = o.command(fw, false, Some(addr));
            cmd.extend(["--lookup".into(), o.redis.clone().unwrap_or_default()]);
            if !sessions || matches!(fw, Fw::Rmcp | Fw::Floor) {
                cmd.push("--sessionless".into());
            }
            let server = HttpServer::start(cmd, addr).await?;
            let s = http::run(
                server.addr,
                server.pid,
                &load(Era::Handshake, Call::SessionPerCall, SESSION_CLIENTS),
            )
            .await?;
            drop(server);
            check(&s)?;
            Ok(sample_metrics(&s))
        }
        Scenario::ListMany => {
            let mut server = stdio::Server::spawn(&o.command(fw, true, None))?;
            server.handshake().await?;
            let s = server.run(&load(Era::Handshake, Call::List, 1)).await?;
            server.stop().await;
            check(&s)?;
            Ok(sample_metrics(&s)[..3].to_vec())
        }
        Scenario::ColdStart => {
            let t0 = Instant::now();
            let mut server = stdio::Server::spawn(&o.command(fw, false, None))?;
            server.handshake().await?;
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            server.stop().await;
            Ok(vec![(Metric::Millis, ms)])
        }
        Scenario::IdleRss => {
            let mut server = stdio::Server::spawn(&o.command(fw, false, None))?;
            server.handshake().await?;
            server.call_once(Call::Echo, Era::Handshake).await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let (rss, anon) = (procfs::rss_kib(server.pid), procfs::rss_anon_kib(server.pid));
            server.stop().await;
            Ok(vec![(Metric::KiB, rss as f64), (Metric::AnonKiB, anon as f64)])
        }
        Scenario::SessionRss => {
            let addr = free_addr();
            let server = HttpServer::start(o.command(fw, false, Some(addr)), addr).await?;
            http::open_sessions(server.addr, 64, 32).await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
            let before = procfs::rss_kib(server.pid);
            let opened = http::open_sessions(server.addr, o.sessions, 32).await?.len();
            tokio::time::sleep(Duration::from_millis(200)).await;
            let after = procfs::rss_kib(server.pid);
            drop(server);
            Ok(vec![(
                Metric::Bytes,
                (after.saturating_sub(before) * 1024) as f64 / opened as f64,
            )])
        }
        Scenario::BuildTime => {
            if fw == Fw::Floor {
                return Ok(vec![]);
            }
            build_time(o, fw).map(|s| vec![(Metric::Seconds, s)])
        }
    }
}

/// A clean release build of a 50-tool server crate, dependencies included, as a user's first
/// `cargo build --release` would be; offline, from the registry cache the bench crate filled.
fn build_time(o: &Options, fw: Fw) -> std::io::Result<f64> {
    let dir = o
        .root
        .join("bench/target/buildtime")
        .join(if fw == Fw::Ours { "ours" } else { "rmcp" });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src"))?;
    let (deps, source) = match fw {
        Fw::Ours => (
            format!(
                "mcp = {{ path = {:?} }}\ntokio = {{ version = \"1.48\", features = [\"macros\", \"rt-multi-thread\"] }}\n",
                o.root.display().to_string()
            ),
            generate::ours(50),
        ),
        _ => (
            "rmcp = { version = \"=3.11.0\", features = [\"server\", \"macros\", \"schemars\", \"transport-io\"] }\n\
             tokio = { version = \"1.48\", features = [\"macros\", \"rt-multi-thread\"] }\n\
             serde = { version = \"1\", features = [\"derive\"] }\nschemars = \"1.2\"\n"
                .to_owned(),
            generate::rmcp(50),
        ),
    };
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"fifty\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n[dependencies]\n{deps}"
        ),
    )?;
    std::fs::write(dir.join("src/main.rs"), source)?;
    std::fs::copy(o.root.join("bench/Cargo.lock"), dir.join("Cargo.lock"))?;
    let t0 = Instant::now();
    let status = std::process::Command::new("cargo")
        .args(["build", "--release", "--offline", "--quiet"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .status()?;
    if !status.success() {
        return Err(std::io::Error::other(format!(
            "the 50-tool build in {} failed",
            dir.display()
        )));
    }
    Ok(t0.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

fn ratio(ours: f64, other: f64) -> String {
    if ours.is_nan() || other.is_nan() || other == 0.0 {
        "–".into()
    } else {
        format!("{:.2}×", ours / other)
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: bench --ours PATH [--proxy PATH] --bins DIR --root DIR [--runs N] [--window SECS] [--sessions N] [--no-build] [--only TEXT]\n\
         Prints one Markdown table: the median of N interleaved runs for ours, rmcp and the floor,\n\
         with ours÷rmcp and ours÷floor. `--only` keeps the scenarios whose name contains TEXT."
    );
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = mcp_bench::Args::from_env();
    if args.has("--help") {
        usage();
    }
    let o = Options {
        ours: args.value("--ours").map(PathBuf::from).unwrap_or_else(|| usage()),
        bins: args.value("--bins").map(PathBuf::from).unwrap_or_else(|| usage()),
        root: args.value("--root").map(PathBuf::from).unwrap_or_else(|| usage()),
        runs: args.parse("--runs", 3),
        window: Duration::from_secs_f64(args.parse("--window", 2.0)),
        sessions: args.parse("--sessions", 10_000),
        build: !args.has("--no-build"),
        only: args.value("--only"),
        redis: None,
        proxy: args.value("--proxy").map(PathBuf::from),
    };
    let redis = Redis::start();
    let o = Options {
        redis: redis.as_ref().map(|(_, url)| url.clone()),
        ..o
    };
    let mut scenarios = vec![
        Scenario::Stdio(Era::Handshake, Call::Echo, 1),
        Scenario::Stdio(Era::Handshake, Call::Echo, 64),
        Scenario::Stdio(Era::Stateless, Call::Echo, 64),
        Scenario::Stdio(Era::Handshake, Call::Ask, 1),
        Scenario::Stdio(Era::Stateless, Call::Ask, 1),
        Scenario::Stdio(Era::Handshake, Call::Ask, 64),
        Scenario::Stdio(Era::Stateless, Call::Ask, 64),
        Scenario::Http(Era::Handshake, Call::Echo, 1),
        Scenario::Http(Era::Stateless, Call::Echo, 1),
        Scenario::Http(Era::Handshake, Call::Echo, 32),
        Scenario::Http(Era::Stateless, Call::Echo, 32),
        Scenario::Http(Era::Handshake, Call::Ask, 32),
        Scenario::Http(Era::Stateless, Call::Ask, 32),
        Scenario::Http(Era::Stateless, Call::Task, 1),
        Scenario::Http(Era::Stateless, Call::Task, 32),
        Scenario::SessionPerCall(true),
        Scenario::SessionPerCall(false),
        Scenario::ListMany,
        Scenario::ColdStart,
        Scenario::IdleRss,
        Scenario::SessionRss,
    ];
    if o.build {
        scenarios.push(Scenario::BuildTime);
    }
    if let Some(only) = &o.only {
        scenarios.retain(|s| s.name(&o).contains(only.as_str()));
    }
    println!(
        "| scenario | figure | ours | ours, Redis store | rmcp 3.11 | floor | ours via proxy | ours ÷ rmcp | ours ÷ floor | Redis ÷ memory | proxy ÷ direct |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut failed = false;
    for scenario in scenarios {
        // figures[fw][metric] = values over runs
        let mut figures: Vec<Vec<(Metric, Vec<f64>)>> = vec![Vec::new(); FRAMEWORKS.len()];
        for _ in 0..o.runs {
            for (i, fw) in FRAMEWORKS.into_iter().enumerate() {
                if !o.runs(scenario, fw) {
                    continue;
                }
                match measure(&o, scenario, fw).await {
                    Ok(values) => {
                        for (m, v) in values {
                            match figures[i].iter_mut().find(|(k, _)| k.label() == m.label()) {
                                Some((_, vs)) => vs.push(v),
                                None => figures[i].push((m, vec![v])),
                            }
                        }
                    }
                    Err(e) => {
                        failed = true;
                        eprintln!("{} / {}: {e}", scenario.name(&o), NAMES[i]);
                    }
                }
            }
        }
        let metrics: Vec<Metric> = figures
            .iter()
            .flatten()
            .map(|(m, _)| *m)
            .fold(Vec::new(), |mut acc, m| {
                if !acc.iter().any(|k: &Metric| k.label() == m.label()) {
                    acc.push(m);
                }
                acc
            });
        for m in metrics {
            let med: Vec<f64> = figures
                .iter()
                .map(|f| {
                    f.iter()
                        .find(|(k, _)| k.label() == m.label())
                        .map_or(f64::NAN, |(_, v)| median(v.clone()))
                })
                .collect();
            let cell = |v: f64| if v.is_nan() { "–".to_owned() } else { m.show(v) };
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                scenario.name(&o),
                m.label(),
                cell(med[0]),
                cell(med[1]),
                cell(med[2]),
                cell(med[3]),
                cell(med[4]),
                ratio(med[0], med[2]),
                ratio(med[0], med[3]),
                ratio(med[1], med[0]),
                ratio(med[4], med[0])
            );
        }
    }
    println!(
        "\n{} run(s) per cell, interleaved ours, ours with a Redis store, rmcp, floor; each cell is the median.{}",
        o.runs,
        if o.redis.is_none() {
            " No redis-server on the PATH: no Redis column."
        } else {
            ""
        }
    );
    drop(redis);
    if failed {
        std::process::exit(1);
    }
}
