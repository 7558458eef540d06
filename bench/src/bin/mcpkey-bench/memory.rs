//! Idle memory per connected session, measured in a fresh process
//! (`idle-sessions`) so nothing else in it moves the RSS.

use std::path::Path;
use std::process::Command;

/// KB of RSS per additional idle session: (RSS with n − RSS with 1) / (n − 1).
pub struct Idle {
    pub rss_1_kb: u64,
    pub rss_n_kb: u64,
    pub n: u64,
}

impl Idle {
    pub fn per_session_kb(&self) -> f64 {
        (self.rss_n_kb as f64 - self.rss_1_kb as f64) / (self.n - 1) as f64
    }
}

pub fn measure(bin_dir: &Path, kind: &str, target: &str, n: usize) -> Idle {
    let out = Command::new(bin_dir.join("idle-sessions"))
        .args([kind, target, &n.to_string()])
        .output()
        .expect("run idle-sessions");
    assert!(
        out.status.success(),
        "idle-sessions {kind}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("idle-sessions prints JSON");
    let get = |k: &str| v[k].as_u64().expect("a number");
    Idle {
        rss_1_kb: get("rss_1_kb"),
        rss_n_kb: get("rss_n_kb"),
        n: get("n"),
    }
}
