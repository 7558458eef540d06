//! A fast MCP server for benchmarks: rmcp's Streamable HTTP server with one
//! `echo` tool, on 127.0.0.1, TCP_NODELAY on every accepted socket (without
//! it a client that reads each response to its end stalls ~40 ms per call on
//! Nagle + delayed ACK). Serves 2026-07-28 requests statelessly and legacy
//! clients with sessions.
//!
//!     fast-server PORT

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    message: String,
}

#[derive(Clone)]
#[allow(dead_code)] // read by the #[tool_handler] macro
struct Fast {
    tool_router: ToolRouter<Fast>,
}

#[tool_router]
impl Fast {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Echo the message back")]
    async fn echo(&self, Parameters(a): Parameters<EchoArgs>) -> Result<CallToolResult, ErrorData> {
        Ok(CallToolResult::success(vec![ContentBlock::text(a.message)]))
    }
}

#[tool_handler]
impl ServerHandler for Fast {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(8931);
    let mut config = StreamableHttpServerConfig::default();
    config.json_response = true;
    config.legacy_session_mode = true;
    config.sse_keep_alive = None;
    let service = TowerToHyperService::new(StreamableHttpService::new(
        || Ok(Fast::new()),
        LocalSessionManager::default().into(),
        config,
    ));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("fast-server listening on 127.0.0.1:{port}");
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let io = TokioIo::new(stream);
        let service = service.clone();
        tokio::spawn(async move {
            let _ = Builder::new(TokioExecutor::new()).serve_connection(io, service).await;
        });
    }
}
