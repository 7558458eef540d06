//! Starting real peers (installed by scripts/install-peers.sh into .peers/)
//! and our fault servers, each on its own free port, killed on drop.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcpkey::ServerConfig;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn peers_dir() -> PathBuf {
    let p = repo_root().join(".peers");
    assert!(
        p.join("npm").is_dir() && p.join("venv").is_dir(),
        "the test peers are not installed: run `bash scripts/install-peers.sh` (or `bash scripts/test.sh`)"
    );
    p
}

pub fn everything_js() -> PathBuf {
    peers_dir().join("npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js")
}

pub fn python() -> PathBuf {
    peers_dir().join("venv/bin/python")
}

pub fn peer_script(name: &str) -> PathBuf {
    repo_root().join("tests/peers").join(name)
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A server process, killed (with its process group) on drop.
pub struct Peer {
    child: Child,
    pub port: u16,
    pub log: Option<PathBuf>,
    _dir: Option<tempdir::Dir>,
}

impl Peer {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Requests the fault server logged, as JSON values.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let Some(log) = &self.log else {
            return Vec::new();
        };
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub fn kill(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(mut cmd: Command, port: u16, log: Option<PathBuf>, dir: Option<tempdir::Dir>) -> Peer {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("spawning a test peer");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(e) = child.stderr.take() {
                for l in BufReader::new(e).lines().map_while(Result::ok) {
                    err.push_str(&l);
                    err.push('\n');
                }
            }
            panic!("test peer exited ({status}) before listening on {port}:\n{err}");
        }
        assert!(
            Instant::now() < deadline,
            "test peer did not listen on {port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Drain stderr so a chatty peer never blocks.
    if let Some(e) = child.stderr.take() {
        std::thread::spawn(move || for _ in BufReader::new(e).lines() {});
    }
    Peer {
        child,
        port,
        log,
        _dir: dir,
    }
}

/// `@modelcontextprotocol/server-everything` over `streamableHttp` or `sse`.
pub fn everything(mode: &str) -> Peer {
    let port = free_port();
    let mut cmd = Command::new("node");
    cmd.arg(everything_js())
        .arg(mode)
        .env("PORT", port.to_string());
    spawn(cmd, port, None, None)
}

/// The Python SDK server (both eras on /mcp, legacy SSE on /sse).
pub fn py_server() -> Peer {
    py_server_on(free_port())
}

pub fn py_server_on(port: u16) -> Peer {
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("py_server.py"))
        .args(["--transport", "both", "--port", &port.to_string()])
        .env("PYTHONWARNINGS", "ignore");
    spawn(cmd, port, None, None)
}

/// The fault server with extra arguments; requests are logged.
pub fn fault_server(args: &[&str]) -> Peer {
    let port = free_port();
    let dir = tempdir::Dir::new();
    let log = dir.path().join("requests.jsonl");
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("fault_server.py"))
        .args(["--port", &port.to_string(), "--log"])
        .arg(&log)
        .args(args);
    spawn(cmd, port, Some(log), Some(dir))
}

pub fn everything_stdio() -> ServerConfig {
    ServerConfig::stdio("node")
        .arg(everything_js().to_string_lossy())
        .arg("stdio")
}

pub fn py_stdio() -> ServerConfig {
    ServerConfig::stdio(python().to_string_lossy())
        .arg(peer_script("py_server.py").to_string_lossy())
        .args(["--transport", "stdio"])
        .env("PYTHONWARNINGS", "ignore")
}

pub fn stdio_fault(mode: &str) -> ServerConfig {
    ServerConfig::stdio(python().to_string_lossy())
        .arg(peer_script("stdio_faults.py").to_string_lossy())
        .arg(mode)
}

/// Whether a process is alive (and not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s.split_whitespace().nth(2).is_none_or(|state| state != "Z"),
        Err(_) => false,
    }
}

/// Waits up to `limit` for `f` to hold, letting the runtime run meanwhile.
pub async fn eventually_async(limit: Duration, f: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

pub mod tempdir {
    use std::path::{Path, PathBuf};

    /// A temporary directory removed on drop.
    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Self {
            let p = std::env::temp_dir().join(format!(
                "mcpkey-test-{}-{}",
                std::process::id(),
                super::free_port()
            ));
            // 0700 like a real home directory: the token store refuses
            // directories other users can read.
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&p)
                .unwrap();
            Dir(p)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn args(v: serde_json::Value) -> Option<serde_json::Map<String, serde_json::Value>> {
    v.as_object().cloned()
}

pub fn text_of(r: &mcpkey::model::CallToolResult) -> String {
    let v = serde_json::to_value(r).unwrap();
    v["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Python SDK server behind an authentication check (tests/peers/auth_server.py).
pub fn auth_server(scheme: &str, args: &[&str]) -> Peer {
    let port = free_port();
    let dir = tempdir::Dir::new();
    let log = dir.path().join("auth.jsonl");
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("auth_server.py"))
        .args(["--port", &port.to_string(), "--scheme", scheme, "--log"])
        .arg(&log)
        .args(args)
        .env("PYTHONWARNINGS", "ignore");
    spawn(cmd, port, Some(log), Some(dir))
}

/// The Python OAuth authorization server + protected MCP server
/// (tests/peers/oauth_server.py). Its log lists every secret it issued.
pub fn oauth_server(args: &[&str]) -> Peer {
    let port = free_port();
    let dir = tempdir::Dir::new();
    let log = dir.path().join("oauth.jsonl");
    let mut cmd = Command::new(python());
    cmd.arg(peer_script("oauth_server.py"))
        .args(["--port", &port.to_string(), "--log"])
        .arg(&log)
        .args(args)
        .env("PYTHONWARNINGS", "ignore");
    spawn(cmd, port, Some(log), Some(dir))
}

impl Peer {
    /// The oauth server's counters.
    pub async fn stats(&self) -> serde_json::Value {
        let out = tokio::process::Command::new("curl")
            .args(["-s", &self.url("/_stats")])
            .output()
            .await
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Revokes every access token at the oauth server.
    pub async fn revoke(&self) {
        self.revoke_path("/_revoke").await;
    }

    /// Revokes every access and refresh token: only a new login gets in.
    pub async fn revoke_grants(&self) {
        self.revoke_path("/_revoke?grants=1").await;
    }

    async fn revoke_path(&self, path: &str) {
        let out = tokio::process::Command::new("curl")
            .args(["-s", "-X", "POST", &self.url(path)])
            .output()
            .await
            .unwrap();
        assert!(out.status.success());
    }
}
