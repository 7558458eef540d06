//! Latency summaries.

use std::time::Duration;

/// One measured scenario.
#[derive(Debug, Clone)]
pub struct Stats {
    pub calls: usize,
    pub wall: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

impl Stats {
    pub fn new(wall: Duration, mut lat: Vec<Duration>) -> Self {
        lat.sort();
        let pick = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1))];
        Stats {
            calls: lat.len(),
            wall,
            p50: pick(0.5),
            p99: pick(0.99),
        }
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
