//! No secret reaches stdout or stderr: each scheme runs through the CLI
//! with `RUST_LOG=trace` and `--json` against a server that verifies it
//! (tests/peers/auth_server.py), and the output is searched for every
//! secret value, the encoded forms that carry them, and signatures.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn auth_server(port: u16, scheme: &str, args: &[&str]) -> Server {
    let log = std::env::temp_dir().join(format!("mcpkey-leak-{port}.jsonl"));
    let child = Command::new(python())
        .arg(root().join("tests/peers/auth_server.py"))
        .args(["--port", &port.to_string(), "--scheme", scheme, "--log"])
        .arg(&log)
        .args(args)
        .env("PYTHONWARNINGS", "ignore")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "auth server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server(child)
}

fn run_cli(config: &str, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let path = std::env::temp_dir().join(format!("mcpkey-leak-{}.json", free_port()));
    std::fs::write(&path, config).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcpkey"));
    cmd.arg("--config")
        .arg(&path)
        .args(args)
        .env("RUST_LOG", "trace");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let _ = std::fs::remove_file(&path);
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn assert_clean(label: &str, text: &str, secrets: &[&str]) {
    assert!(
        text.contains("TRACE") || text.contains("trace"),
        "{label}: trace logging was not on"
    );
    for s in secrets {
        assert!(!text.contains(s), "{label}: secret {s:?} leaked:\n{text}");
    }
    // Derived credentials: Basic/Digest Authorization values and signatures.
    for marker in ["Basic ", "response=\"", "cnonce="] {
        assert!(
            !text.contains(marker),
            "{label}: {marker:?} leaked:\n{text}"
        );
    }
    let long_hex = text
        .split(|c: char| !c.is_ascii_hexdigit())
        .any(|w| w.len() == 64);
    assert!(
        !long_hex,
        "{label}: a 64-hex value (signature?) leaked:\n{text}"
    );
}

#[test]
fn no_scheme_leaks_at_trace_level_or_in_json() {
    let basic_b64 = "YWxpY2U6YmFzaWMtUzNjcmV0"; // base64("alice:basic-S3cret")
    let cases: Vec<(&str, Vec<&str>, String, Vec<&str>)> = vec![
        ("bearer", vec!["--token", "Tok3n-bearer"], r#""${LEAK_TOKEN}""#.into(), vec!["Tok3n-bearer"]),
        (
            "basic",
            vec!["--username", "alice", "--password", "basic-S3cret"],
            r#"{"type":"basic","username":"alice","password":"${LEAK_PW}"}"#.into(),
            vec!["basic-S3cret", basic_b64],
        ),
        (
            "digest",
            vec!["--username", "alice", "--password", "digest-S3cret"],
            r#"{"type":"digest","username":"alice","password":"digest-S3cret"}"#.into(),
            vec!["digest-S3cret"],
        ),
        (
            "api_key",
            vec!["--api-key", "K3y-header"],
            r#"{"type":"api_key","api_key":"K3y-header"}"#.into(),
            vec!["K3y-header"],
        ),
        (
            "query_param",
            vec!["--api-key", "K3y-query"],
            r#"{"type":"query_param","api_key":"K3y-query"}"#.into(),
            vec!["K3y-query"],
        ),
        (
            "signature",
            vec!["--api-key", "K3y-sig", "--api-secret", "S3cret-sig"],
            r#"{"type":"signature","api_key":"K3y-sig","api_secret":"S3cret-sig"}"#.into(),
            vec!["K3y-sig", "S3cret-sig"],
        ),
        (
            "multi_header",
            vec!["--headers", r#"{"X-API-Key":"K3y-multi","X-Tenant-ID":"T3nant-secret"}"#],
            r#"{"type":"multi_header","headers":{"X-API-Key":"K3y-multi","X-Tenant-ID":"T3nant-secret"}}"#.into(),
            vec!["K3y-multi", "T3nant-secret"],
        ),
    ];
    let env = [("LEAK_TOKEN", "Tok3n-bearer"), ("LEAK_PW", "basic-S3cret")];
    for (scheme, server_args, auth, secrets) in cases {
        let port = free_port();
        let _server = auth_server(port, scheme, &server_args);
        for (transport, path) in [("streamable-http", "/mcp"), ("sse", "/sse")] {
            for protocol in ["auto", "legacy"] {
                let config = format!(
                    r#"{{"mcpServers":{{"s":{{"url":"http://127.0.0.1:{port}{path}","transport":"{transport}","protocol":"{protocol}","auth":{auth}}}}}}}"#
                );
                let label = format!("{scheme} over {transport} ({protocol})");
                let (code, text) = run_cli(
                    &config,
                    &["--json", "call", "s", "echo", "message=hello"],
                    &env,
                );
                assert_eq!(code, Some(0), "{label}:\n{text}");
                assert_clean(&label, &text, &secrets);
                let (_, text) = run_cli(&config, &["--json", "servers"], &env);
                assert_clean(&label, &format!("TRACE\n{text}"), &secrets);
            }
        }
        // Wrong credentials: the failure is reported without any secret either.
        let config = format!(
            r#"{{"mcpServers":{{"s":{{"url":"http://127.0.0.1:{port}/mcp","auth":{{"type":"bearer","token":"Wr0ng-token"}}}}}}}}"#
        );
        let (code, text) = run_cli(&config, &["--json", "tools", "s"], &[]);
        if scheme != "none" {
            assert_eq!(code, Some(3), "{scheme} wrong creds:\n{text}");
            assert_clean(&format!("{scheme} wrong"), &text, &["Wr0ng-token"]);
        }
    }
}
