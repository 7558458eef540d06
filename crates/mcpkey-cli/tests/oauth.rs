//! OAuth through the `mcpkey` binary as a person uses it: `mcpkey login`
//! with a scripted browser, later runs reusing the stored tokens, several
//! processes sharing one token store, `logout`, and no secret in any output
//! at trace level. The authorization server is tests/peers/oauth_server.py,
//! which logs every secret it issues so the test can search for them.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let p = root().join(".peers/venv/bin/python");
    assert!(p.is_file(), "run `bash scripts/install-peers.sh` first");
    p
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private (0700) scratch directory: MCPKEY_HOME, config and server log.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let p = std::env::temp_dir().join(format!(
            "mcpkey-cli-oauth-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&p)
            .unwrap();
        Scratch(p)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct AuthServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AuthServer {
    fn start(dir: &Scratch, args: &[&str]) -> Self {
        let port = free_port();
        let log = dir.path("oauth.jsonl");
        let child = Command::new(python())
            .arg(root().join("tests/peers/oauth_server.py"))
            .args(["--port", &port.to_string(), "--log"])
            .arg(&log)
            .args(args)
            .env("PYTHONWARNINGS", "ignore")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "oauth server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        AuthServer { child, port, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn stats(&self) -> serde_json::Value {
        let out = Command::new("curl")
            .args(["-sf", &self.url("/_stats")])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Every secret the server issued so far (codes, tokens, client secrets).
    fn issued_secrets(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap();
        let mut out = Vec::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            for key in [
                "code",
                "issued_access_token",
                "issued_refresh_token",
                "issued_client_secret",
            ] {
                if let Some(s) = v[key].as_str() {
                    out.push(s.to_owned());
                }
            }
        }
        out
    }
}

/// Writes an mcp.json naming the server `s` with OAuth and a fixed
/// callback port.
fn config(dir: &Scratch, server: &AuthServer) -> PathBuf {
    let path = dir.path("mcp.json");
    let json = format!(
        r#"{{"mcpServers": {{"s": {{"url": "{}", "auth": {{"type": "oauth", "callback_port": {}}}}}}}}}"#,
        server.url("/mcp"),
        free_port()
    );
    std::fs::write(&path, json).unwrap();
    path
}

fn mcpkey(dir: &Scratch, conf: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mcpkey"));
    c.arg("--config")
        .arg(conf)
        .env("MCPKEY_HOME", dir.path("home"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `mcpkey login s --no-open` and plays the browser: reads the
/// authorization URL from stderr, follows it to the server's redirect and
/// delivers that to the loopback listener. Returns the process output
/// (stderr includes what was read here).
fn login_with_scripted_browser(mut cmd: Command) -> Output {
    let mut child = cmd
        .args(["login", "s", "--no-open"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        let mut lines = BufReader::new(stderr).lines();
        let mut browsed = false;
        while let Some(Ok(line)) = lines.next() {
            seen.push_str(&line);
            seen.push('\n');
            let t = line.trim();
            if !browsed && t.starts_with("http") && t.contains("/authorize?") {
                browsed = true;
                // The browser: GET the authorization URL, do not follow.
                let out = Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "-w", "%{redirect_url}", t])
                    .output()
                    .unwrap();
                let back = String::from_utf8(out.stdout).unwrap();
                assert!(back.contains("code="), "authorize did not redirect: {back}");
                // ... and land on the loopback redirect URI.
                let page = Command::new("curl").args(["-sf", &back]).output().unwrap();
                assert!(page.status.success(), "callback page failed");
            }
        }
        seen
    });
    let mut stdout = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    let seen = reader.join().unwrap();
    Output {
        status,
        stdout: stdout.into_bytes(),
        stderr: seen.into_bytes(),
    }
}

#[test]
fn login_once_then_later_runs_use_the_stored_tokens_until_logout() {
    let dir = Scratch::new();
    let server = AuthServer::start(&dir, &[]);
    let conf = config(&dir, &server);

    // Before login: exit 3 and the command to run.
    let o = mcpkey(&dir, &conf)
        .args(["call", "s", "echo", "message=hi"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("mcpkey login s"), "{}", text(&o));

    let o = login_with_scripted_browser(mcpkey(&dir, &conf));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("logged in to s"), "{}", text(&o));
    assert_eq!(server.stats()["authorizations"], 1);

    // The store: 0700 directory, 0600 files.
    let home = dir.path("home");
    let mut files = 0;
    for entry in walk(&home) {
        let mode = std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777;
        if entry.is_dir() {
            assert_eq!(mode, 0o700, "{}", entry.display());
        } else {
            assert_eq!(mode, 0o600, "{}", entry.display());
            files += 1;
        }
    }
    assert!(files > 0, "nothing stored under {}", home.display());

    // A later run: no login, no new authorization.
    let o = mcpkey(&dir, &conf)
        .args(["call", "s", "echo", "message=later"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("later"));
    assert_eq!(server.stats()["authorizations"], 1);

    let o = mcpkey(&dir, &conf)
        .args(["--json", "auth", "status", "s"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["logged_in"], true, "{v}");

    let o = mcpkey(&dir, &conf).args(["logout", "s"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = mcpkey(&dir, &conf)
        .args(["call", "s", "echo", "message=hi"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "after logout: {}", text(&o));
}

#[test]
fn four_processes_sharing_a_token_store_refresh_once() {
    let dir = Scratch::new();
    // Tokens live 6 s (refreshed in their last 1.5 s).
    let server = AuthServer::start(&dir, &["--expires-in", "6"]);
    let conf = config(&dir, &server);
    let o = login_with_scripted_browser(mcpkey(&dir, &conf));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    std::thread::sleep(Duration::from_millis(6500));

    let children: Vec<Child> = (0..4)
        .map(|i| {
            mcpkey(&dir, &conf)
                .args(["call", "s", "echo", &format!("message=p{i}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let o = c.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "process {i}: {}", text(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("p{i}")));
    }
    let st = server.stats();
    assert_eq!(st["token_refresh"], 1, "{st}");
    assert_eq!(st["refresh_reuse"], 0, "{st}");
    assert_eq!(st["authorizations"], 1, "{st}");
}

#[test]
fn no_oauth_secret_reaches_any_output_at_trace_level() {
    let dir = Scratch::new();
    // Confidential client with a secret full of characters that need
    // escaping, short-lived tokens so a refresh happens too.
    let server = AuthServer::start(
        &dir,
        &["--tricky-secret", "--confidential", "--expires-in", "4"],
    );
    let conf = config(&dir, &server);
    let mut all = String::new();

    let mut cmd = mcpkey(&dir, &conf);
    cmd.env("RUST_LOG", "trace");
    let o = login_with_scripted_browser(cmd);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    all.push_str(&text(&o));
    std::thread::sleep(Duration::from_millis(4500));
    for json in [false, true] {
        let mut cmd = mcpkey(&dir, &conf);
        cmd.env("RUST_LOG", "trace");
        if json {
            cmd.arg("--json");
        }
        let o = cmd
            .args(["call", "s", "echo", "message=x"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        all.push_str(&text(&o));
        let o = mcpkey(&dir, &conf)
            .env("RUST_LOG", "trace")
            .args(["auth", "status", "s"])
            .output()
            .unwrap();
        all.push_str(&text(&o));
    }
    assert!(all.contains("TRACE"), "trace logging was not on");
    assert!(server.stats()["token_refresh"].as_u64() >= Some(1));

    let secrets = server.issued_secrets();
    assert!(
        secrets.iter().any(|s| s.starts_with("cs-")),
        "the server issued no client secret: {secrets:?}"
    );
    assert!(secrets.len() >= 4, "{secrets:?}");
    for s in &secrets {
        assert!(!all.contains(s.as_str()), "secret {s:?} leaked:\n{all}");
    }
    for marker in [
        "code_verifier=",
        "Bearer ",
        "refresh_token=",
        "client_secret=",
    ] {
        assert!(!all.contains(marker), "{marker:?} in output:\n{all}");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            for e in std::fs::read_dir(&out[i]).unwrap() {
                out.push(e.unwrap().path());
            }
        }
        i += 1;
    }
    out
}
