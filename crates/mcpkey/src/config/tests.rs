use std::collections::HashMap;

use super::*;

struct MapEnv(HashMap<&'static str, &'static str>);

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|s| s.to_string())
    }
    fn read_file(&self, _: &str) -> std::io::Result<String> {
        Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no"))
    }
}

fn env() -> MapEnv {
    MapEnv(HashMap::from([("TOKEN", "tok-123"), ("PORT", "3001")]))
}

const SAMPLE: &str = r#"{
  "mcpServers": {
    "local": {"command": "npx", "args": ["-y", "pkg", 7], "env": {"KEY": "${TOKEN}", "N": 3}, "cwd": "/tmp"},
    "remote": {"url": "http://127.0.0.1:${PORT}/mcp", "headers": {"X-API-Key": "${TOKEN}", "X-Tenant": "t1"}, "auth": "${TOKEN}", "timeout": 2.5, "futureKey": 1},
    "legacy": {"type": "sse", "serverUrl": "http://127.0.0.1:9/sse?api_key=${TOKEN}"},
    "broken": {"url": "http://h/${NOT_SET}"},
    "vscode": {"type": "http", "url": "http://127.0.0.1:1/mcp", "auth": false}
  }
}"#;

#[test]
fn resolves_every_shape() {
    let cfg = Config::parse(SAMPLE, "sample.json").unwrap();
    let (local, _) = cfg.resolve_with("local", &env()).unwrap();
    match local.target() {
        Target::Stdio(s) => {
            assert_eq!(s.command, "npx");
            assert_eq!(s.args, ["-y", "pkg", "7"]);
            assert!(s.env.contains(&("KEY".into(), "tok-123".into())));
            assert!(s.env.contains(&("N".into(), "3".into())));
        }
        t => panic!("{t:?}"),
    }

    let (remote, warnings) = cfg.resolve_with("remote", &env()).unwrap();
    assert!(
        matches!(remote.target(), Target::Http { url, transport: HttpTransport::Auto } if url.port() == Some(3001))
    );
    assert_eq!(
        remote.connect_timeout,
        std::time::Duration::from_millis(2500)
    );
    assert!(
        remote
            .headers
            .iter()
            .any(|(k, v)| k == "x-api-key" && v.is_sensitive())
    );
    assert!(
        remote
            .headers
            .iter()
            .any(|(k, v)| k == "x-tenant" && !v.is_sensitive())
    );
    assert!(matches!(remote.auth, AuthSetting::Auth(_)));
    assert!(
        warnings.iter().any(|w| w.contains("futureKey")),
        "{warnings:?}"
    );

    let (legacy, _) = cfg.resolve_with("legacy", &env()).unwrap();
    assert!(matches!(
        legacy.target(),
        Target::Http {
            transport: HttpTransport::Sse,
            ..
        }
    ));

    let (vscode, _) = cfg.resolve_with("vscode", &env()).unwrap();
    assert!(matches!(
        vscode.target(),
        Target::Http {
            transport: HttpTransport::Streamable,
            ..
        }
    ));
    assert!(matches!(vscode.auth, AuthSetting::Disabled));
}

#[test]
fn missing_variable_names_variable_server_and_key() {
    let cfg = Config::parse(SAMPLE, "sample.json").unwrap();
    let err = cfg.resolve_with("broken", &env()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("NOT_SET") && msg.contains("broken") && msg.contains("url"),
        "{msg}"
    );
}

#[test]
fn secrets_do_not_appear_in_debug_or_summaries() {
    let cfg = Config::parse(SAMPLE, "sample.json").unwrap();
    for name in ["local", "remote", "legacy"] {
        let (c, _) = cfg.resolve_with(name, &env()).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("tok-123"), "{name}: {dbg}");
    }
    let sums = cfg.summaries();
    let legacy = sums.iter().find(|s| s.name == "legacy").unwrap();
    assert_eq!(legacy.target, "http://127.0.0.1:9/sse?api_key=***");
}

#[test]
fn parse_errors_point_at_line_column_and_key() {
    let text = "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\", \"args\": [1, {}]}\n  }\n}";
    let err = Config::parse(text, "bad.json").unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("bad.json:3:"), "{msg}");
    assert!(msg.contains("mcpServers.a.args"), "{msg}");

    let err = Config::parse("{\"mcpServers\": {", "trunc.json").unwrap_err();
    assert!(err.to_string().starts_with("trunc.json:1:"), "{err}");

    let err = Config::parse("{\"other\": 1}", "none.json").unwrap_err();
    assert!(matches!(err, ConfigError::NoServers { .. }));
}

