//! How the client equips servers with OAuth: a token store, an HTTP client
//! for authorization servers, and a way to log users in.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use mcpkey_auth::oauth::{AuthorizationPrompt, AuthorizationUi, OAuth, OAuthHttp, TokenStore};
use mcpkey_auth::{Auth, AuthError};
use url::Url;

use crate::config::OAuthSettings;
use crate::session::attention::Attention;
use crate::transport::http::oauth_http::ReqwestOAuthHttp;

/// What a login UI is built for.
#[derive(Debug)]
#[non_exhaustive]
pub struct LoginRequest<'a> {
    /// The server's name in the config.
    pub server: &'a str,
    /// The MCP endpoint.
    pub url: &'a Url,
    /// The server's OAuth settings, if it has any.
    pub settings: Option<&'a OAuthSettings>,
}

/// Builds the login UI for a server (or none: then a server that needs a
/// login fails with a message to log in first).
pub type LoginUiFactory =
    Arc<dyn Fn(&LoginRequest<'_>) -> Option<Arc<dyn AuthorizationUi>> + Send + Sync>;

/// OAuth equipment shared by a client's servers.
#[derive(Clone)]
pub(crate) struct OAuthEnv {
    pub store: Arc<dyn TokenStore>,
    pub http: Arc<OnceLock<ReqwestOAuthHttp>>,
    pub ui: Option<LoginUiFactory>,
    /// Logins in progress, which connect and request timeouts do not count.
    pub attention: Attention,
}

impl std::fmt::Debug for OAuthEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthEnv")
            .field("store", &self.store)
            .field("ui", &self.ui.is_some())
            .finish()
    }
}

impl OAuthEnv {
    /// The shared OAuth HTTP client, capping bodies at `max_body` bytes.
    pub(crate) fn http(&self, max_body: usize) -> Result<Arc<dyn OAuthHttp>, AuthError> {
        let base = match self.http.get() {
            Some(h) => h,
            None => {
                let h = ReqwestOAuthHttp::new()?;
                self.http.get_or_init(|| h)
            }
        };
        Ok(Arc::new(base.with_max_body(max_body)))
    }

    /// OAuth for one server.
    pub(crate) fn build(
        &self,
        name: &str,
        url: &Url,
        settings: Option<&OAuthSettings>,
        max_body: usize,
    ) -> Result<Arc<dyn Auth>, AuthError> {
        Ok(Arc::new(self.oauth(name, url, settings, max_body)?))
    }

    /// The OAuth instance itself (for login).
    pub(crate) fn oauth(
        &self,
        name: &str,
        url: &Url,
        settings: Option<&OAuthSettings>,
        max_body: usize,
    ) -> Result<OAuth, AuthError> {
        let config = settings.map(|s| s.config.clone()).unwrap_or_default();
        let mut oauth = OAuth::new(
            url.clone(),
            config,
            self.http(max_body)?,
            Arc::clone(&self.store),
        )
        .with_server_name(name);
        if let Some(factory) = &self.ui
            && let Some(ui) = factory(&LoginRequest {
                server: name,
                url,
                settings,
            })
        {
            oauth = oauth.with_ui(Arc::new(Attended {
                inner: ui,
                attention: self.attention.clone(),
            }));
        }
        Ok(oauth)
    }
}

/// A login UI whose time on screen timeouts do not count.
#[derive(Debug)]
struct Attended {
    inner: Arc<dyn AuthorizationUi>,
    attention: Attention,
}

#[async_trait]
impl AuthorizationUi for Attended {
    fn redirect_uri(&self) -> String {
        self.inner.redirect_uri()
    }

    async fn authorize(&self, prompt: AuthorizationPrompt<'_>) -> Result<Url, AuthError> {
        let _busy = self.attention.begin();
        self.inner.authorize(prompt).await
    }
}
