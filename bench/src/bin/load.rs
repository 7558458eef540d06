//! Load and soak: one mcpkey client, 10 servers of every kind, then
//! sessions opening and closing for minutes.
//!
//!     load FAST_SERVER_BIN [--calls 1000] [--rounds 5] [--soak-secs 180] [--out FILE]
//!
//! Starts `fast-server` on a free 127.0.0.1 port and configures ten servers
//! against it: Streamable HTTP in both eras without auth, Bearer, HMAC
//! signature, Digest and a cached OAuth token, legacy HTTP+SSE, and three
//! stdio children (`fast-server --stdio`).
//!
//! * Load: `--calls` echo calls spread evenly over the ten servers, all in
//!   flight at once; every answer is checked. Repeated `--rounds` times.
//!   Reports calls/s and peak RSS (VmHWM).
//! * Soak: for `--soak-secs`, a client is built, connects all ten servers,
//!   makes 10 calls on each and is closed, again and again; RSS, open file
//!   descriptors, threads and child processes are sampled every few
//!   seconds. After the first quarter (allocator and pools warm) nothing
//!   may grow: RSS by at most 4 MB, descriptors, threads and children not
//!   at all (compared at the same point of the cycle, between clients).
//!
//! Exits 1 on any failed call or growth, after printing the report.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use mcpkey::auth::oauth::TokenStore;
use mcpkey::{Client, ProtocolPin, ServerConfig};
use mcpkey_bench::SSE_PATH;
use mcpkey_bench::schemes::{Scheme, seeded_store, server_config};
use serde_json::json;

struct Args {
    server_bin: PathBuf,
    calls: usize,
    rounds: usize,
    soak: Duration,
    out: Option<PathBuf>,
}

fn args() -> Args {
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut a = Args {
        server_bin: PathBuf::new(),
        calls: 1000,
        rounds: 5,
        soak: Duration::from_secs(180),
        out: None,
    };
    let mut i = 0;
    while i < v.len() {
        let val = || v.get(i + 1).cloned().expect("a value after the flag");
        match v[i].as_str() {
            "--calls" => a.calls = val().parse().expect("--calls N"),
            "--rounds" => a.rounds = val().parse().expect("--rounds N"),
            "--soak-secs" => a.soak = Duration::from_secs(val().parse().expect("--soak-secs N")),
            "--out" => a.out = Some(PathBuf::from(val())),
            other if !other.starts_with("--") && a.server_bin.as_os_str().is_empty() => {
                a.server_bin = PathBuf::from(other);
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    assert!(
        !a.server_bin.as_os_str().is_empty(),
        "usage: load FAST_SERVER_BIN [--calls N] [--rounds N] [--soak-secs N] [--out FILE]"
    );
    a
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(bin: &Path) -> (Server, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(bin)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start fast-server");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "fast-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, port)
}

/// The ten server entries: (name, config).
fn servers(port: u16, bin: &Path) -> Vec<(String, ServerConfig)> {
    let mut v = vec![
        (
            "http-modern".to_owned(),
            server_config(port, Scheme::Off).protocol(ProtocolPin::Modern(None)),
        ),
        (
            "http-legacy".to_owned(),
            server_config(port, Scheme::Off).protocol(ProtocolPin::Legacy(None)),
        ),
        ("bearer".to_owned(), server_config(port, Scheme::Bearer)),
        (
            "signature".to_owned(),
            server_config(port, Scheme::Signature),
        ),
        ("digest".to_owned(), server_config(port, Scheme::Digest)),
        ("oauth".to_owned(), server_config(port, Scheme::OAuthCached)),
        (
            "legacy-sse".to_owned(),
            ServerConfig::sse(format!("http://127.0.0.1:{port}{SSE_PATH}")).no_auth(),
        ),
    ];
    for i in 0..3 {
        v.push((
            format!("stdio-{i}"),
            ServerConfig::stdio(bin.display().to_string()).arg("--stdio"),
        ));
    }
    v
}

async fn client(port: u16, bin: &Path, store: &Arc<dyn TokenStore>) -> Client {
    let mut b = Client::builder().token_store(Arc::clone(store));
    for (name, cfg) in servers(port, bin) {
        b = b.server(name, cfg);
    }
    b.build()
}

/// `n` echo calls spread over the client's servers, all in flight at once;
/// returns the number of failures (a wrong answer counts as one).
async fn burst(client: &Client, names: &[String], n: usize) -> usize {
    let calls = (0..n).map(|i| {
        let name = &names[i % names.len()];
        async move {
            let s = match client.session(name).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{name}: connect: {e}");
                    return false;
                }
            };
            let msg = format!("m{i}");
            let args = json!({"message": msg});
            match s.call_tool("echo", args.as_object().cloned()).await {
                Ok(r) => {
                    let text = mcpkey_bench::first_text(&r).unwrap_or_default();
                    if text == msg {
                        true
                    } else {
                        eprintln!("{name}: wrong answer {text:?} for {msg:?}");
                        false
                    }
                }
                Err(e) => {
                    eprintln!("{name}: call: {e}");
                    false
                }
            }
        }
    });
    join_all(calls).await.into_iter().filter(|ok| !ok).count()
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn threads() -> u64 {
    status_kb("Threads:")
}

/// Live child processes of this process.
fn children() -> usize {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("stat")).is_ok_and(|s| {
                // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
                s.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_owned))
                    .is_some_and(|ppid| ppid == me)
            })
        })
        .count()
}

