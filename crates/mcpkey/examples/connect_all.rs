//! Connects every server of a config file concurrently and lists their
//! tools; one broken server does not stop the others.
//!
//! ```sh
//! cargo run -p mcpkey --example connect_all -- examples/mcp.json
//! ```

use mcpkey::{Client, Config};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "mcp.json".into());
    let client = Client::from_config(Config::from_file(&path)?);

    let report = client.connect_all().await;
    for err in &report.failed {
        eprintln!("{err}");
        if let Some(hint) = err.hint() {
            eprintln!("  hint: {hint}");
        }
    }
    for name in &report.connected {
        let session = client.session(name).await?;
        let d = session.details();
        println!(
            "{name}: {} over {} ({:?})",
            d.protocol_version, d.transport, d.era
        );
        for tool in session.list_tools().await? {
            println!("  {}", tool.name);
        }
    }
    client.close().await;
    Ok(())
}
