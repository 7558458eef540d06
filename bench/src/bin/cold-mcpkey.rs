//! mcpkey's library from a cold start: a new process connects (era
//! detection included), lists tools, makes one call and exits.
//!
//!     cold-mcpkey URL

use mcpkey::{Client, ServerConfig};

fn main() {
    let url = std::env::args().nth(1).expect("cold-mcpkey URL");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = Client::builder()
            .server("fast", ServerConfig::http(url))
            .build();
        let s = client.session("fast").await.expect("connect");
        let tools = s.list_tools().await.expect("tools/list");
        assert!(tools.iter().any(|t| t.name == "echo"));
        let r = s
            .call_tool(
                "echo",
                serde_json::json!({"message": "hi"}).as_object().cloned(),
            )
            .await
            .expect("call");
        assert_eq!(mcpkey_bench::first_text(&r), Some("hi"));
        client.close().await;
    });
}
