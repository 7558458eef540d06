//! Streamable HTTP: the floor, mcpkey and rmcp making the same calls, and
//! mcpkey behind each auth scheme.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use mcpkey::auth::oauth::{
    MemoryStore, StoreLock, TokenRecord, TokenSet, TokenStore, canonical_resource,
};
use mcpkey::auth::{AuthError, Bearer, Digest, SecretString, Signature, SignedPart};
use mcpkey::{Client, ProtocolPin, ServerConfig};
use mcpkey_bench::drive::{McpkeyWorker, Worker, drive};
use mcpkey_bench::raw::{RawHttp, TOOL};
use mcpkey_bench::stats::Stats;
use mcpkey_bench::*;

/// TCP connections the server accepted so far (this request's included).
pub async fn conns(port: u16) -> u64 {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (mut tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = http::Request::get(CONNS_PATH)
        .header("host", "127.0.0.1")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let resp = tx.send_request(req).await.expect("GET /_conns");
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8_lossy(&body)
        .trim()
        .parse()
        .expect("a count")
}

pub async fn floor(port: u16, version: &'static str, calls: usize, conc: usize) -> Stats {
    let mut workers = Vec::with_capacity(conc);
    for _ in 0..conc {
        let mut r = RawHttp::connect(port, version).await;
        r.setup().await;
        workers.push(r);
    }
    drive(workers, 50, calls / conc).await
}

/// mcpkey against one configured server; also returns the TCP connections
/// the server accepted for it.
pub async fn mcpkey_calls(port: u16, client: Client, calls: usize, conc: usize) -> (Stats, u64) {
    let before = conns(port).await;
    let s = client.session("fast").await.expect("mcpkey connect");
    s.list_tools().await.expect("tools/list");
    let workers = (0..conc).map(|_| McpkeyWorker::new(&s)).collect();
    let stats = drive(workers, 50, calls / conc).await;
    drop(s);
    client.close().await;
    let after = conns(port).await;
    (stats, after - before - 1)
}

pub fn url(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}{path}")
}

pub fn plain(port: u16, pin: ProtocolPin) -> Client {
    Client::builder()
        .server(
            "fast",
            ServerConfig::http(url(port, OPEN_PATH)).protocol(pin),
        )
        .build()
}

struct RmcpWorker(Arc<rmcp::service::RunningService<rmcp::RoleClient, ()>>);

impl Worker for RmcpWorker {
    async fn call(&mut self) {
        use rmcp::model::CallToolRequestParams;
        let p = CallToolRequestParams::new(TOOL).with_arguments(
            serde_json::json!({"message": "hi"})
                .as_object()
                .cloned()
                .expect("object"),
        );
        let r = self.0.call_tool(p).await.expect("rmcp call");
        assert_eq!(
            r.content
                .first()
                .and_then(|c| c.as_text())
                .map(|t| t.text.as_str()),
            Some("hi")
        );
    }
}

/// rmcp's client given a pooled reqwest client (its best case).
pub async fn rmcp(port: u16, calls: usize, conc: usize) -> Stats {
    use rmcp::ServiceExt;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let http = reqwest::Client::builder().build().expect("reqwest");
    let transport = StreamableHttpClientTransport::with_client(
        http,
        StreamableHttpClientTransportConfig::with_uri(url(port, OPEN_PATH)),
    );
    let client = Arc::new(().serve(transport).await.expect("rmcp connect"));
    let workers = (0..conc).map(|_| RmcpWorker(Arc::clone(&client))).collect();
    drive(workers, 50, calls / conc).await
}

/// A token store that counts every call: a cached token must cost none.
#[derive(Debug)]
pub struct CountingStore {
    inner: MemoryStore,
    pub calls: AtomicUsize,
}

