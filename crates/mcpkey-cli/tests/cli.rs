//! The `mcpkey` binary as a user runs it: exit codes, human and JSON output,
//! against real peers (installed by scripts/install-peers.sh).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn everything_js() -> String {
    let p = root()
        .join(".peers/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(p.is_file(), "run `bash scripts/install-peers.sh` first");
    p.display().to_string()
}

struct Conf {
    path: PathBuf,
}

impl Conf {
    fn new(json: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "mcpkey-cli-{}-{}.json",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(json.as_bytes())
            .unwrap();
        Self { path }
    }
}

impl Drop for Conf {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn rand_suffix() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mcpkey(conf: &Conf, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcpkey"))
        .arg("--config")
        .arg(&conf.path)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn everything_conf() -> Conf {
    Conf::new(&format!(
        r#"{{"mcpServers": {{"ev": {{"command": "node", "args": ["{}", "stdio"]}}}}}}"#,
        everything_js()
    ))
}

#[test]
fn call_with_key_value_arguments_typed_by_schema() {
    let c = everything_conf();
    let o = mcpkey(&c, &["call", "ev", "get-sum", "a=2", "b=40"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("42"), "{}", stdout(&o));
    let o = mcpkey(&c, &["call", "ev", "echo", "message=123"]);
    assert_eq!(
        stdout(&o).trim(),
        "Echo: 123",
        "string parameter stays a string"
    );
}

#[test]
fn json_output_is_json() {
    let c = everything_conf();
    let o = mcpkey(&c, &["--json", "tools", "ev"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.as_array().unwrap().iter().any(|t| t["name"] == "echo"));
    let o = mcpkey(&c, &["--json", "call", "ev", "echo", r#"{"message":"j"}"#]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["content"][0]["text"], "Echo: j");
    let o = mcpkey(&c, &["--json", "servers"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["name"], "ev");
}

#[test]
fn tool_error_is_exit_code_5() {
    let c = everything_conf();
    let o = mcpkey(&c, &["call", "ev", "no-such-tool"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("isError"));
}

#[test]
fn usage_and_config_errors_are_exit_code_1() {
    let c = everything_conf();
    assert_eq!(mcpkey(&c, &["frobnicate"]).status.code(), Some(1));
    let o = mcpkey(&c, &["call", "ev", "get-sum", "a=notanumber"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("must be a number"));
    let o = mcpkey(&c, &["tools", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no server named 'nope'"),
        "{}",
        stderr(&o)
    );

    let bad = Conf::new("{\"mcpServers\": {\"x\": {\"command\": 5}}}");
    let o = mcpkey(&bad, &["tools"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(":1:"),
        "position in the error: {}",
        stderr(&o)
    );

    let missing = Conf::new(
        r#"{"mcpServers": {"x": {"url": "http://127.0.0.1:1/${MCPKEY_CLI_TEST_UNSET}"}}}"#,
    );
    let o = mcpkey(&missing, &["tools", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("MCPKEY_CLI_TEST_UNSET"));

    let o = Command::new(env!("CARGO_BIN_EXE_mcpkey"))
        .args(["--config", "/nonexistent/mcp.json", "servers"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn unreachable_server_is_exit_code_4_and_json_errors_on_stderr() {
    let port = rand_suffix();
    let c = Conf::new(&format!(
        r#"{{"mcpServers": {{"gone": {{"url": "http://127.0.0.1:{port}/mcp"}}}}}}"#
    ));
    let o = mcpkey(&c, &["--json", "tools", "gone"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(o.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(v["error"]["server"], "gone");
    assert_eq!(v["error"]["exit_code"], 4);
}

#[test]
fn help_documents_exit_codes() {
    let o = Command::new(env!("CARGO_BIN_EXE_mcpkey"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    for code in [
        "0  success",
        "3  authentication",
        "4  server unreachable",
        "5  the tool returned isError",
    ] {
        assert!(out.contains(code), "{out}");
    }
}

#[test]
fn lists_resources_prompts_and_reads() {
    let c = everything_conf();
    let o = mcpkey(&c, &["resources", "ev"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("demo://resource/static/document/architecture.md"));
    let o = mcpkey(
        &c,
        &[
            "read",
            "ev",
            "demo://resource/static/document/architecture.md",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Architecture"));
    let o = mcpkey(&c, &["prompts", "ev"]);
    assert!(stdout(&o).contains("args-prompt"));
    let o = mcpkey(&c, &["prompt", "ev", "args-prompt", "city=Paris"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("Paris"));
}
