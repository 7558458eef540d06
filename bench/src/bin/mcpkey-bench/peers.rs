//! Peer MCP clients (TypeScript SDK, Python `mcp`, Python `mcp-use`) run
//! through the driver scripts in bench/peers/. Each is optional: a missing
//! runtime or package is reported and skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mcpkey_bench::stats::Stats;

pub struct Peer {
    pub label: &'static str,
    pub runtime: PathBuf,
    pub script: PathBuf,
}

impl Peer {
    pub fn command(&self, url: &str, mode: &str, n: usize, conc: usize) -> Command {
        let mut c = Command::new(&self.runtime);
        c.arg(&self.script)
            .args([url, mode, &n.to_string(), &conc.to_string()]);
        c.env("PYTHONWARNINGS", "ignore")
            .env("NODE_NO_WARNINGS", "1");
        c
    }

    /// `calls` mode: the driver prints `{"calls","wall_s","p50_us","p99_us"}`.
    pub fn calls(&self, url: &str, n: usize, conc: usize) -> Result<Stats, String> {
        let out = self
            .command(url, "calls", n, conc)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("failed")
                .to_owned());
        }
        let line = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value =
            serde_json::from_str(line.trim()).map_err(|e| format!("{e}: {line}"))?;
        let num = |k: &str| v[k].as_f64().ok_or_else(|| format!("no {k} in {line}"));
        Ok(Stats {
            calls: num("calls")? as usize,
            wall: Duration::from_secs_f64(num("wall_s")?),
            cpu: Duration::ZERO,
            p50: Duration::from_micros(num("p50_us")? as u64),
            p99: Duration::from_micros(num("p99_us")? as u64),
        })
    }
}

/// The peers whose runtime and packages are installed; notes for the rest.
pub fn available(repo: &Path, url: &str) -> (Vec<Peer>, Vec<String>) {
    let candidates = [
        Peer {
            label: "TypeScript SDK",
            runtime: PathBuf::from("node"),
            script: repo.join("bench/peers/ts_sdk.mjs"),
        },
        Peer {
            label: "Python mcp",
            runtime: repo.join(".peers/venv/bin/python"),
            script: repo.join("bench/peers/py_mcp.py"),
        },
        Peer {
            label: "Python mcp-use",
            runtime: repo.join(".peers/bench-venv/bin/python"),
            script: repo.join("bench/peers/py_mcp_use.py"),
        },
    ];
    let mut ok = Vec::new();
    let mut notes = Vec::new();
    for p in candidates {
        // One cold run decides: it needs the runtime and the package.
        match p.command(url, "cold", 1, 1).output() {
            Ok(o) if o.status.success() => ok.push(p),
            Ok(o) => notes.push(format!(
                "{} skipped: {}",
                p.label,
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("driver failed")
            )),
            Err(e) => notes.push(format!(
                "{} skipped: cannot run {}: {e}",
                p.label,
                p.runtime.display()
            )),
        }
    }
    (ok, notes)
}