#[async_trait::async_trait]
impl TokenStore for CountingStore {
    async fn tokens(&self, resource: &str) -> Result<Vec<TokenRecord>, AuthError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.tokens(resource).await
    }
    async fn put_tokens(&self, resource: &str, record: TokenRecord) -> Result<(), AuthError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.put_tokens(resource, record).await
    }
    async fn remove_tokens(&self, resource: &str) -> Result<(), AuthError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.remove_tokens(resource).await
    }
    async fn list(&self) -> Result<Vec<(String, Vec<TokenRecord>)>, AuthError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.list().await
    }
    async fn registration(
        &self,
        issuer: &str,
    ) -> Result<Option<mcpkey::auth::oauth::Registration>, AuthError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.registration(issuer).await
    }
    async fn put_registration(
        &self,
        r: mcpkey::auth::oauth::Registration,
    ) -> Result<(), AuthError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.put_registration(r).await
    }
    async fn remove_registration(&self, issuer: &str) -> Result<(), AuthError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.remove_registration(issuer).await
    }
    async fn lock(&self, resource: &str) -> Result<StoreLock, AuthError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.lock(resource).await
    }
}

/// The auth schemes measured on the hot path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `"auth": false`: nothing runs.
    Off,
    /// No auth configured: OAuth is armed but has no token (the default).
    Default,
    Bearer,
    Signature,
    Digest,
    OAuthCached,
}

impl Scheme {
    pub const ALL: [Scheme; 6] = [
        Scheme::Off,
        Scheme::Default,
        Scheme::Bearer,
        Scheme::Signature,
        Scheme::Digest,
        Scheme::OAuthCached,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Scheme::Off => "none (`auth: false`)",
            Scheme::Default => "none configured (OAuth armed, no token)",
            Scheme::Bearer => "Bearer",
            Scheme::Signature => "HMAC-SHA256 signature incl. body hash",
            Scheme::Digest => "Digest SHA-256 (after the first challenge)",
            Scheme::OAuthCached => "OAuth, cached token",
        }
    }
}

/// A client for `scheme`; with OAuth, also the store whose calls are counted.
pub async fn auth_client(port: u16, scheme: Scheme) -> (Client, Option<Arc<CountingStore>>) {
    let pin = ProtocolPin::Auto;
    let secret = |s: &str| SecretString::from(s.to_owned());
    let cfg = match scheme {
        Scheme::Off => ServerConfig::http(url(port, OPEN_PATH)).no_auth(),
        Scheme::Default => ServerConfig::http(url(port, OPEN_PATH)),
        Scheme::Bearer => {
            ServerConfig::http(url(port, BEARER_PATH)).auth(Bearer::new(secret(BEARER_TOKEN)))
        }
        Scheme::Signature => ServerConfig::http(url(port, SIGNATURE_PATH)).auth(
            Signature::new(secret(SIG_KEY), secret(SIG_SECRET))
                .expect("signature")
                .message(
                    vec![
                        SignedPart::Method,
                        SignedPart::Path,
                        SignedPart::Timestamp,
                        SignedPart::BodySha256,
                    ],
                    "",
                ),
        ),
        Scheme::Digest => ServerConfig::http(url(port, DIGEST_PATH))
            .auth(Digest::new(DIGEST_USER, secret(DIGEST_PASSWORD))),
        Scheme::OAuthCached => {
            let u = url(port, OAUTH_PATH);
            let store = Arc::new(CountingStore {
                inner: MemoryStore::default(),
                calls: AtomicUsize::new(0),
            });
            let key = canonical_resource(&url::Url::parse(&u).expect("url"));
            let mut tokens = TokenSet::bearer(secret(OAUTH_TOKEN));
            tokens.expires_at = Some(mcpkey::auth::oauth::now_unix() + 3600);
            store
                .inner
                .put_tokens(
                    &key,
                    TokenRecord::new(url(port, ""), "bench-client", tokens),
                )
                .await
                .expect("store");
            let client = Client::builder()
                .token_store(Arc::clone(&store) as Arc<dyn TokenStore>)
                .server("fast", ServerConfig::http(u).protocol(pin))
                .build();
            return (client, Some(store));
        }
    };
    (
        Client::builder().server("fast", cfg.protocol(pin)).build(),
        None,
    )
}
