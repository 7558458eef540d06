//! Cold start: a new process connects, lists tools, makes one call and
//! exits. Wall time from spawn to exit, peak RSS from the kernel (wait4).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One process run.
pub struct Run {
    pub wall: Duration,
    pub rss_kb: u64,
}

/// Runs `cmd` to completion; panics (with its stderr) if it fails.
pub fn run(cmd: &mut Command) -> Run {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t = Instant::now();
    // Reaped below with wait4 (which also gives the peak RSS), not Child::wait.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = t.elapsed();
    assert_eq!(r, pid, "wait4 failed");
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        panic!("{cmd:?} failed (status {status}):\n{err}");
    }
    Run {
        wall,
        rss_kb: ru.ru_maxrss as u64,
    }
}

/// A client measured from a cold start.
pub struct Cold {
    pub label: String,
    pub cmd: Box<dyn Fn() -> Command>,
    pub runs: Vec<Run>,
}

impl Cold {
    pub fn new(label: impl Into<String>, cmd: impl Fn() -> Command + 'static) -> Self {
        Cold {
            label: label.into(),
            cmd: Box::new(cmd),
            runs: Vec::new(),
        }
    }

    pub fn median_wall(&self) -> Duration {
        mcpkey_bench::stats::median(self.runs.iter().map(|r| r.wall).collect())
    }

    pub fn median_rss_kb(&self) -> u64 {
        let mut v: Vec<u64> = self.runs.iter().map(|r| r.rss_kb).collect();
        v.sort();
        v[v.len() / 2]
    }
}

/// `rounds` rounds, each running every client once (interleaved, so drift
/// in the machine's speed hits all of them alike). One unmeasured warm-up
/// round first fills the page cache.
pub fn measure(clients: &mut [Cold], rounds: usize) {
    for c in clients.iter() {
        run(&mut (c.cmd)());
    }
    for _ in 0..rounds {
        for c in clients.iter_mut() {
            let r = run(&mut (c.cmd)());
            c.runs.push(r);
        }
    }
}
