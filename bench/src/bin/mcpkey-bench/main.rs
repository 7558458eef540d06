//! mcpkey's benchmark. Against `fast-server` (started by
//! `scripts/bench.sh`, pinned to another CPU), in one run, side by side:
//! the floor (minimal raw clients doing the same exchange by hand), mcpkey
//! (library and CLI), rmcp's client, and the peer clients whose drivers run
//! on this machine. Every ratio is to a floor measured in the same run.
//! Prints a markdown report and writes it to `--out`. See BENCHMARKS.md.
//!
//!     mcpkey-bench --port P [--calls N] [--quick] [--only SECTIONS] [--out FILE] [--cli PATH]
//!
//! SECTIONS: comma-separated among cold, streamable, auth, sse, stdio, idle.
//! `--quick` is a smoke run (few calls, no peers); `--no-peers` skips the
//! peer clients.

mod cold;
mod http;
mod memory;
mod peers;
mod report;
mod sse;
mod stdio;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use mcpkey::ProtocolPin;
use mcpkey_bench::raw::{LEGACY, MODERN};
use mcpkey_bench::stats::{Stats, median};
use report::{Report, f0, f2, ms, us};

struct Args {
    port: u16,
    calls: usize,
    rounds: usize,
    cold_runs: usize,
    idle_n: usize,
    many: usize,
    out: Option<PathBuf>,
    /// Run only these sections (cold, streamable, auth, sse, stdio, idle).
    only: Vec<String>,
    /// Measure the peer clients (TypeScript SDK, Python mcp, mcp-use).
    peers: bool,
    quick: bool,
    cli: PathBuf,
    repo: PathBuf,
    bin_dir: PathBuf,
}

