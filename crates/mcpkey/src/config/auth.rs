//! The `auth` field of a server entry → an [`Auth`](mcpkey_auth::Auth).
//!
//! | value | scheme |
//! |---|---|
//! | `"TOKEN"` | bearer token |
//! | `false`, `{"type":"none"}` | no authentication, explicitly |
//! | `{"type":"bearer","token":"..."}` | bearer token |
//! | `{"type":"basic","username":"...","password":"..."}` | HTTP Basic (RFC 7617) |
//! | `{"type":"digest","username":"...","password":"..."}` | HTTP Digest (RFC 7616) |
//! | `{"type":"api_key","api_key":"...","header_name":"X-API-Key"}` | key in a header |
//! | `{"type":"query_param","api_key":"...","param_name":"api_key"}` | key in the query string |
//! | `{"type":"signature","api_key":"...","api_secret":"..."}` | HMAC-SHA256 request signature |
//! | `{"type":"multi_header","headers":{"X-API-Key":"...","X-Tenant-ID":"..."}}` | several headers |
//! | `{"type":"command","command":"...","args":[...]}` | headers printed by a helper program |
//! | `[ {...}, {...} ]` | several schemes, applied in order |
//!
//! Every string has already been through `${...}` interpolation.

use std::sync::Arc;
use std::time::Duration;

use mcpkey_auth::oauth::{Grant, JwtAlgorithm, OAuthConfig, ServerMetadata};
use mcpkey_auth::{
    ApiKey, Auth, AuthError, Basic, Bearer, Chain, CommandHeaders, Digest, MultiHeader, QueryParam,
    SecretString, Signature, SignedPart,
};
use serde_json::{Map, Value};

use super::ConfigError;
use super::server::{AuthSetting, OAuthSettings};

/// Keys of mcp-use's OAuth `auth` object (an object without "type" made of
/// these means OAuth).
const OAUTH_KEYS: &[&str] = &[
    "client_id",
    "client_secret",
    "scope",
    "scopes",
    "callback_port",
    "callback_host",
    "callback_path",
    "client_metadata_url",
    "oauth_provider",
    "grant",
    "private_key",
    "signing_algorithm",
    "login_timeout",
    "allow_http",
    "refresh_attempts",
    "refresh_backoff",
    "refresh_timeout",
];

/// Builds the auth of server `server` from its (already interpolated) value.
pub(crate) fn from_value(server: &str, value: &Value) -> Result<AuthSetting, ConfigError> {
    let b = Builder { server };
    match value {
        Value::Null => Ok(AuthSetting::Unset),
        Value::Bool(false) => Ok(AuthSetting::Disabled),
        Value::Bool(true) => Err(b.invalid(
            "auth",
            "`true` is not an auth; give a token string or an object with a \"type\"",
        )),
        Value::String(token) => Ok(AuthSetting::Auth(b.bearer("auth", token)?)),
        Value::Object(obj) => {
            let kind = obj.get("type").and_then(Value::as_str);
            let mcp_use_oauth =
                kind.is_none() && obj.keys().all(|k| OAUTH_KEYS.contains(&k.as_str()));
            if kind == Some("oauth") || mcp_use_oauth {
                return Ok(AuthSetting::OAuth(Box::new(b.oauth("auth", obj)?)));
            }
            match b.object("auth", obj)? {
                Some(a) => Ok(AuthSetting::Auth(a)),
                None => Ok(AuthSetting::Disabled),
            }
        }
        Value::Array(items) => {
            let mut chain = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let key = format!("auth[{i}]");
                let a = match item {
                    Value::String(t) => Some(b.bearer(&key, t)?),
                    Value::Object(o) => b.object(&key, o)?,
                    _ => {
                        return Err(b.invalid(
                            &key,
                            "expected a token string or an object with a \"type\"",
                        ));
                    }
                };
                chain.extend(a);
            }
            if chain.is_empty() {
                return Ok(AuthSetting::Disabled);
            }
            Ok(AuthSetting::Auth(Arc::new(Chain::new(chain))))
        }
        Value::Number(_) => Err(b.invalid(
            "auth",
            "expected a token string, false, or an object with a \"type\"",
        )),
    }
}

