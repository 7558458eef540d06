use std::collections::HashMap;

use mcpkey::config::Env;
use mcpkey::{Client, Config, ServerConfig};

use crate::support::*;

#[tokio::test]
async fn one_failing_server_out_of_three_leaves_two_connected() {
    let peer = py_server();
    let client = Client::builder()
        .server("ev", everything_stdio())
        .server("py", ServerConfig::http(peer.url("/mcp")))
        .server("broken", ServerConfig::stdio("/nonexistent/mcp-server"))
        .build();
    let report = client.connect_all().await;
    let mut connected = report.connected.clone();
    connected.sort();
    assert_eq!(connected, ["ev", "py"]);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].server(), "broken");
    assert!(
        report.failed[0]
            .to_string()
            .contains("/nonexistent/mcp-server")
    );
    // The healthy ones work.
    let s = client.session("py").await.unwrap();
    s.call_tool("echo", args(serde_json::json!({"message": "ok"})))
        .await
        .unwrap();
    client.close().await;
}

#[tokio::test]
async fn missing_variable_fails_only_its_server_and_names_it() {
    let text = format!(
        r#"{{"mcpServers": {{
            "needs-var": {{"url": "http://127.0.0.1:1/mcp", "headers": {{"Authorization": "Bearer ${{MCPKEY_TEST_SURELY_UNSET}}"}}}},
            "fine": {{"command": "node", "args": ["{}", "stdio"]}}
        }}}}"#,
        everything_js().display()
    );
    let cfg = Config::parse(&text, "test.json").unwrap();
    let client = Client::from_config(cfg);
    let report = client.connect_all().await;
    assert_eq!(report.connected, ["fine"]);
    let err = &report.failed[0];
    let msg = err.to_string();
    assert!(
        msg.contains("MCPKEY_TEST_SURELY_UNSET") && msg.contains("needs-var"),
        "{msg}"
    );
    assert_eq!(err.exit_code(), 1);
    client.close().await;
}

#[test]
fn interpolation_uses_the_process_environment_by_default() {
    struct Fixed(HashMap<&'static str, &'static str>);
    impl Env for Fixed {
        fn var(&self, n: &str) -> Option<String> {
            self.0.get(n).map(|s| s.to_string())
        }
        fn read_file(&self, _: &str) -> std::io::Result<String> {
            Ok("file-secret\n".into())
        }
    }
    let cfg = Config::parse(
        r#"{"mcpServers":{"s":{"url":"http://127.0.0.1:9/${P:-mcp}","headers":{"X-Key":"${file:/k}"}}}}"#,
        "t.json",
    )
    .unwrap();
    let (c, _) = cfg.resolve_with("s", &Fixed(HashMap::new())).unwrap();
    assert!(format!("{c:?}").contains("127.0.0.1:9/mcp"));
    assert!(!format!("{c:?}").contains("file-secret"));
}