#[test]
fn invalid_values_are_named() {
    let cases = [
        (r#"{"mcpServers":{"s":{}}}"#, "needs `command`"),
        (
            r#"{"mcpServers":{"s":{"url":"ftp://x"}}}"#,
            "http:// or https://",
        ),
        (
            r#"{"mcpServers":{"s":{"url":"http://x","transport":"carrier-pigeon"}}}"#,
            "unknown transport",
        ),
        (
            r#"{"mcpServers":{"s":{"url":"http://x","headers":{"Accept":"x"}}}}"#,
            "set by mcpkey",
        ),
        (
            r#"{"mcpServers":{"s":{"url":"http://x","timeout":-1}}}"#,
            "positive",
        ),
        (
            r#"{"mcpServers":{"s":{"url":"http://x","auth":{"type":"kerberos"}}}}"#,
            "unknown auth type",
        ),
        (
            r#"{"mcpServers":{"s":{"url":"http://x","protocol":"1999"}}}"#,
            "unknown protocol",
        ),
    ];
    for (text, want) in cases {
        let cfg = Config::parse(text, "t.json").unwrap();
        let err = cfg.resolve_with("s", &env()).unwrap_err().to_string();
        assert!(err.contains(want) && err.contains("'s'"), "{text}: {err}");
    }
}

#[test]
fn header_value_with_newline_is_rejected_without_echo() {
    struct NlEnv;
    impl Env for NlEnv {
        fn var(&self, _: &str) -> Option<String> {
            Some("abc\r\nInjected: yes".into())
        }
        fn read_file(&self, _: &str) -> std::io::Result<String> {
            unreachable!()
        }
    }
    let cfg = Config::parse(
        r#"{"mcpServers":{"s":{"url":"http://x","headers":{"X-Token":"${T}"}}}}"#,
        "t.json",
    )
    .unwrap();
    let err = cfg.resolve_with("s", &NlEnv).unwrap_err().to_string();
    assert!(
        err.contains("X-Token") && !err.contains("Injected"),
        "{err}"
    );
}

#[test]
fn authorization_header_and_auth_warns_and_auth_wins() {
    let cfg = Config::parse(
        r#"{"mcpServers":{"s":{"url":"http://x","headers":{"Authorization":"Bearer a"},"auth":"b"}}}"#,
        "t.json",
    )
    .unwrap();
    let (c, w) = cfg.resolve_with("s", &env()).unwrap();
    assert!(w.iter().any(|w| w.contains("`auth` wins")), "{w:?}");
    assert!(
        c.headers
            .iter()
            .all(|(k, _)| k != http::header::AUTHORIZATION)
    );
}

#[test]
fn vscode_servers_key() {
    let cfg = Config::parse(
        r#"{"inputs":[],"servers":{"gh":{"type":"http","url":"https://api.example.com/mcp"}}}"#,
        "mcp.json",
    )
    .unwrap();
    assert_eq!(cfg.server_names().collect::<Vec<_>>(), ["gh"]);
}

#[test]
fn every_auth_form_resolves() {
    let forms = [
        r#""tok""#,
        r#"false"#,
        r#"{"type":"none"}"#,
        r#"{"type":"bearer","token":"t"}"#,
        r#"{"type":"basic","username":"u","password":"p"}"#,
        r#"{"type":"digest","username":"u","password":"p"}"#,
        r#"{"type":"api_key","api_key":"k"}"#,
        r#"{"type":"api_key","api_key":"k","header_name":"Api-Key"}"#,
        r#"{"type":"query_param","api_key":"k"}"#,
        r#"{"type":"query_param","api_key":"k","param_name":"key"}"#,
        r#"{"type":"signature","api_key":"k","api_secret":"s"}"#,
        r#"{"type":"signature","api_key":"k","api_secret":"s","signature_header":"X-Sig","message":["method","path_and_query","timestamp","body_sha256"],"separator":"\n"}"#,
        r#"{"type":"multi_header","headers":{"X-API-Key":"k","X-Tenant-ID":"t"}}"#,
        r#"{"type":"command","command":"my-helper","args":["--json"],"cache_seconds":60,"timeout":5}"#,
        r#"["tok", {"type":"signature","api_key":"k","api_secret":"s"}]"#,
    ];
    for f in forms {
        let text = format!(r#"{{"mcpServers":{{"s":{{"url":"https://h/mcp","auth":{f}}}}}}}"#);
        let cfg = Config::parse(&text, "t.json").unwrap();
        let (c, _) = cfg
            .resolve_with("s", &env())
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        let dbg = format!("{:?}", c);
        for secret in ["\"tok\"", "\"p\"", "\"k\"", "\"s\""] {
            assert!(!dbg.contains(secret), "{f}: {dbg}");
        }
    }
}

#[test]
fn auth_errors_name_the_key() {
    let cases = [
        (r#"{"type":"basic","username":"u"}"#, "missing `password`"),
        (
            r#"{"type":"basic","username":"a:b","password":"p"}"#,
            "may not contain ':'",
        ),
        (
            r#"{"type":"api_key","api_key":"k","header_name":"bad name"}"#,
            "not a valid header name",
        ),
        (
            r#"{"type":"signature","api_key":"k","api_secret":"s","message":["nope"]}"#,
            "unknown part",
        ),
        (r#"{"type":"multi_header"}"#, "missing `headers`"),
        (r#"{"type":"bearer","token":""}"#, "empty"),
        (r#"{"type":"command"}"#, "missing `command`"),
        (r#"[1]"#, "auth[0]"),
    ];
    for (f, want) in cases {
        let text = format!(r#"{{"mcpServers":{{"s":{{"url":"https://h/mcp","auth":{f}}}}}}}"#);
        let cfg = Config::parse(&text, "t.json").unwrap();
        let err = cfg.resolve_with("s", &env()).unwrap_err().to_string();
        assert!(err.contains(want), "{f}: {err}");
    }
}

#[test]
fn summaries_mask_secret_arguments_and_userinfo() {
    let cfg = Config::parse(
        r#"{"mcpServers":{
            "a":{"command":"srv","args":["--api-key","abc123","--token=xyz789","--port","3000","plain"]},
            "b":{"url":"https://user:pw@h.example/mcp?key=abc"}
        }}"#,
        "t.json",
    )
    .unwrap();
    let s = cfg.summaries();
    let a = &s.iter().find(|x| x.name == "a").unwrap().target;
    assert!(!a.contains("abc123") && !a.contains("xyz789"), "{a}");
    assert!(a.contains("--port 3000 plain"), "{a}");
    let b = &s.iter().find(|x| x.name == "b").unwrap().target;
    assert_eq!(b, "https://h.example/mcp?key=***");
}

#[test]
fn credential_variables_are_masked_even_in_a_url_path() {
    let env = MapEnv(HashMap::from([
        ("HOOK_TOKEN", "hk-9Q2x7Lm4Zp"),
        ("HOST", "127.0.0.1"),
    ]));
    let cfg = Config::parse(
        r#"{"mcpServers": {
            "hook": {"url": "http://${HOST}:1/hooks/${HOOK_TOKEN}/sse"},
            "lone": {"url": "http://127.0.0.1:1/mcp?${HOOK_TOKEN}"}
        }}"#,
        "t.json",
    )
    .unwrap();
    let (hook, _) = cfg.resolve_with("hook", &env).unwrap();
    let shown = format!("{hook:?}");
    assert!(!shown.contains("hk-9Q2x7Lm4Zp"), "{shown}");
    // Not a credential name: shown as is.
    assert!(
        shown.contains("http://127.0.0.1:1/hooks/***/sse"),
        "{shown}"
    );
    let (lone, _) = cfg.resolve_with("lone", &env).unwrap();
    let shown = format!("{lone:?}");
    assert!(shown.contains("http://127.0.0.1:1/mcp?***"), "{shown}");
}

#[test]
fn oauth_refresh_settings_are_read_and_checked() {
    let cfg = Config::parse(
        r#"{"mcpServers": {
            "ok": {"url": "https://h.example/mcp", "auth": {"type": "oauth", "refresh_attempts": 5, "refresh_backoff": 0.5, "refresh_timeout": 3}},
            "bad": {"url": "https://h.example/mcp", "auth": {"type": "oauth", "refresh_attempts": 0}}
        }}"#,
        "t.json",
    )
    .unwrap();
    let (ok, _) = cfg.resolve_with("ok", &env()).unwrap();
    let AuthSetting::OAuth(o) = &ok.auth else {
        panic!("not OAuth: {:?}", ok.auth)
    };
    assert_eq!(o.config.refresh_attempts, 5);
    assert_eq!(
        o.config.refresh_backoff,
        std::time::Duration::from_millis(500)
    );
    assert_eq!(o.config.refresh_timeout, std::time::Duration::from_secs(3));
    let err = cfg.resolve_with("bad", &env()).unwrap_err().to_string();
    assert!(err.contains("refresh_attempts"), "{err}");
}