#[derive(Clone, Copy)]
struct Sample {
    t: f64,
    rss_kb: u64,
    fds: usize,
    threads: u64,
    children: usize,
}

fn sample(start: Instant) -> Sample {
    Sample {
        t: start.elapsed().as_secs_f64(),
        rss_kb: status_kb("VmRSS:"),
        fds: open_fds(),
        threads: threads(),
        children: children(),
    }
}

fn main() {
    let a = args();
    let (_server, port) = start_server(&a.server_bin);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut report = String::new();
    let mut failed = false;
    rt.block_on(async {
        let store: Arc<dyn TokenStore> = seeded_store(port).await;
        let names: Vec<String> = servers(port, &a.server_bin)
            .into_iter()
            .map(|(n, _)| n)
            .collect();

        // Load.
        let c = client(port, &a.server_bin, &store).await;
        let report_connect = c.connect_all().await;
        for e in &report_connect.failed {
            eprintln!("connect: {e}");
        }
        let connected = report_connect.connected.len();
        let warm = burst(&c, &names, names.len() * 5).await;
        let mut rows = Vec::new();
        let mut errors = warm;
        for _ in 0..a.rounds.max(1) {
            let t = Instant::now();
            let e = burst(&c, &names, a.calls).await;
            let wall = t.elapsed();
            errors += e;
            rows.push(a.calls as f64 / wall.as_secs_f64());
        }
        c.close().await;
        rows.sort_by(f64::total_cmp);
        let median = rows[rows.len() / 2];
        let hwm = status_kb("VmHWM:");
        report.push_str(&format!(
            "### Load: {} concurrent calls over {} servers\n\n\
             Servers: Streamable HTTP modern and legacy without auth, Bearer, HMAC signature, Digest, cached OAuth token, legacy HTTP+SSE, 3 × stdio. \
             All {} calls in flight at once, spread evenly; every answer checked; {} rounds.\n\n\
             | servers connected | calls/s (median) | calls/s (min–max) | failed calls | peak RSS MB |\n|---|---|---|---|---|\n\
             | {connected}/{} | {:.0} | {:.0}–{:.0} | {errors} | {:.1} |\n\n",
            a.calls,
            names.len(),
            a.calls,
            rows.len(),
            names.len(),
            median,
            rows[0],
            rows[rows.len() - 1],
            hwm as f64 / 1024.0
        ));
        if errors > 0 || connected != names.len() {
            failed = true;
        }

        // Soak.
        let start = Instant::now();
        let mut samples = Vec::new();
        let mut cycles = 0usize;
        let mut soak_errors = 0usize;
        let mut last_sample = Instant::now() - Duration::from_secs(60);
        while start.elapsed() < a.soak {
            let c = client(port, &a.server_bin, &store).await;
            soak_errors += burst(&c, &names, names.len() * 10).await;
            c.close().await;
            drop(c);
            cycles += 1;
            if last_sample.elapsed() >= Duration::from_secs(5) {
                // Let closed children be reaped and connections wind down.
                tokio::time::sleep(Duration::from_millis(200)).await;
                samples.push(sample(start));
                last_sample = Instant::now();
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        samples.push(sample(start));
        let base_i = samples
            .iter()
            .position(|s| s.t >= a.soak.as_secs_f64() / 4.0)
            .unwrap_or(0)
            .min(samples.len() - 1);
        let base = samples[base_i];
        let end = samples[samples.len() - 1];
        let max_rss = samples[base_i..].iter().map(|s| s.rss_kb).max().unwrap_or(0);
        let rss_growth = end.rss_kb as i64 - base.rss_kb as i64;
        let grew = rss_growth > 4096
            || end.fds > base.fds
            || end.threads > base.threads
            || end.children > base.children;
        report.push_str(&format!(
            "### Soak: clients opening and closing for {:.0} s\n\n\
             Each cycle builds a client, connects all {} servers (3 stdio children), makes {} calls and closes it. Sampled every 5 s; compared from {:.0} s (a quarter in) to the end.\n\n\
             | cycles | failed calls | RSS at {:.0} s → end, KB | max RSS after, KB | fds | threads | children |\n|---|---|---|---|---|---|---|\n\
             | {cycles} | {soak_errors} | {} → {} ({:+}) | {max_rss} | {} → {} | {} → {} | {} → {} |\n\n",
            a.soak.as_secs_f64(),
            names.len(),
            names.len() * 10,
            base.t,
            base.t,
            base.rss_kb,
            end.rss_kb,
            rss_growth,
            base.fds,
            end.fds,
            base.threads,
            end.threads,
            base.children,
            end.children,
        ));
        report.push_str("Samples (s: RSS KB / fds / threads / children): ");
        report.push_str(
            &samples
                .iter()
                .map(|s| {
                    format!(
                        "{:.0}: {}/{}/{}/{}",
                        s.t, s.rss_kb, s.fds, s.threads, s.children
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        );
        report.push_str("\n\n");
        if soak_errors > 0 || grew {
            failed = true;
        }
    });
    print!("{report}");
    if let Some(out) = &a.out {
        std::fs::write(out, &report).expect("write the report");
    }
    if failed {
        eprintln!("load: FAILED (see the report above)");
        std::process::exit(1);
    }
}
