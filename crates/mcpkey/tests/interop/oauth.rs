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

// ------------------------------------------------------------ token endpoint faults

/// Makes the oauth server's token endpoint fail (`mode=500|timeout|malformed|
/// invalid_grant|off`, optionally `&count=N`).
async fn fail_token(peer: &Peer, query: &str) {
    let out = tokio::process::Command::new("curl")
        .args([
            "-s",
            "-f",
            "-X",
            "POST",
            &peer.url(&format!("/_fail_token?{query}")),
        ])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{query}");
}

/// A logged-in client whose refreshes give up on a token endpoint after
/// 300 ms per attempt (the default backoff: 200 ms, then 400 ms).
fn patient_client(url: &str, store: Arc<dyn TokenStore>) -> Client {
    let mut settings = mcpkey::config::OAuthSettings::default();
    settings.config.refresh_timeout = Duration::from_millis(300);
    Client::builder()
        .token_store(store)
        .server("s", ServerConfig::http(url).oauth(settings))
        .login_ui(Arc::new(|_: &LoginRequest<'_>| {
            let http = ReqwestOAuthHttp::new().ok()?;
            let ui: Arc<dyn AuthorizationUi> = Arc::new(FollowRedirectUi::new(
                Arc::new(http),
                "http://127.0.0.1:9/callback",
            ));
            Some(ui)
        }))
        .build()
}

/// Refresh requests that reached the token endpoint: (failed by the
/// injected fault, answered).
fn refresh_attempts(peer: &Peer) -> (usize, usize) {
    let reqs = peer.requests();
    let count = |event: &str| {
        reqs.iter()
            .filter(|r| r["event"] == event && r["grant_type"] == "refresh_token")
            .count()
    };
    (count("token_fault"), count("token"))
}

async fn stored_refresh_token(store: &Arc<dyn TokenStore>, peer: &Peer) -> String {
    use mcpkey::auth::ExposeSecret;
    let key = canonical_resource(&url::Url::parse(&peer.url("/mcp")).unwrap());
    let records = store.tokens(&key).await.unwrap();
    assert_eq!(records.len(), 1);
    let rt = records[0].tokens.refresh_token.as_ref().unwrap();
    rt.expose_secret().to_owned()
}

/// The token endpoint fails in `mode` while five calls' 401s need a
/// refresh: one refresh, three attempts with backoff, then a clear error
/// for each call; the stored refresh token is untouched, and once the
/// endpoint is back the next call refreshes with it.
async fn refresh_survives(mode: &str) {
    let peer = oauth_server(&[]);
    let dir = tempdir::Dir::new();
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(dir.path()));
    let c = patient_client(&peer.url("/mcp"), Arc::clone(&store));
    echo(&c, "login").await;
    let rt = stored_refresh_token(&store, &peer).await;

    fail_token(&peer, &format!("mode={mode}")).await;
    peer.revoke().await;
    let s = c.session("s").await.unwrap();
    // Five calls at once: they share one refresh (and its failure).
    let started = std::time::Instant::now();
    let calls = (0..5).map(|i| {
        let s = s.clone();
        async move {
            s.call_tool("echo", args(json!({"message": format!("down {i}")})))
                .await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    let took = started.elapsed();
    let issued: Vec<String> = peer
        .requests()
        .iter()
        .filter_map(|r| r["issued_refresh_token"].as_str().map(str::to_owned))
        .collect();
    let texts: Vec<String> = results
        .into_iter()
        .map(|r| r.unwrap_err().to_string())
        .collect();
    println!("{mode}: {took:?}: {}", texts[0]);
    for text in texts {
        assert!(
            text.contains("refreshing the access token failed 3 times"),
            "{mode}: {text}"
        );
        assert!(text.contains("refresh token is kept"), "{mode}: {text}");
        assert!(
            !issued.iter().any(|secret| text.contains(secret)),
            "{mode}: the error shows a secret"
        );
    }
    assert_eq!(
        refresh_attempts(&peer),
        (3, 0),
        "{mode}: three attempts in all"
    );
    assert!(
        took >= Duration::from_millis(600),
        "{mode}: no backoff ({took:?})"
    );
    assert!(took < Duration::from_secs(4), "{mode}: took {took:?}");
    assert_eq!(stored_refresh_token(&store, &peer).await, rt, "{mode}");

    fail_token(&peer, "mode=off").await;
    echo(&c, "back").await;
    let st = peer.stats().await;
    assert_eq!(st["token_refresh"], 1, "{mode}: {st}");
    assert_eq!(st["refresh_reuse"], 0, "{mode}: {st}");
    assert_eq!(st["authorizations"], 1, "{mode}: no new login: {st}");
    assert_ne!(stored_refresh_token(&store, &peer).await, rt, "rotated");
    c.close().await;
}

#[tokio::test]
async fn refresh_retries_a_token_endpoint_answering_500_and_keeps_the_refresh_token() {
    refresh_survives("500").await;
}

#[tokio::test]
async fn refresh_retries_a_token_endpoint_that_does_not_answer() {
    refresh_survives("timeout").await;
}

#[tokio::test]
async fn refresh_retries_a_malformed_token_response() {
    refresh_survives("malformed").await;
}

#[tokio::test]
async fn a_token_endpoint_that_recovers_within_the_retries_refreshes_once() {
    let peer = oauth_server(&[]);
    let dir = tempdir::Dir::new();
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(dir.path()));
    let c = patient_client(&peer.url("/mcp"), Arc::clone(&store));
    echo(&c, "login").await;
    fail_token(&peer, "mode=500&count=2").await;
    peer.revoke().await;
    echo(&c, "third time lucky").await;
    assert_eq!(refresh_attempts(&peer), (2, 1));
    let st = peer.stats().await;
    assert_eq!(
        (st["token_refresh"].as_u64(), st["authorizations"].as_u64()),
        (Some(1), Some(1)),
        "{st}"
    );
    c.close().await;
}

#[tokio::test]
async fn invalid_grant_during_refresh_is_not_retried() {
    let peer = oauth_server(&[]);
    let dir = tempdir::Dir::new();
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(dir.path()));
    let c = patient_client(&peer.url("/mcp"), Arc::clone(&store));
    echo(&c, "login").await;
    fail_token(&peer, "mode=invalid_grant&count=1").await;
    peer.revoke().await;
    // The refresh token is refused once: a new login, not a retry.
    echo(&c, "logged in again").await;
    assert_eq!(refresh_attempts(&peer), (1, 0));
    assert_eq!(peer.stats().await["authorizations"], 2);
    c.close().await;
}
