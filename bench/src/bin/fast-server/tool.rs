//! The one tool: `echo`.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct EchoArgs {
    message: String,
}

#[derive(Clone)]
#[allow(dead_code)] // read by the #[tool_handler] macro
pub struct Fast {
    tool_router: ToolRouter<Fast>,
}

#[tool_router]
impl Fast {
    pub fn new() -> Self {
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
