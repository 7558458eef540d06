//! Latency summaries.

use std::time::Duration;

/// One measured scenario.
#[derive(Debug, Clone)]
pub struct Stats {
    pub calls: usize,
    pub wall: Duration,
    /// CPU time this process used during the run (user + system).
    pub cpu: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

impl Stats {
    pub fn new(wall: Duration, cpu: Duration, mut lat: Vec<Duration>) -> Self {
        lat.sort();
        let pick = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1))];
        Stats {
            calls: lat.len(),
            wall,
            cpu,
            p50: pick(0.5),
            p99: pick(0.99),
        }
    }

    /// Client CPU per call, in microseconds.
    pub fn cpu_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.calls.max(1) as f64
    }

    pub fn per_s(&self) -> f64 {
        self.calls as f64 / self.wall.as_secs_f64()
    }
}

/// The median of some durations (the middle one; upper middle for even counts).
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// CPU time (user + system) this process has used so far.
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
