//! OAuth behaviour the conformance suite does not cover, against a real
//! authorization server with rotating refresh tokens
//! (tests/peers/oauth_server.py).

use std::sync::Arc;
use std::time::Duration;

use mcpkey::auth::oauth::{
    AuthorizationUi, FileStore, FollowRedirectUi, TokenStore, canonical_resource,
};
use mcpkey::client::oauth::LoginRequest;
use mcpkey::transport::http::oauth_http::ReqwestOAuthHttp;
use mcpkey::{Client, ServerConfig};
use serde_json::json;

use crate::support::*;

/// A client that logs in without a browser (the test server approves at
/// once), keeping tokens in `store`.
fn client(url: &str, store: Arc<dyn TokenStore>, login: bool) -> Client {
    let mut b = Client::builder()
        .token_store(store)
        .server("s", ServerConfig::http(url));
    if login {
        b = b.login_ui(Arc::new(|_: &LoginRequest<'_>| {
            let http = ReqwestOAuthHttp::new().ok()?;
            let ui: Arc<dyn AuthorizationUi> = Arc::new(FollowRedirectUi::new(
                Arc::new(http),
                "http://127.0.0.1:9/callback",
            ));
            Some(ui)
        }));
    }
    b.build()
}

async fn echo(c: &Client, m: &str) {
    let s = c.session("s").await.unwrap();
    let r = s
        .call_tool("echo", args(json!({"message": m})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), m);
}

#[tokio::test]
async fn mid_session_401_refreshes_replays_and_the_rotated_token_is_kept() {
    let peer = oauth_server(&[]);
    let dir = tempdir::Dir::new();
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(dir.path()));
    let c = client(&peer.url("/mcp"), Arc::clone(&store), true);
    echo(&c, "first").await;
    let st = peer.stats().await;
    assert_eq!(
        (st["authorizations"].as_u64(), st["token_code"].as_u64()),
        (Some(1), Some(1)),
        "{st}"
    );
    let key = canonical_resource(&url::Url::parse(&peer.url("/mcp")).unwrap());
    let before = store.tokens(&key).await.unwrap()[0].tokens.clone();

    // The server forgets every access token: the next call gets 401, refreshes
    // and is replayed, without a new login.
    peer.revoke().await;
    echo(&c, "after revoke").await;
    let st = peer.stats().await;
    assert_eq!(st["token_refresh"], 1, "{st}");
    assert_eq!(st["authorizations"], 1, "{st}");
    assert_eq!(st["refresh_reuse"], 0, "{st}");

    // The rotated refresh token is what the store now holds.
    let after = store.tokens(&key).await.unwrap()[0].tokens.clone();
    assert!(!after.same_access_token(&before));
    use mcpkey::auth::ExposeSecret;
    let (old_rt, new_rt) = (before.refresh_token.unwrap(), after.refresh_token.unwrap());
    assert_ne!(
        old_rt.expose_secret(),
        new_rt.expose_secret(),
        "rotated refresh token persisted"
    );
    c.close().await;

    // A later client (a new run) uses the stored tokens: no login UI needed.
    let c2 = client(
        &peer.url("/mcp"),
        Arc::new(FileStore::new(dir.path())),
        false,
    );
    echo(&c2, "next run").await;
    assert_eq!(peer.stats().await["authorizations"], 1);
    c2.close().await;
}

#[tokio::test]
async fn twenty_tasks_needing_a_refresh_cause_exactly_one() {
    let peer = oauth_server(&["--expires-in", "2"]);
    let dir = tempdir::Dir::new();
    let c = client(
        &peer.url("/mcp"),
        Arc::new(FileStore::new(dir.path())),
        true,
    );
    echo(&c, "login").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let s = c.session("s").await.unwrap();
    let calls = (0..20).map(|i| {
        let s = s.clone();
        async move {
            let r = s
                .call_tool("echo", args(json!({"message": format!("t{i}")})))
                .await
                .unwrap();
            assert_eq!(text_of(&r), format!("t{i}"));
        }
    });
    futures_util::future::join_all(calls).await;
    let st = peer.stats().await;
    assert_eq!(st["token_refresh"], 1, "{st}");
    assert_eq!(st["refresh_reuse"], 0, "{st}");
    assert_eq!(st["authorizations"], 1, "{st}");
    c.close().await;
}

#[tokio::test]
async fn a_server_that_needs_login_without_a_login_ui_says_what_to_run() {
    let peer = oauth_server(&[]);
    let dir = tempdir::Dir::new();
    let c = client(
        &peer.url("/mcp"),
        Arc::new(FileStore::new(dir.path())),
        false,
    );
    let err = c.session("s").await.unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    assert!(err.to_string().contains("mcpkey login s"), "{err}");
}

#[tokio::test]
async fn step_up_on_insufficient_scope_asks_for_the_union() {
    let peer = oauth_server(&["--require-scope", "mcp:write"]);
    let dir = tempdir::Dir::new();
    let c = client(
        &peer.url("/mcp"),
        Arc::new(FileStore::new(dir.path())),
        true,
    );
    echo(&c, "scoped").await;
    let authorizations: Vec<serde_json::Value> = peer
        .requests()
        .into_iter()
        .filter(|r| r["event"] == "authorize" && r["ok"] == true)
        .collect();
    assert!(!authorizations.is_empty());
    let last = authorizations.last().unwrap().to_string();
    assert!(last.contains("mcp:write"), "{authorizations:#?}");
    c.close().await;
}

/// A login UI that makes the person take `delay` before the browser returns.
#[derive(Debug)]
struct SlowPerson {
    inner: FollowRedirectUi,
    delay: Duration,
}

#[async_trait::async_trait]
impl AuthorizationUi for SlowPerson {
    fn redirect_uri(&self) -> String {
        self.inner.redirect_uri()
    }

    async fn authorize(
        &self,
        prompt: mcpkey::auth::oauth::AuthorizationPrompt<'_>,
    ) -> Result<url::Url, mcpkey::auth::AuthError> {
        tokio::time::sleep(self.delay).await;
        self.inner.authorize(prompt).await
    }
}

#[tokio::test]
async fn connect_and_request_timeouts_do_not_count_the_login() {
    let peer = oauth_server(&[]);
    let dir = tempdir::Dir::new();
    let cfg = ServerConfig::http(peer.url("/mcp"))
        .connect_timeout(Duration::from_secs(1))
        .request_timeout(Duration::from_secs(1));
    let c = Client::builder()
        .token_store(Arc::new(FileStore::new(dir.path())))
        .server("s", cfg)
        .login_ui(Arc::new(|_: &LoginRequest<'_>| {
            let http = ReqwestOAuthHttp::new().ok()?;
            let ui: Arc<dyn AuthorizationUi> = Arc::new(SlowPerson {
                inner: FollowRedirectUi::new(Arc::new(http), "http://127.0.0.1:9/callback"),
                delay: Duration::from_millis(2500),
            });
            Some(ui)
        }))
        .build();
    let started = std::time::Instant::now();
    echo(&c, "patient").await;
    assert!(started.elapsed() >= Duration::from_millis(2500));

    // Mid-session: every token revoked and the refresh token too, so the
    // call needs a new login, longer than the request timeout.
    peer.revoke_grants().await;
    let started = std::time::Instant::now();
    echo(&c, "again").await;
    assert!(started.elapsed() >= Duration::from_millis(2500));
    let st = peer.stats().await;
    assert_eq!(st["authorizations"], 2, "{st}");
    c.close().await;
}
