//! The soak test (issue 7): 10,000 concurrent handshake-era sessions over Streamable HTTP, then
//! minutes of mixed load on them (calls, sampling round trips, resource updates heard by
//! subscribers), with the server's RSS sampled every second; then every session is deleted and
//! the RSS must come back within 10% of its baseline, with no error the test did not provoke.
//!
//! `scripts/soak` builds and runs it; `--help` lists the options. Exit status 1 on a failure.

use mcp_bench::http::{self, Client};
use mcp_bench::procfs;
use mcp_bench::wire::{Call, Era, Message};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
struct Options<'a> {
    server: &'a str,
    sessions: usize,
    duration: Duration,
    workers: usize,
    subscribers: usize,
    cycles: usize,
    /// RSS after the load may be at most this percentage of the baseline.
    limit: f64,
}

#[derive(Default)]
struct Counters {
    echo: AtomicU64,
    ask: AtomicU64,
    touch: AtomicU64,
    errors: AtomicU64,
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A tiny deterministic generator: the load is the same every run.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn tool_call(id: u64, name: &str, args: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{name}","arguments":{args}}}}}"#)
}

/// Sample RSS every second until `done`; returns (peak, samples).
async fn sample_rss(pid: u32, done: Arc<tokio::sync::Notify>) -> (u64, Vec<u64>) {
    let mut samples = Vec::new();
    loop {
        samples.push(procfs::rss_kib(pid));
        tokio::select! {
            () = done.notified() => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    (samples.iter().copied().max().unwrap_or(0), samples)
}

/// One worker: calls on randomly chosen sessions until the deadline. 70% echo, 20% ask (the
/// server samples; the worker answers), 10% touch (subscribers hear it).
async fn worker(
    addr: SocketAddr,
    ids: Arc<Vec<String>>,
    end: Instant,
    mut seed: u64,
    counters: Arc<Counters>,
) -> std::io::Result<()> {
    // Workers share sessions, so each numbers its requests in a range of its own: an id reused
    // while in flight on a session is (rightly) refused.
    let mut client = Client::connect(addr, Era::Handshake).await?;
    client.number_from(seed << 32);
    let mut id = (seed << 32) | (1 << 31);
    while Instant::now() < end {
        client.use_session(ids[(next(&mut seed) % ids.len() as u64) as usize].clone());
        let roll = next(&mut seed) % 10;
        let ok = if roll < 7 {
            counters.echo.fetch_add(1, Ordering::Relaxed);
            client.call(Call::Echo).await?
        } else if roll < 9 {
            counters.ask.fetch_add(1, Ordering::Relaxed);
            client.call(Call::Ask).await?
        } else {
            counters.touch.fetch_add(1, Ordering::Relaxed);
            id += 1;
            let item = next(&mut seed) % 8;
            let (status, message) = client
                .send(tool_call(id, "touch", &format!(r#"{{"id":{item}}}"#)))
                .await?;
            status.is_success() && matches!(message, Some(Message::Done { ok: true, .. }))
        };
        if !ok {
            counters.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

fn usage() -> ! {
    eprintln!(
        "usage: soak --server PATH [--sessions N] [--seconds S] [--workers W] [--subscribers K] [--cycles C] [--limit PERCENT]\n\
         Defaults: 10,000 sessions, 300 s of mixed load (per cycle), 32 workers, 16 subscribers, 1 cycle,\n\
         RSS after the load at most 110% of the baseline."
    );
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = mcp_bench::Args::from_env();
    if args.has("--help") {
        usage();
    }
    let server = args.value("--server").unwrap_or_else(|| usage());
    let o = Options {
        server: &server,
        sessions: args.parse("--sessions", 10_000),
        duration: Duration::from_secs(args.parse("--seconds", 300)),
        workers: args.parse("--workers", 32),
        subscribers: args.parse("--subscribers", 16),
        cycles: args.parse("--cycles", 1).max(1),
        limit: args.parse("--limit", 110.0),
    };
    match run(&o).await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(o: &Options<'_>) -> std::io::Result<bool> {
    let addr: SocketAddr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?
    };
    let mut child = tokio::process::Command::new(o.server)
        .args(["--http", &addr.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let started = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(std::io::Error::other("the server never listened"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let counters = Arc::new(Counters::default());
    println!("soak: {} on {addr}, pid {pid}", o.server);
    println!("start RSS: {}", mib(procfs::rss_kib(pid)));

    // Warm-up: one short cycle at full size (every session opened, 10 s of the same load, every
    // session deleted). The RSS after it is the baseline: what the server holds at rest once the
    // things sized by the peak (the runtime's I/O slab, the allocator's arenas, the session
    // table's high-water mark) exist. Memory is read after asking glibc to hand free pages back,
    // so that it is what the server holds, not what the allocator keeps for reuse.
    let (cold_untrimmed, cold) = rss_now_and_trimmed(addr, pid).await?;
    println!(
        "cold RSS: {} ({} before the allocator's free memory was handed back)",
        mib(cold),
        mib(cold_untrimmed)
    );
    println!("warm-up:");
    let warm = Options {
        duration: Duration::from_secs(10),
        cycles: 1,
        ..*o
    };
    one_cycle(&warm, addr, pid, cold, &counters).await?;
    let warm_errors = counters.errors.swap(0, Ordering::Relaxed);
    let (untrimmed, baseline) = rss_now_and_trimmed(addr, pid).await?;
    println!(
        "baseline RSS after warm-up: {} ({} before the allocator's free memory was handed back); {warm_errors} errors in warm-up",
        mib(baseline),
        mib(untrimmed)
    );
    let mut after = Vec::new();
    let mut heard_total = 0;
    for cycle in 1..=o.cycles {
        println!("cycle {cycle} of {}:", o.cycles);
        let (heard, rss) = one_cycle(o, addr, pid, baseline, &counters).await?;
        heard_total += heard;
        after.push(rss);
    }
    let errors = counters.errors.load(Ordering::Relaxed);
    let last = *after.last().unwrap_or(&0);
    let ratio = last as f64 / baseline as f64;
    let alive = child.try_wait()?.is_none();
    println!(
        "after the last cycle: RSS {} = {:.1}% of the baseline (limit {}%), {:.1}% of the cold RSS; {errors} errors; server {}",
        mib(last),
        ratio * 100.0,
        o.limit,
        last as f64 / cold as f64 * 100.0,
        if alive { "still serving" } else { "GONE" }
    );
    let pass = ratio * 100.0 <= o.limit && errors == 0 && alive && (o.subscribers == 0 || heard_total > 0);
    println!("{}", if pass { "PASS" } else { "FAIL" });
    Ok(pass)
}

/// One cycle: open every session, load them, delete them all; (updates heard, RSS after).
async fn one_cycle(
    o: &Options<'_>,
    addr: SocketAddr,
    pid: u32,
    baseline: u64,
    counters: &Arc<Counters>,
) -> std::io::Result<(u64, u64)> {
    for c in [&counters.echo, &counters.ask, &counters.touch] {
        c.store(0, Ordering::Relaxed);
    }
    // 10,000 sessions, all open at once.
    let t0 = Instant::now();
    let ids = Arc::new(http::open_sessions(addr, o.sessions, 64).await?);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with_sessions = procfs::rss_kib(pid);
    println!(
        "  {} sessions opened in {:.1} s: RSS {} (+{} B a session over the baseline)",
        ids.len(),
        t0.elapsed().as_secs_f64(),
        mib(with_sessions),
        (with_sessions.saturating_sub(baseline) * 1024) / ids.len().max(1) as u64
    );

    // Subscribers: each of the first K sessions listens on its GET stream and subscribes to one
    // of the eight items that `touch` changes.
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut listeners = Vec::new();
    let mut subscriber = Client::connect(addr, Era::Handshake).await?;
    subscriber.number_from(1 << 62);
    for (k, id) in ids.iter().take(o.subscribers).enumerate() {
        let stop = Arc::clone(&stop);
        listeners.push(tokio::spawn(http::listen(
            addr,
            id.clone(),
            "notifications/resources/updated",
            async move {
                stop.notified().await;
            },
        )));
        subscriber.use_session(id.clone());
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{k},"method":"resources/subscribe","params":{{"uri":"soak://{}"}}}}"#,
            k % 8
        );
        let (status, message) = subscriber.send(body).await?;
        if !status.is_success() || !matches!(message, Some(Message::Done { ok: true, .. })) {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("resources/subscribe failed: HTTP {status}");
        }
    }

    // The mixed load.
    let done = Arc::new(tokio::sync::Notify::new());
    let sampler = tokio::spawn(sample_rss(pid, Arc::clone(&done)));
    let end = Instant::now() + o.duration;
    let t1 = Instant::now();
    let workers: Vec<_> = (0..o.workers)
        .map(|i| {
            tokio::spawn(worker(
                addr,
                Arc::clone(&ids),
                end,
                1001 + i as u64,
                Arc::clone(counters),
            ))
        })
        .collect();
    let mut progress = tokio::time::interval(Duration::from_secs(30));
    progress.tick().await;
    while Instant::now() + Duration::from_secs(1) < end {
        tokio::select! {
            _ = progress.tick() => println!(
                "  {:>4.0} s: {} calls, RSS {}, {} errors",
                t1.elapsed().as_secs_f64(),
                counters.echo.load(Ordering::Relaxed) + counters.ask.load(Ordering::Relaxed) + counters.touch.load(Ordering::Relaxed),
                mib(procfs::rss_kib(pid)),
                counters.errors.load(Ordering::Relaxed)
            ),
            () = tokio::time::sleep_until((end - Duration::from_secs(1)).into()) => {}
        }
    }
    for w in workers {
        w.await.map_err(std::io::Error::other)??;
    }
    let elapsed = t1.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.notify_waiters();
    let mut heard = 0;
    for l in listeners {
        heard += l.await.map_err(std::io::Error::other)??;
    }
    done.notify_one();
    let (peak, samples) = sampler.await.map_err(std::io::Error::other)?;
    let (echo, ask, touch) = (
        counters.echo.load(Ordering::Relaxed),
        counters.ask.load(Ordering::Relaxed),
        counters.touch.load(Ordering::Relaxed),
    );
    println!(
        "  mixed load, {:.0} s: {echo} echo, {ask} ask (sampling round trips), {touch} touch; {:.0} calls/s; {heard} updates heard by {} subscribers",
        elapsed.as_secs_f64(),
        (echo + ask + touch) as f64 / elapsed.as_secs_f64(),
        o.subscribers
    );
    println!("  RSS during load: peak {}, {} samples", mib(peak), samples.len());

    // Every session ended; the memory must come back.
    delete_all(addr, &ids, counters).await?;
    drop(ids);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (untrimmed, after) = rss_now_and_trimmed(addr, pid).await?;
    println!(
        "  every session deleted: RSS {} = {:.1}% of the baseline ({} before the allocator's free memory was handed back); {} errors so far",
        mib(after),
        after as f64 / baseline as f64 * 100.0,
        mib(untrimmed),
        counters.errors.load(Ordering::Relaxed)
    );
    Ok((heard, after))
}

/// The server's RSS as it is, then after it handed its allocator's free memory back (the `trim`
/// tool, called in a session of its own that is deleted again).
async fn rss_now_and_trimmed(addr: SocketAddr, pid: u32) -> std::io::Result<(u64, u64)> {
    let now = procfs::rss_kib(pid);
    let mut client = Client::open(addr, Era::Handshake).await?;
    let (status, text) = client.send_text(tool_call(1, "trim", "{}")).await?;
    let Some(in_use) = text.filter(|_| status.is_success()) else {
        return Err(std::io::Error::other(format!("the trim tool failed: HTTP {status}")));
    };
    client.delete().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("    (heap in use: {in_use} bytes)");
    Ok((now, procfs::rss_kib(pid)))
}

async fn delete_all(addr: SocketAddr, ids: &Arc<Vec<String>>, counters: &Arc<Counters>) -> std::io::Result<()> {
    let width = 32;
    let tasks: Vec<_> = (0..width)
        .map(|w| {
            let ids = Arc::clone(ids);
            let counters = Arc::clone(counters);
            tokio::spawn(async move {
                let mut client = Client::connect(addr, Era::Handshake).await?;
                for id in ids.iter().skip(w).step_by(width) {
                    client.use_session(id.clone());
                    let status = client.delete().await?;
                    if !status.is_success() {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                        eprintln!("DELETE of a session: HTTP {status}");
                    }
                }
                std::io::Result::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(std::io::Error::other)??;
    }
    Ok(())
}