struct Builder<'a> {
    server: &'a str,
}

impl Builder<'_> {
    fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            server: self.server.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn scheme_err(&self, key: &str, e: AuthError) -> ConfigError {
        self.invalid(key, e.to_string())
    }

    fn string<'o>(
        &self,
        obj: &'o Map<String, Value>,
        key: &str,
        name: &str,
    ) -> Result<&'o str, ConfigError> {
        match obj.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            Some(Value::String(_)) => Err(self.invalid(&format!("{key}.{name}"), "is empty")),
            Some(_) => Err(self.invalid(&format!("{key}.{name}"), "must be a string")),
            None => Err(self.invalid(key, format!("missing `{name}`"))),
        }
    }

    fn opt_string<'o>(
        &self,
        obj: &'o Map<String, Value>,
        key: &str,
        name: &str,
    ) -> Result<Option<&'o str>, ConfigError> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.invalid(&format!("{key}.{name}"), "must be a string")),
        }
    }

    fn secret(
        &self,
        obj: &Map<String, Value>,
        key: &str,
        name: &str,
    ) -> Result<SecretString, ConfigError> {
        Ok(SecretString::from(self.string(obj, key, name)?.to_owned()))
    }

    fn seconds(
        &self,
        obj: &Map<String, Value>,
        key: &str,
        name: &str,
    ) -> Result<Option<Duration>, ConfigError> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_f64() {
                Some(s) if s.is_finite() && (0.0..1e9).contains(&s) => {
                    Ok(Some(Duration::from_secs_f64(s)))
                }
                _ => Err(self.invalid(&format!("{key}.{name}"), "must be a number of seconds")),
            },
        }
    }

    fn bearer(&self, key: &str, token: &str) -> Result<Arc<dyn Auth>, ConfigError> {
        if token.trim().is_empty() {
            return Err(self.invalid(key, "the bearer token is empty"));
        }
        let b = Bearer::try_new(SecretString::from(token.to_owned())).map_err(|_| {
            self.invalid(
                key,
                "the token contains characters not allowed in an HTTP header",
            )
        })?;
        Ok(Arc::new(b))
    }

    /// An auth object; `None` for an explicit "none".
    fn object(
        &self,
        key: &str,
        obj: &Map<String, Value>,
    ) -> Result<Option<Arc<dyn Auth>>, ConfigError> {
        let Some(kind) = obj.get("type").and_then(Value::as_str) else {
            return Err(self.invalid(
                key,
                "an auth object needs a \"type\" (bearer, basic, digest, api_key, query_param, signature, multi_header, command or none)",
            ));
        };
        let a: Arc<dyn Auth> = match kind.to_ascii_lowercase().replace('-', "_").as_str() {
            "none" => return Ok(None),
            "bearer" => self.bearer(&format!("{key}.token"), self.string(obj, key, "token")?)?,
            "basic" => Arc::new(
                Basic::new(
                    self.string(obj, key, "username")?,
                    self.secret(obj, key, "password")?,
                )
                .map_err(|e| self.scheme_err(key, e))?,
            ),
            "digest" => Arc::new(Digest::new(
                self.string(obj, key, "username")?,
                self.secret(obj, key, "password")?,
            )),
            "api_key" | "apikey" => {
                let secret = self.secret(obj, key, "api_key")?;
                let a = match self.opt_string(obj, key, "header_name")? {
                    Some(h) => ApiKey::with_header(h, secret),
                    None => ApiKey::new(secret),
                };
                Arc::new(a.map_err(|e| self.scheme_err(key, e))?)
            }
            "query_param" | "query" => {
                let secret = self.secret(obj, key, "api_key")?;
                Arc::new(match self.opt_string(obj, key, "param_name")? {
                    Some(p) if !p.is_empty() => QueryParam::with_param(p, secret),
                    Some(_) => return Err(self.invalid(&format!("{key}.param_name"), "is empty")),
                    None => QueryParam::new(secret),
                })
            }
            "signature" | "hmac" => Arc::new(self.signature(key, obj)?),
            "multi_header" | "headers" => {
                let Some(Value::Object(h)) = obj.get("headers") else {
                    return Err(self.invalid(
                        key,
                        "missing `headers` (an object of header names and values)",
                    ));
                };
                let mut pairs = Vec::new();
                for (k, v) in h {
                    let Value::String(s) = v else {
                        return Err(self.invalid(&format!("{key}.headers.{k}"), "must be a string"));
                    };
                    pairs.push((k.clone(), SecretString::from(s.clone())));
                }
                Arc::new(MultiHeader::new(pairs).map_err(|e| self.scheme_err(key, e))?)
            }
            "command" => {
                let command = self.string(obj, key, "command")?;
                let args = match obj.get("args") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|x| x.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| {
                            self.invalid(&format!("{key}.args"), "must be a list of strings")
                        })?,
                    Some(_) => {
                        return Err(
                            self.invalid(&format!("{key}.args"), "must be a list of strings")
                        );
                    }
                };
                let mut c = CommandHeaders::new(command, args);
                if let Some(d) = self.seconds(obj, key, "cache_seconds")? {
                    c = c.cache_for(d);
                }
                if let Some(d) = self.seconds(obj, key, "timeout")? {
                    c = c.timeout(d);
                }
                Arc::new(c)
            }
            "oauth" => {
                return Err(self.invalid(
                    &format!("{key}.type"),
                    "OAuth cannot be combined with other schemes in a list; give it alone",
                ));
            }
            other => {
                return Err(self.invalid(
                    &format!("{key}.type"),
                    format!(
                        "unknown auth type {other:?}; supported: bearer, basic, digest, api_key, query_param, signature, multi_header, command, none"
                    ),
                ));
            }
        };
        Ok(Some(a))
    }

    fn oauth(&self, key: &str, obj: &Map<String, Value>) -> Result<OAuthSettings, ConfigError> {
        let mut config = OAuthConfig::default();
        config.client_id = self.opt_string(obj, key, "client_id")?.map(str::to_owned);
        config.client_secret = self
            .opt_string(obj, key, "client_secret")?
            .filter(|s| !s.is_empty())
            .map(|s| SecretString::from(s.to_owned()));
        config.scope = match obj.get("scope").or_else(|| obj.get("scopes")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|x| x.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        self.invalid(
                            &format!("{key}.scope"),
                            "must be a string or a list of strings",
                        )
                    })?
                    .join(" "),
            ),
            Some(_) => {
                return Err(self.invalid(
                    &format!("{key}.scope"),
                    "must be a string or a list of strings",
                ));
            }
        };
        config.client_metadata_url = self
            .opt_string(obj, key, "client_metadata_url")?
            .map(str::to_owned);
        config.allow_http = obj
            .get("allow_http")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        config.grant = match self.opt_string(obj, key, "grant")? {
            None | Some("authorization_code") => Grant::AuthorizationCode,
            Some("client_credentials") => Grant::ClientCredentials,
            Some(other) => {
                return Err(self.invalid(
                    &format!("{key}.grant"),
                    format!("unknown grant {other:?}; use \"authorization_code\" or \"client_credentials\""),
                ));
            }
        };
        if let Some(pem) = self.opt_string(obj, key, "private_key")? {
            let alg = match self.opt_string(obj, key, "signing_algorithm")? {
                None => JwtAlgorithm::Es256,
                Some(a) => JwtAlgorithm::parse(a).ok_or_else(|| {
                    self.invalid(&format!("{key}.signing_algorithm"), "use ES256 or RS256")
                })?,
            };
            config.private_key = Some((SecretString::from(pem.to_owned()), alg));
        }
        if matches!(config.grant, Grant::ClientCredentials) && config.client_id.is_none() {
            return Err(self.invalid(
                key,
                "client_credentials needs a pre-registered \"client_id\"",
            ));
        }
        if let Some(p) = obj.get("oauth_provider") {
            let meta = p.get("metadata").unwrap_or(p);
            let m: ServerMetadata = serde_json::from_value(meta.clone()).map_err(|e| {
                self.invalid(
                    &format!("{key}.oauth_provider"),
                    format!("not authorization server metadata: {e}"),
                )
            })?;
            config.metadata = Some(m);
        }
        match obj.get("refresh_attempts") {
            None | Some(Value::Null) => {}
            Some(v) => {
                config.refresh_attempts =
                    v.as_u64().filter(|n| (1..=10).contains(n)).ok_or_else(|| {
                        self.invalid(
                            &format!("{key}.refresh_attempts"),
                            "must be a whole number from 1 to 10",
                        )
                    })? as u32;
            }
        }
        if let Some(d) = self.seconds(obj, key, "refresh_backoff")? {
            config.refresh_backoff = d;
        }
        if let Some(d) = self.seconds(obj, key, "refresh_timeout")? {
            if d.is_zero() {
                return Err(self.invalid(
                    &format!("{key}.refresh_timeout"),
                    "must be more than 0 seconds",
                ));
            }
            config.refresh_timeout = d;
        }
        let callback_port = match obj.get("callback_port") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .filter(|p| (1..=65535).contains(p))
                    .ok_or_else(|| {
                        self.invalid(&format!("{key}.callback_port"), "must be a port number")
                    })? as u16,
            ),
        };
        Ok(OAuthSettings {
            config,
            callback_host: self
                .opt_string(obj, key, "callback_host")?
                .map(str::to_owned),
            callback_port,
            callback_path: self
                .opt_string(obj, key, "callback_path")?
                .map(str::to_owned),
            login_timeout: self.seconds(obj, key, "login_timeout")?,
        })
    }

    fn signature(&self, key: &str, obj: &Map<String, Value>) -> Result<Signature, ConfigError> {
        let mut s = Signature::new(
            self.secret(obj, key, "api_key")?,
            self.secret(obj, key, "api_secret")?,
        )
        .map_err(|e| self.scheme_err(key, e))?;
        let names = [
            self.opt_string(obj, key, "key_header")?,
            self.opt_string(obj, key, "timestamp_header")?,
            self.opt_string(obj, key, "signature_header")?,
        ];
        if names.iter().any(Option::is_some) {
            s = s
                .headers(
                    names[0].unwrap_or("X-API-Key"),
                    names[1].unwrap_or("X-Timestamp"),
                    names[2].unwrap_or("X-Signature"),
                )
                .map_err(|e| self.scheme_err(key, e))?;
        }
        if let Some(parts) = obj.get("message") {
            let list = parts
                .as_array()
                .ok_or_else(|| self.invalid(&format!("{key}.message"), "must be a list"))?;
            let mut out = Vec::new();
            for p in list {
                let name = p.as_str().unwrap_or_default();
                out.push(SignedPart::parse(name).ok_or_else(|| {
                    self.invalid(
                        &format!("{key}.message"),
                        format!("unknown part {p}; use method, path, path_and_query, timestamp, body, body_sha256, api_key"),
                    )
                })?);
            }
            if out.is_empty() {
                return Err(self.invalid(&format!("{key}.message"), "is empty"));
            }
            let sep = self.opt_string(obj, key, "separator")?.unwrap_or("");
            s = s.message(out, sep);
        }
        Ok(s)
    }
}

/// Whether a configured auth sets the `Authorization` header itself.
pub(crate) fn sets_authorization(value: &Value) -> bool {
    match value {
        Value::String(_) => true,
        Value::Object(o) => matches!(
            o.get("type").and_then(Value::as_str),
            Some("bearer" | "basic" | "digest" | "oauth") | None
        ),
        Value::Array(items) => items.iter().any(sets_authorization),
        _ => false,
    }
}
