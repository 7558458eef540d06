//! Servers built in code instead of a config file: a stdio server and an
//! HTTP server with a static header and a bearer token, plus callbacks for
//! elicitation and notifications.
//!
//! ```sh
//! cargo run -p mcpkey --example in_code
//! ```

use mcpkey::{AcceptDefaults, Client, Notification, ServerConfig};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder()
        .server(
            "everything",
            ServerConfig::stdio("npx").args(["-y", "@modelcontextprotocol/server-everything"]),
        )
        .server(
            "remote",
            ServerConfig::http("https://mcp.example.com/mcp")
                .header("X-Tenant-Id", "acme")
                .bearer(std::env::var("REMOTE_TOKEN").unwrap_or_default()),
        )
        .elicitation(AcceptDefaults)
        .on_notification(|server: &str, n: &Notification| eprintln!("[{server}] {n:?}"))
        .build();

    let session = client.session("everything").await?;
    let args = json!({"message": "hello from Rust"});
    let result = session.call_tool("echo", args.as_object().cloned()).await?;
    println!("{:?}", result.content);
    client.close().await;
    Ok(())
}
