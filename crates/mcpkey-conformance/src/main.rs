//! The client the official MCP conformance suite drives
//! (`npx @modelcontextprotocol/conformance client --command
//! target/release/mcpkey-conformance ...`).
//!
//! Contract: the server URL is the last argument; the scenario name is in
//! `MCP_CONFORMANCE_SCENARIO`; scenario data, when there is any, is JSON in
//! `MCP_CONFORMANCE_CONTEXT`. Logs go to stderr; exit 0 means the client did
//! its part. Everything protocol-related is done by the mcpkey library; this
//! file only decides what to exercise for each scenario.

use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use mcpkey::auth::SecretString;
use mcpkey::auth::oauth::{
    AuthorizationUi, EnterpriseManaged, FollowRedirectUi, Grant, JwtAlgorithm, MemoryStore,
    OAuthConfig,
};
use mcpkey::config::OAuthSettings;
use mcpkey::model::Tool;
use mcpkey::{AcceptDefaults, Client, ServerConfig, Session};
use serde_json::{Map, Value, json};

/// The client id metadata document URL the suite expects (never fetched).
const CIMD_URL: &str = "https://conformance-test.local/client-metadata.json";
/// The redirect URI the suite's authorization servers redirect to (never
/// contacted: the redirect is read from the `Location` header).
const REDIRECT_URI: &str = "http://localhost:3000/callback";

/// The suite kills clients after 30 s; give up a little earlier.
const SELF_TIMEOUT: Duration = Duration::from_secs(25);

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("mcpkey=debug,info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();

    let Some(url) = std::env::args().skip(1).last() else {
        eprintln!("usage: mcpkey-conformance <server-url> (scenario in MCP_CONFORMANCE_SCENARIO)");
        return ExitCode::from(2);
    };
    let scenario =
        std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_else(|_| "initialize".into());
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    tracing::info!(%scenario, %url, "conformance run");

    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = rt.block_on(async {
        tokio::time::timeout(SELF_TIMEOUT, run(&scenario, &url, &context)).await
    });
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
        Err(_) => {
            eprintln!("error: gave up after {SELF_TIMEOUT:?}");
            ExitCode::from(1)
        }
    }
}

/// OAuth settings for a scenario, from its context.
fn oauth_settings(context: &Value) -> Result<OAuthSettings, String> {
    let text = |k: &str| context.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut config = OAuthConfig::default();
    config.client_name = "mcpkey-conformance".into();
    config.client_metadata_url = Some(CIMD_URL.into());
    config.client_id = text("client_id");
    config.client_secret = text("client_secret").map(SecretString::from);
    let name = text("name").unwrap_or_default();
    if name.starts_with("auth/client-credentials") {
        config.grant = Grant::ClientCredentials;
    }
    if let Some(pem) = text("private_key_pem") {
        let alg = text("signing_algorithm")
            .and_then(|a| JwtAlgorithm::parse(&a))
            .unwrap_or(JwtAlgorithm::Es256);
        config.private_key = Some((SecretString::from(pem), alg));
    }
    if let (Some(endpoint), Some(id_token)) = (text("idp_token_endpoint"), text("idp_id_token")) {
        let mut em = EnterpriseManaged::new(endpoint, SecretString::from(id_token));
        em.idp_client_id = text("idp_client_id");
        config.grant = Grant::EnterpriseManaged(em);
    }
    let mut settings = OAuthSettings::default();
    settings.config = config;
    Ok(settings)
}

