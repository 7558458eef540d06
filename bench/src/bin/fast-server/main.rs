//! A fast MCP server for benchmarks, on 127.0.0.1 with TCP_NODELAY on every
//! accepted socket (without it a client that reads each response to its end
//! stalls ~40 ms per call on Nagle + delayed ACK).
//!
//! * Streamable HTTP (rmcp's server, one `echo` tool, JSON responses): the
//!   2026-07-28 era statelessly, legacy clients with sessions. Served on
//!   `/mcp` without auth and behind each auth scheme on its own path (see
//!   `mcpkey_bench`): Bearer, cached OAuth token (a Bearer check), HMAC
//!   signature over the body, Digest SHA-256.
//! * Legacy HTTP+SSE on `/sse` + `/messages` (see `sse.rs`).
//! * `GET /_conns`: TCP connections accepted so far.
//! * `fast-server --stdio`: the same tool over stdio.
//!
//!     fast-server PORT | fast-server --stdio [--startup-ms N]

mod auth;
mod sse;
mod tool;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use mcpkey_bench::*;
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tower_service::Service;

use sse::{Body, Sessions, full};
use tool::Fast;

type Mcp = StreamableHttpService<Fast, LocalSessionManager>;

struct App {
    mcp: Mcp,
    sse: Sessions,
    conns: AtomicU64,
}

fn unauthorized(challenge: &str) -> Response<Body> {
    let mut r = full(StatusCode::UNAUTHORIZED, "text/plain", "unauthorized");
    r.headers_mut().insert(
        "www-authenticate",
        challenge
            .parse()
            .expect("challenge is a valid header value"),
    );
    r
}

async fn route(app: Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().as_str().to_owned();
    match path.as_str() {
        CONNS_PATH => {
            let n = app.conns.load(Ordering::Relaxed);
            return Ok(full(StatusCode::OK, "text/plain", n.to_string()));
        }
        SSE_PATH if method == "GET" => return Ok(app.sse.open()),
        "/messages" if method == "POST" => {
            let query = req.uri().query().unwrap_or("").to_owned();
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return Ok(app.sse.post(&query, &body).await);
        }
        _ => {}
    }
    let ok = match path.as_str() {
        OPEN_PATH => true,
        BEARER_PATH => auth::bearer(req.headers(), BEARER_TOKEN),
        OAUTH_PATH => auth::bearer(req.headers(), OAUTH_TOKEN),
        SIGNATURE_PATH | DIGEST_PATH => true, // checked below, with the body
        _ => return Ok(full(StatusCode::NOT_FOUND, "text/plain", "not found")),
    };
    if !ok {
        return Ok(unauthorized("Bearer realm=\"fast-server\""));
    }
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return Ok(full(StatusCode::BAD_REQUEST, "text/plain", "body"));
    };
    if path == SIGNATURE_PATH && !auth::signature(&parts.headers, &method, &path, &body) {
        return Ok(unauthorized("Signature realm=\"fast-server\""));
    }
    if path == DIGEST_PATH {
        let pq = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        match auth::digest(&parts.headers, &method, pq) {
            auth::DigestCheck::Ok => {}
            auth::DigestCheck::Stale => return Ok(unauthorized(&auth::digest_challenge(true))),
            auth::DigestCheck::Refused => return Ok(unauthorized(&auth::digest_challenge(false))),
        }
    }
    let req = Request::from_parts(parts, Full::new(body));
    let mut mcp = app.mcp.clone();
    mcp.call(req).await
}

fn main() -> std::io::Result<()> {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "8931".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    if arg == "--stdio" {
        // `--startup-ms N`: wait N ms before answering, like a server that
        // loads something first (I/O, not CPU).
        let startup_ms: u64 = match (std::env::args().nth(2).as_deref(), std::env::args().nth(3)) {
            (Some("--startup-ms"), Some(ms)) => ms.parse().map_err(std::io::Error::other)?,
            _ => 0,
        };
        return rt.block_on(async {
            tokio::time::sleep(std::time::Duration::from_millis(startup_ms)).await;
            let running = Fast::new()
                .serve(rmcp::transport::stdio())
                .await
                .map_err(std::io::Error::other)?;
            let _ = running.waiting().await;
            Ok(())
        });
    }
    let port: u16 = arg
        .parse()
        .map_err(|_| std::io::Error::other("usage: fast-server PORT | fast-server --stdio"))?;
    rt.block_on(serve(port))
}

async fn serve(port: u16) -> std::io::Result<()> {
    let mut config = StreamableHttpServerConfig::default();
    config.json_response = true;
    config.legacy_session_mode = true;
    config.sse_keep_alive = None;
    let app = Arc::new(App {
        mcp: StreamableHttpService::new(
            || Ok(Fast::new()),
            LocalSessionManager::default().into(),
            config,
        ),
        sse: Sessions::default(),
        conns: AtomicU64::new(0),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("fast-server listening on 127.0.0.1:{port}");
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        app.conns.fetch_add(1, Ordering::Relaxed);
        let io = TokioIo::new(stream);
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let svc = service_fn(move |req| route(Arc::clone(&app), req));
            let _ = Builder::new(TokioExecutor::new())
                .serve_connection(io, svc)
                .await;
        });
    }
}
