//! mcpkey clients behind each auth scheme fast-server checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mcpkey::auth::oauth::{
    MemoryStore, StoreLock, TokenRecord, TokenSet, TokenStore, canonical_resource,
};
use mcpkey::auth::{AuthError, Bearer, Digest, SecretString, Signature, SignedPart};
use mcpkey::{Client, ProtocolPin, ServerConfig};

use crate::*;

fn url(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}{path}")
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

/// The server entry for `scheme` on fast-server at `port` (OAuth's token
/// comes from the client's store: see [`seeded_store`]).
pub fn server_config(port: u16, scheme: Scheme) -> ServerConfig {
    let secret = |s: &str| SecretString::from(s.to_owned());
    match scheme {
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
        Scheme::OAuthCached => ServerConfig::http(url(port, OAUTH_PATH)),
    }
}

/// A token store (counting its calls) holding a valid token for
/// fast-server's OAuth path at `port`.
pub async fn seeded_store(port: u16) -> Arc<CountingStore> {
    let store = Arc::new(CountingStore {
        inner: MemoryStore::default(),
        calls: AtomicUsize::new(0),
    });
    let key = canonical_resource(&url::Url::parse(&url(port, OAUTH_PATH)).expect("url"));
    let mut tokens = TokenSet::bearer(SecretString::from(OAUTH_TOKEN.to_owned()));
    tokens.expires_at = Some(mcpkey::auth::oauth::now_unix() + 3600);
    store
        .inner
        .put_tokens(
            &key,
            TokenRecord::new(url(port, ""), "bench-client", tokens),
        )
        .await
        .expect("store");
    store
}

/// A client for `scheme`; with OAuth, also the store whose calls are counted.
pub async fn auth_client(port: u16, scheme: Scheme) -> (Client, Option<Arc<CountingStore>>) {
    let cfg = server_config(port, scheme).protocol(ProtocolPin::Auto);
    if scheme == Scheme::OAuthCached {
        let store = seeded_store(port).await;
        let client = Client::builder()
            .token_store(Arc::clone(&store) as Arc<dyn TokenStore>)
            .server("fast", cfg)
            .build();
        return (client, Some(store));
    }
    (Client::builder().server("fast", cfg).build(), None)
}