fn args() -> Args {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin_dir = std::env::current_exe()
        .expect("exe")
        .parent()
        .expect("dir")
        .to_path_buf();
    let mut a = Args {
        port: 0,
        calls: 6000,
        rounds: 3,
        cold_runs: 11,
        idle_n: 51,
        many: 50,
        out: None,
        only: Vec::new(),
        peers: true,
        quick: false,
        cli: repo.join("target/release/mcpkey"),
        repo,
        bin_dir,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = || {
            v.get(i + 1)
                .cloned()
                .unwrap_or_else(|| panic!("{} needs a value", v[i]))
        };
        match v[i].as_str() {
            "--port" => a.port = val().parse().expect("--port P"),
            "--calls" => a.calls = val().parse().expect("--calls N"),
            "--rounds" => a.rounds = val().parse().expect("--rounds N"),
            "--out" => a.out = Some(PathBuf::from(val())),
            "--cli" => a.cli = PathBuf::from(val()),
            "--no-peers" => {
                a.peers = false;
                i += 1;
                continue;
            }
            "--only" => a.only = val().split(',').map(str::to_owned).collect(),
            "--quick" => {
                (a.calls, a.rounds, a.cold_runs, a.idle_n, a.many) = (640, 1, 3, 6, 10);
                a.peers = false;
                a.quick = true;
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    assert!(a.port != 0, "--port P is required (fast-server's port)");
    a
}

impl Args {
    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

/// The median run (by calls/s) of several, with the median CPU time.
fn mid(mut runs: Vec<Stats>) -> Stats {
    let cpu = median(runs.iter().map(|s| s.cpu).collect());
    runs.sort_by(|a, b| a.per_s().total_cmp(&b.per_s()));
    let mut m = runs.swap_remove(runs.len() / 2);
    m.cpu = cpu;
    m
}

fn p99_median(runs: &[Stats]) -> Duration {
    median(runs.iter().map(|s| s.p99).collect())
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let a = args();
    let mut rep = Report {
        quick: a.quick,
        ..Report::default()
    };
    let fast = a.bin_dir.join("fast-server");
    let fast_str = fast.to_str().expect("utf-8 path").to_owned();
    let base = format!("http://127.0.0.1:{}", a.port);
    let mcp_url = format!("{base}/mcp");

    // Cold start first, before this process has warmed anything up.
    if a.wants("cold") {
        cold_start(&a, &mut rep, &mcp_url);
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        if a.wants("streamable") {
            streamable(&a, &mut rep, &mcp_url).await;
        }
        if a.wants("auth") {
            auth(&a, &mut rep).await;
        }
        if a.wants("sse") {
            legacy_sse(&a, &mut rep).await;
        }
        if a.wants("stdio") {
            stdio_section(&a, &mut rep, &fast_str).await;
        }
    });
    if a.wants("idle") {
        idle(&a, &mut rep, &base, &fast_str);
    }

    let md = rep.markdown();
    println!("{md}");
    if let Some(out) = &a.out {
        std::fs::write(out, &md).expect("write --out");
        eprintln!("report written to {}", out.display());
    }
}

fn cold_start(a: &Args, rep: &mut Report, url: &str) {
    let port = a.port.to_string();
    let bin = a.bin_dir.clone();
    let mut clients = vec![
        {
            let (bin, port) = (bin.clone(), port.clone());
            cold::Cold::new("floor (raw hyper, same 3 requests)", move || {
                let mut c = Command::new(bin.join("cold-floor"));
                c.arg(&port);
                c
            })
        },
        {
            let (bin, url) = (bin.clone(), url.to_owned());
            cold::Cold::new("mcpkey library", move || {
                let mut c = Command::new(bin.join("cold-mcpkey"));
                c.arg(&url);
                c
            })
        },
    ];
    if a.cli.is_file() {
        let conf = std::env::temp_dir().join(format!("mcpkey-bench-{}.json", std::process::id()));
        std::fs::write(
            &conf,
            format!(r#"{{"mcpServers": {{"fast": {{"url": "{url}"}}}}}}"#),
        )
        .expect("config");
        let cli = a.cli.clone();
        clients.push(cold::Cold::new(
            "mcpkey CLI (`mcpkey call fast echo message=hi`)",
            move || {
                let mut c = Command::new(&cli);
                c.arg("--config")
                    .arg(&conf)
                    .args(["call", "fast", "echo", "message=hi"]);
                c
            },
        ));
    } else {
        rep.note(format!(
            "mcpkey CLI not found at {}: build it with `cargo build --release -p mcpkey-cli`",
            a.cli.display()
        ));
    }
    let (peers, notes) = if a.peers {
        peers::available(&a.repo, url)
    } else {
        (
            Vec::new(),
            vec!["peer clients not measured (--no-peers / --quick)".to_owned()],
        )
    };
    for n in notes {
        rep.note(n);
    }
    for p in peers {
        let url = url.to_owned();
        let label = p.label;
        clients.push(cold::Cold::new(label, move || {
            p.command(&url, "cold", 1, 1)
        }));
    }
    cold::measure(&mut clients, a.cold_runs);
    let floor = clients[0].median_wall();
    let sec = rep.section(
        "Cold start: new process → connect → tools/list → one call → exit",
        &format!(
            "Median of {} runs each, interleaved; peak RSS from wait4.",
            a.cold_runs
        ),
        vec!["client", "wall ms", "× floor", "peak RSS MB"],
    );
    let mut verdicts = Vec::new();
    for c in &clients {
        let w = c.median_wall();
        let ratio = w.as_secs_f64() / floor.as_secs_f64();
        let rss_mb = c.median_rss_kb() as f64 / 1024.0;
        sec.rows.push(vec![
            c.label.clone(),
            ms(w),
            f2(ratio),
            format!("{rss_mb:.1}"),
        ]);
        if c.label.starts_with("mcpkey") {
            verdicts.push((c.label.clone(), ratio, rss_mb));
        }
    }
    for (label, ratio, rss) in verdicts {
        rep.target(
            format!("cold start ≤ 1.5× floor: {label}"),
            format!("{ratio:.2}×"),
            ratio <= 1.5,
        );
        rep.target(
            format!("cold start peak RSS ≤ 8 MB: {label}"),
            format!("{rss:.1} MB"),
            rss <= 8.0,
        );
    }
}

async fn streamable(a: &Args, rep: &mut Report, url: &str) {
    let (peers, _) = if a.peers {
        peers::available(&a.repo, url)
    } else {
        (Vec::new(), Vec::new())
    };
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    for conc in [1usize, 16, 64] {
        let calls = a.calls.max(conc * 10);
        for (era, version, pin) in [
            ("modern", MODERN, ProtocolPin::Auto),
            ("legacy", LEGACY, ProtocolPin::Legacy(None)),
        ] {
            let mut floors = Vec::new();
            let mut ours = Vec::new();
            let mut conns = Vec::new();
            for _ in 0..a.rounds.max(1) {
                floors.push(http::floor(a.port, version, calls, conc).await);
                let (s, c) =
                    http::mcpkey_calls(a.port, http::plain(a.port, pin.clone()), calls, conc).await;
                ours.push(s);
                conns.push(c);
            }
            let (fp99, mp99) = (p99_median(&floors), p99_median(&ours));
            let (f, m) = (mid(floors), mid(ours));
            let ratio = m.per_s() / f.per_s();
            let p99_ratio = mp99.as_secs_f64() / fp99.as_secs_f64();
            rows.push(vec![
                "floor".into(),
                era.into(),
                conc.to_string(),
                f0(f.per_s()),
                "1.00".into(),
                us(f.p50),
                us(fp99),
                "1.00".into(),
                format!("{:.1}", f.cpu_us()),
                conc.to_string(),
            ]);
            let max_conns = *conns.iter().max().expect("a round");
            rows.push(vec![
                "**mcpkey**".into(),
                era.into(),
                conc.to_string(),
                f0(m.per_s()),
                f2(ratio),
                us(m.p50),
                us(mp99),
                f2(p99_ratio),
                format!("{:.1}", m.cpu_us()),
                max_conns.to_string(),
            ]);
            if conc <= 16 {
                targets.push((
                    format!("calls/s ≥ 0.95× floor: {era}, {conc} in flight"),
                    format!("{ratio:.2}×"),
                    ratio >= 0.95,
                ));
                targets.push((
                    format!("p99 ≤ 1.3× floor: {era}, {conc} in flight"),
                    format!("{p99_ratio:.2}×"),
                    p99_ratio <= 1.3,
                ));
            }
            if conc == 1 {
                // Modern: every call on one connection. Legacy: one POST
                // connection plus the standalone GET stream's.
                let allowed = if era == "modern" { 1 } else { 2 };
                targets.push((
                    format!("one TCP connection reused for a session's calls: {era}"),
                    format!(
                        "{max_conns} connection(s) for {} calls{}",
                        calls + 50,
                        if era == "legacy" {
                            " (1 POST + 1 GET stream)"
                        } else {
                            ""
                        }
                    ),
                    max_conns <= allowed,
                ));
            }
            if era == "legacy" {
                let r = mid(vec![http::rmcp(a.port, calls, conc).await]);
                rows.push(vec![
                    "rmcp 3.11 client (pooled reqwest)".into(),
                    era.into(),
                    conc.to_string(),
                    f0(r.per_s()),
                    f2(r.per_s() / f.per_s()),
                    us(r.p50),
                    us(r.p99),
                    f2(r.p99.as_secs_f64() / fp99.as_secs_f64()),
                    format!("{:.1}", r.cpu_us()),
                    String::new(),
                ]);
            }
            if era == "modern" && conc <= 16 {
                for p in &peers {
                    let n = (a.calls / 3).max(conc * 10);
                    match tokio::task::block_in_place(|| p.calls(url, n, conc)) {
                        Ok(s) => rows.push(vec![
                            p.label.into(),
                            "as negotiated".into(),
                            conc.to_string(),
                            f0(s.per_s()),
                            f2(s.per_s() / f.per_s()),
                            us(s.p50),
                            us(s.p99),
                            f2(s.p99.as_secs_f64() / fp99.as_secs_f64()),
                            "–".into(),
                            String::new(),
                        ]),
                        Err(e) => rep.note(format!("{} ({conc} in flight) failed: {e}", p.label)),
                    }
                }
            }
        }
    }
    let sec = rep.section(
        "Streamable HTTP: echo calls",
        &format!("{} calls per run ({} warm-up calls per lane first); median of {} interleaved runs; p99 is the median run's. TCP conns: connections the server accepted for mcpkey's whole session.", a.calls, 50, a.rounds),
        vec!["client", "era", "in flight", "calls/s", "× floor", "p50 µs", "p99 µs", "p99 × floor", "client CPU µs/call", "TCP conns"],
    );
    sec.rows = rows;
    for (w, m, ok) in targets {
        rep.target(w, m, ok);
    }
}

async fn auth(a: &Args, rep: &mut Report) {
    use mcpkey_bench::schemes::{self, Scheme};
    let rounds = (a.rounds * 2 + 1).max(1);
    let mut runs: Vec<Vec<Stats>> = vec![Vec::new(); Scheme::ALL.len()];
    let mut store_calls = 0;
    for round in 0..rounds {
        // Each round starts with a different scheme, so warm-up and drift
        // do not always favour the same one.
        for k in 0..Scheme::ALL.len() {
            let i = (k + round) % Scheme::ALL.len();
            let scheme = Scheme::ALL[i];
            let (client, store) = schemes::auth_client(a.port, scheme).await;
            let (s, _) = http::mcpkey_calls(a.port, client, a.calls, 1).await;
            if let Some(st) = store {
                store_calls = store_calls.max(st.calls.load(std::sync::atomic::Ordering::Relaxed));
            }
            runs[i].push(s);
        }
    }
    let mids: Vec<Stats> = runs.into_iter().map(mid).collect();
    let base = mids[0].per_s();
    let sec = rep.section(
        "Auth on the hot path: mcpkey, modern era, sequential",
        &format!("{} calls per run, median of {rounds} interleaved runs. The server verifies every credential (constant-time compares, HMAC over the body, Digest SHA-256 with HMAC-protected nonces).", a.calls),
        vec!["scheme", "calls/s", "× no auth", "p50 µs", "p99 µs", "client CPU µs/call"],
    );
    for (scheme, s) in Scheme::ALL.iter().zip(&mids) {
        sec.rows.push(vec![
            scheme.label().into(),
            f0(s.per_s()),
            f2(s.per_s() / base),
            us(s.p50),
            us(s.p99),
            format!("{:.1}", s.cpu_us()),
        ]);
    }
    for (scheme, s) in Scheme::ALL.iter().zip(&mids) {
        if matches!(scheme, Scheme::Signature | Scheme::Digest) {
            let slower = 1.0 - s.per_s() / base;
            rep.target(
                format!("≤ 3% slower than no auth: {}", scheme.label()),
                format!("{:.1}% slower", slower * 100.0),
                slower <= 0.03,
            );
        }
    }
    rep.target(
        "OAuth cached token: no store work per request",
        format!(
            "{store_calls} token-store calls in a whole session of {} calls",
            a.calls + 51
        ),
        store_calls <= 2,
    );
}

/// The two rows (floor, mcpkey) of a "floor vs mcpkey at N in flight"
/// table, from several interleaved runs of each.
fn floor_and_mcpkey_rows(conc: usize, floors: Vec<Stats>, ours: Vec<Stats>) -> [Vec<String>; 2] {
    let (fp99, mp99) = (p99_median(&floors), p99_median(&ours));
    let (f, m) = (mid(floors), mid(ours));
    [
        vec![
            "floor".into(),
            conc.to_string(),
            f0(f.per_s()),
            "1.00".into(),
            us(f.p50),
            us(fp99),
        ],
        vec![
            "**mcpkey**".into(),
            conc.to_string(),
            f0(m.per_s()),
            f2(m.per_s() / f.per_s()),
            us(m.p50),
            us(mp99),
        ],
    ]
}

const FLOOR_AND_MCPKEY_COLUMNS: [&str; 6] = [
    "client",
    "in flight",
    "calls/s",
    "× floor",
    "p50 µs",
    "p99 µs",
];

async fn legacy_sse(a: &Args, rep: &mut Report) {
    let mut rows = Vec::new();
    for conc in [1usize, 16] {
        let calls = a.calls.max(conc * 10);
        let mut floors = Vec::new();
        let mut ours = Vec::new();
        for _ in 0..a.rounds.max(1) {
            floors.push(sse::floor(a.port, calls, conc).await);
            ours.push(
                http::mcpkey_calls(a.port, sse::client(a.port), calls, conc)
                    .await
                    .0,
            );
        }
        rows.extend(floor_and_mcpkey_rows(conc, floors, ours));
    }
    let sec = rep.section(
        "Legacy HTTP+SSE (2024-11-05): echo calls",
        "Answers arrive on the GET /sse stream; POSTs get 202. Same run method as above.",
        FLOOR_AND_MCPKEY_COLUMNS.to_vec(),
    );
    sec.rows = rows;
}

async fn stdio_section(a: &Args, rep: &mut Report, fast: &str) {
    let mut rows = Vec::new();
    for conc in [1usize, 16] {
        let calls = a.calls.max(conc * 10);
        let mut floors = Vec::new();
        let mut ours = Vec::new();
        for _ in 0..a.rounds.max(1) {
            floors.push(stdio::floor(fast, calls, conc).await);
            ours.push(stdio::mcpkey(fast, calls, conc).await);
        }
        rows.extend(floor_and_mcpkey_rows(conc, floors, ours));
    }
    let sec = rep.section(
        "stdio: echo calls to `fast-server --stdio`",
        "Newline-delimited JSON-RPC over the child's pipes.",
        FLOOR_AND_MCPKEY_COLUMNS.to_vec(),
    );
    sec.rows = rows;

    let n = a.many;
    let tries = 3;
    let mut rows = Vec::new();
    for (label, startup_ms) in [
        ("starts at once (CPU-bound)", 0u64),
        ("starts after 200 ms of I/O", 200),
    ] {
        let (mut m1, mut mn, mut f1, mut fnn) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..tries {
            f1.push(stdio::floor_connect(fast, 1, startup_ms).await);
            m1.push(stdio::mcpkey_connect(fast, 1, startup_ms).await);
            fnn.push(stdio::floor_connect(fast, n, startup_ms).await);
            mn.push(stdio::mcpkey_connect(fast, n, startup_ms).await);
        }
        let (m1, mn, f1, fnn) = (median(m1), median(mn), median(f1), median(fnn));
        let (ratio, floor_ratio) = (
            mn.as_secs_f64() / m1.as_secs_f64(),
            fnn.as_secs_f64() / f1.as_secs_f64(),
        );
        rows.push(vec![
            format!("floor, server {label}"),
            ms(f1),
            ms(fnn),
            f2(floor_ratio),
            "1.00".into(),
        ]);
        rows.push(vec![
            format!("**mcpkey**, server {label}"),
            ms(m1),
            ms(mn),
            f2(ratio),
            f2(mn.as_secs_f64() / fnn.as_secs_f64()),
        ]);
        rep.target(
            format!("{n} stdio servers connect in ≤ 2× the time of one: server {label}"),
            format!("{ratio:.2}× (floor: {floor_ratio:.2}×)"),
            ratio <= 2.0,
        );
    }
    let sec = rep.section(
        &format!("stdio: connecting {n} servers at once"),
        &format!("Spawn + handshake until every server is ready; median of {tries}. Each server is its own `fast-server --stdio` process: when its start is CPU work, {n} of them on 2 CPUs take about {n}/2 times one however the client behaves (the floor shows it); a start that waits (200 ms here) shows whether the client connects them concurrently."),
        vec!["client", "1 server ms", "n servers ms", "n ÷ 1", "× floor (n servers)"],
    );
    sec.rows = rows;
}

fn idle(a: &Args, rep: &mut Report, base: &str, fast: &str) {
    let n = a.idle_n;
    let kinds = [
        (
            "Streamable HTTP, modern",
            "http-modern",
            format!("{base}/mcp"),
        ),
        (
            "Streamable HTTP, legacy (session + GET stream)",
            "http-legacy",
            format!("{base}/mcp"),
        ),
        ("legacy HTTP+SSE", "sse", format!("{base}/sse")),
        ("stdio (client side only)", "stdio", fast.to_owned()),
    ];
    let mut rows = Vec::new();
    for (label, kind, target) in kinds {
        let m = memory::measure(&a.bin_dir, kind, &target, n);
        let per = m.per_session_kb();
        rows.push(vec![
            label.to_owned(),
            f0(m.rss_1_kb as f64),
            f0(m.rss_n_kb as f64),
            format!("{per:.0}"),
        ]);
        rep.target(
            format!("≤ 250 KB per additional idle session: {label}"),
            format!("{per:.0} KB"),
            per <= 250.0,
        );
    }
    let sec = rep.section(
        "Idle memory per connected session",
        &format!("One process connects 1 session, then {} more (each its own server entry); RSS after each step.", n - 1),
        vec!["session kind", "RSS with 1, KB", "RSS with n, KB", "KB per added session"],
    );
    sec.rows = rows;
}