async fn run(scenario: &str, url: &str, context: &Value) -> Result<(), String> {
    let mut server = ServerConfig::http(url);
    if scenario.starts_with("auth/") {
        server = server.oauth(oauth_settings(context)?);
    }
    let client = Client::builder()
        .client_info("mcpkey-conformance", env!("CARGO_PKG_VERSION"))
        .elicitation(AcceptDefaults)
        .token_store(Arc::new(MemoryStore::default()))
        .login_ui(Arc::new(|req: &mcpkey::client::oauth::LoginRequest<'_>| {
            // The suite's authorization servers approve at once: follow the
            // redirect without a browser.
            let http = mcpkey::transport::http::oauth_http::ReqwestOAuthHttp::new().ok()?;
            let _ = req;
            let ui: Arc<dyn AuthorizationUi> =
                Arc::new(FollowRedirectUi::new(Arc::new(http), REDIRECT_URI));
            Some(ui)
        }))
        .server("target", server)
        .build();
    let session = client.session("target").await.map_err(|e| e.to_string())?;
    let result = match scenario {
        "json-schema-2020-12-preservation" => echo_schema(&session).await,
        "http-custom-headers" => tool_calls_from_context(&session, context).await,
        _ => exercise(&session).await,
    };
    client.close().await;
    result
}

/// Lists and uses everything the server offers: every tool called with
/// arguments built from its schema, every resource read, every prompt got.
async fn exercise(session: &Session) -> Result<(), String> {
    let tools = session.list_tools().await.map_err(|e| e.to_string())?;
    for t in &tools {
        let args = synthesize_args(t);
        match session.call_tool(&t.name, args).await {
            Ok(r) => tracing::info!(tool = %t.name, is_error = ?r.is_error, "called"),
            Err(e) => tracing::warn!(tool = %t.name, error = %e, "call failed"),
        }
    }
    match session.list_resources().await {
        Ok(resources) => {
            for r in resources {
                if let Err(e) = session.read_resource(&r.uri).await {
                    tracing::warn!(uri = %r.uri, error = %e, "read failed");
                }
            }
        }
        Err(e) => tracing::info!(error = %e, "no resources"),
    }
    match session.list_prompts().await {
        Ok(prompts) => {
            for p in prompts {
                let args = p.arguments.as_ref().map(|a| {
                    a.iter()
                        .filter(|x| x.required == Some(true))
                        .map(|x| (x.name.clone(), json!("test")))
                        .collect::<Map<String, Value>>()
                });
                if let Err(e) = session.get_prompt(&p.name, args).await {
                    tracing::warn!(prompt = %p.name, error = %e, "get failed");
                }
            }
        }
        Err(e) => tracing::info!(error = %e, "no prompts"),
    }
    Ok(())
}

/// Arguments for the required properties of a tool's input schema.
fn synthesize_args(tool: &Tool) -> Option<Map<String, Value>> {
    let schema = &tool.input_schema;
    let props = schema.get("properties").and_then(Value::as_object);
    let required = schema.get("required").and_then(Value::as_array)?;
    let mut out = Map::new();
    for name in required.iter().filter_map(Value::as_str) {
        let ty = props
            .and_then(|p| p.get(name))
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("string");
        let v = match ty {
            "number" | "integer" => json!(1),
            "boolean" => json!(true),
            "object" => json!({}),
            "array" => json!([]),
            _ => json!("test"),
        };
        out.insert(name.to_owned(), v);
    }
    Some(out)
}

/// `json-schema-2020-12-preservation`: echo a tool's input schema back
/// exactly as received.
async fn echo_schema(session: &Session) -> Result<(), String> {
    let tools = session.list_tools().await.map_err(|e| e.to_string())?;
    let schema = tools
        .iter()
        .find(|t| t.name == "json_schema_2020_12_tool")
        .map(|t| Value::Object((*t.input_schema).clone()))
        .ok_or("json_schema_2020_12_tool is not listed")?;
    let mut args = Map::new();
    args.insert("schema".into(), schema);
    session
        .call_tool("json_schema_echo", Some(args))
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// `http-custom-headers`: call the tools the context lists, with exactly
/// those arguments.
async fn tool_calls_from_context(session: &Session, context: &Value) -> Result<(), String> {
    session.list_tools().await.map_err(|e| e.to_string())?;
    let calls = context
        .get("toolCalls")
        .or_else(|| context.get("tool_calls"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in calls {
        let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
        let args = c.get("arguments").and_then(Value::as_object).cloned();
        if let Err(e) = session.call_tool(name, args).await {
            tracing::warn!(tool = %name, error = %e, "call failed");
        }
    }
    Ok(())
}
