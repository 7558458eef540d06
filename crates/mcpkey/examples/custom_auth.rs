//! The four custom `httpx.Auth` classes of mcp-use's "custom authentication"
//! page, each written as a user's own mcpkey `Auth` in a few lines, then used
//! on servers built in code. (mcpkey also ships all four built in:
//! `ApiKey`, `QueryParam`, `Signature`, `MultiHeader`.)
//!
//! ```sh
//! cargo run -p mcpkey --example custom_auth
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use http::header::HeaderName;
use mcpkey::auth::{Auth, AuthError, AuthRequest, ExposeSecret, SecretString};
use mcpkey::{Client, ServerConfig};
use sha2::Sha256;

/// `ApiKeyAuth`: a key in a header.
#[derive(Debug)]
struct ApiKeyAuth {
    api_key: SecretString,
    header_name: HeaderName,
}

#[async_trait]
impl Auth for ApiKeyAuth {
    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        req.set_secret_header(self.header_name.clone(), &self.api_key)
    }
}

/// `QueryParamAuth`: a key in the query string.
#[derive(Debug)]
struct QueryParamAuth {
    api_key: SecretString,
    param_name: String,
}

#[async_trait]
impl Auth for QueryParamAuth {
    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        req.set_query_param(&self.param_name, self.api_key.expose_secret());
        Ok(())
    }
}

/// `SignatureAuth`: HMAC-SHA256 over METHOD + PATH + TIMESTAMP, recomputed
/// for every request mcpkey sends (retries and reconnects included).
#[derive(Debug)]
struct SignatureAuth {
    api_key: SecretString,
    api_secret: SecretString,
}

#[async_trait]
impl Auth for SignatureAuth {
    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .to_string();
        let message = format!("{}{}{}", req.method, req.path(), timestamp);
        let mut mac = Hmac::<Sha256>::new_from_slice(self.api_secret.expose_secret().as_bytes())
            .map_err(|_| AuthError::prepare("signature", "bad key"))?;
        mac.update(message.as_bytes());
        let signature = SecretString::from(hex::encode(mac.finalize().into_bytes()));
        req.set_secret_header(HeaderName::from_static("x-api-key"), &self.api_key)?;
        req.set_secret_header(
            HeaderName::from_static("x-timestamp"),
            &SecretString::from(timestamp),
        )?;
        req.set_secret_header(HeaderName::from_static("x-signature"), &signature)
    }
}

/// `MultiHeaderAuth`: several headers at once.
#[derive(Debug)]
struct MultiHeaderAuth {
    headers: Vec<(HeaderName, SecretString)>,
}

#[async_trait]
impl Auth for MultiHeaderAuth {
    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        for (name, value) in &self.headers {
            req.set_secret_header(name.clone(), value)?;
        }
        Ok(())
    }
}

fn secret(var: &str) -> SecretString {
    SecretString::from(std::env::var(var).unwrap_or_default())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder()
        .server(
            "api",
            ServerConfig::http("https://api.example.com/mcp/sse").auth(ApiKeyAuth {
                api_key: secret("API_KEY"),
                header_name: HeaderName::from_static("x-api-key"),
            }),
        )
        .server(
            "query",
            ServerConfig::http("https://api.example.com/mcp/sse").auth(QueryParamAuth {
                api_key: secret("API_KEY"),
                param_name: "api_key".into(),
            }),
        )
        .server(
            "signed",
            ServerConfig::http("https://api.example.com/mcp/sse").auth(SignatureAuth {
                api_key: secret("API_KEY"),
                api_secret: secret("API_SECRET"),
            }),
        )
        .server(
            "multi",
            ServerConfig::http("https://api.example.com/mcp/sse")
                .header("X-Request-Source", "mcpkey")
                .auth(MultiHeaderAuth {
                    headers: vec![
                        (HeaderName::from_static("x-api-key"), secret("API_KEY")),
                        (
                            HeaderName::from_static("x-tenant-id"),
                            SecretString::from("tenant-123"),
                        ),
                    ],
                }),
        )
        .build();
    let report = client.connect_all().await;
    for e in &report.failed {
        eprintln!("{e}");
    }
    client.close().await;
    Ok(())
}
