//! One raw entry → a [`ServerConfig`]: interpolation, validation, and the
//! choice of transport. Errors name the server and the key.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::interpolate::{Env, InterpolationError, expand};
use super::raw::{RawServer, TOLERATED_KEYS};
use super::server::{
    HttpTransport, ProtocolPin, ServerConfig, StdioTarget, Target, build_header, parse_http_url,
};
use super::{ConfigError, auth};

/// Resolves one entry. `warnings` receives non-fatal remarks.
pub(crate) fn resolve(
    name: &str,
    raw: &RawServer,
    env: &dyn Env,
    warnings: &mut Vec<String>,
) -> Result<ServerConfig, ConfigError> {
    let x = Expander { server: name, env };
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        server: name.to_owned(),
        key: key.to_owned(),
        message,
    };

    let explicit = raw.transport.as_deref().or(raw.kind.as_deref());
    let url = raw.url.as_deref().or(raw.server_url.as_deref());
    let url_key = if raw.url.is_some() {
        "url"
    } else {
        "serverUrl"
    };
    let key_name = if raw.transport.is_some() {
        "transport"
    } else {
        "type"
    };

    enum Kind {
        Stdio,
        Http(HttpTransport),
    }
    let kind = match explicit.map(|s| s.to_ascii_lowercase()) {
        Some(t) => match t.as_str() {
            "stdio" => Kind::Stdio,
            "streamable-http" | "streamable_http" | "streamablehttp" | "http" => {
                Kind::Http(HttpTransport::Streamable)
            }
            "sse" => Kind::Http(HttpTransport::Sse),
            "auto" => Kind::Http(HttpTransport::Auto),
            _ => {
                return Err(invalid(
                    key_name,
                    format!(
                        "unknown transport {t:?}; use \"stdio\", \"streamable-http\" (or \"http\"), or \"sse\""
                    ),
                ));
            }
        },
        None => match (&raw.command, url) {
            (Some(_), Some(_)) => {
                warnings.push(format!(
                    "server '{name}': has both `command` and `{url_key}`; using `command` (stdio). Set \"transport\" to choose."
                ));
                Kind::Stdio
            }
            (Some(_), None) => Kind::Stdio,
            (None, Some(_)) => Kind::Http(HttpTransport::Auto),
            (None, None) => {
                return Err(invalid(
                    ".",
                    "needs `command` (a local stdio server) or `url` (a remote HTTP server)".into(),
                ));
            }
        },
    };

    let target = match kind {
        Kind::Stdio => {
            let command = raw.command.as_deref().ok_or_else(|| {
                invalid(
                    "command",
                    "transport is stdio but `command` is missing".into(),
                )
            })?;
            let command = x.expand("command", command)?;
            if command.trim().is_empty() {
                return Err(invalid("command", "is empty".into()));
            }
            let mut args = Vec::new();
            for (i, a) in raw.args.iter().flatten().enumerate() {
                args.push(x.expand(&format!("args[{i}]"), &a.clone().into_string())?);
            }
            let mut envs = Vec::new();
            for (k, v) in raw.env.iter().flatten() {
                envs.push((
                    k.clone(),
                    x.expand(&format!("env.{k}"), &v.clone().into_string())?,
                ));
            }
            let cwd = match &raw.cwd {
                Some(c) => Some(expand_home(&x.expand("cwd", c)?)),
                None => None,
            };
            for (k, present) in [
                ("headers", raw.headers.is_some()),
                ("auth", raw.auth.is_some()),
            ] {
                if present {
                    warnings.push(format!(
                        "server '{name}': `{k}` is ignored for stdio servers (pass credentials in `env`)"
                    ));
                }
            }
            Target::Stdio(StdioTarget {
                command,
                args,
                env: envs,
                cwd,
            })
        }
        Kind::Http(transport) => {
            let url = url.ok_or_else(|| invalid("url", "an HTTP transport needs `url`".into()))?;
            let url = x.expand(url_key, url)?;
            let url = parse_http_url(&url).map_err(|m| invalid(url_key, m))?;
            if raw.command.is_some() && explicit.is_some() {
                warnings.push(format!(
                    "server '{name}': `command` is ignored for HTTP servers"
                ));
            }
            Target::Http { url, transport }
        }
    };

    let mut cfg = match target {
        Target::Stdio(s) => {
            let mut c = ServerConfig::stdio(s.command.clone());
            c.target = Target::Stdio(s);
            c
        }
        Target::Http { url, transport } => ServerConfig::http_with(url.as_str(), transport),
    };

    if let Some(headers) = &raw.headers {
        for (k, v) in headers {
            let key = format!("headers.{k}");
            let value = x.expand(&key, &v.clone().into_string())?;
            let h = build_header(k, &value).map_err(|m| invalid(&key, m))?;
            cfg.headers.push(h);
        }
    }

    if let Some(a) = &raw.auth {
        let a = x.expand_value("auth", a)?;
        if auth::sets_authorization(&a)
            && cfg
                .headers
                .iter()
                .any(|(k, _)| k == http::header::AUTHORIZATION)
        {
            warnings.push(format!(
                "server '{name}': both `headers.Authorization` and `auth` are set; `auth` wins"
            ));
            cfg.headers
                .retain(|(k, _)| k != http::header::AUTHORIZATION);
        }
        cfg.auth = auth::from_value(name, &a)?;
    }

    let secs = |key: &str, v: Option<f64>| -> Result<Option<Duration>, ConfigError> {
        match v {
            None => Ok(None),
            Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Some(Duration::from_secs_f64(s))),
            Some(_) => Err(invalid(key, "must be a positive number of seconds".into())),
        }
    };
    if let Some(t) = secs("timeout", raw.timeout)? {
        cfg.connect_timeout = t;
    }
    if let Some(t) = secs("sse_read_timeout", raw.sse_read_timeout)? {
        cfg.sse_read_timeout = t;
    }
    if let Some(t) = secs("request_timeout", raw.request_timeout)? {
        cfg.request_timeout = t;
    }
    if let Some(l) = &raw.limits {
        let l: super::limits::RawLimits =
            serde_json::from_value(l.clone()).map_err(|e| invalid("limits", e.to_string()))?;
        let limits = l.resolve();
        limits
            .check()
            .map_err(|(key, m)| invalid(&format!("limits.{key}"), m))?;
        cfg.limits = limits;
    }
    if let Some(p) = &raw.protocol {
        cfg.protocol = parse_protocol(p).map_err(|m| invalid("protocol", m))?;
    }
    cfg.allow_insecure_http = raw.allow_insecure_http.unwrap_or(false);
    cfg.disabled = raw.disabled.unwrap_or(false);

    for k in raw.unknown.keys() {
        if !TOLERATED_KEYS.contains(&k.as_str()) {
            warnings.push(format!("server '{name}': unknown key `{k}` ignored"));
        }
    }
    Ok(cfg)
}

/// Known protocol revisions, newest first.
pub(crate) const MODERN_VERSIONS: &[&str] = &["2026-07-28"];
/// Known legacy revisions, newest first.
pub(crate) const LEGACY_VERSIONS: &[&str] =
    &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

fn parse_protocol(p: &str) -> Result<ProtocolPin, String> {
    match p {
        "auto" => Ok(ProtocolPin::Auto),
        "modern" => Ok(ProtocolPin::Modern(None)),
        "legacy" => Ok(ProtocolPin::Legacy(None)),
        v if MODERN_VERSIONS.contains(&v) => Ok(ProtocolPin::Modern(Some(v.to_owned()))),
        v if LEGACY_VERSIONS.contains(&v) => Ok(ProtocolPin::Legacy(Some(v.to_owned()))),
        v => Err(format!(
            "unknown protocol {v:?}; use \"auto\", \"modern\", \"legacy\", or a version ({}, {})",
            MODERN_VERSIONS.join(", "),
            LEGACY_VERSIONS.join(", ")
        )),
    }
}

fn expand_home(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => dirs::home_dir()
            .map(|h| h.join(rest))
            .unwrap_or_else(|| PathBuf::from(p)),
        None => PathBuf::from(p),
    }
}

struct Expander<'a> {
    server: &'a str,
    env: &'a dyn Env,
}

impl Expander<'_> {
    fn expand(&self, key: &str, s: &str) -> Result<String, ConfigError> {
        expand(s, self.env).map_err(|e| match e {
            InterpolationError::Missing(var) => ConfigError::MissingVariable {
                server: self.server.to_owned(),
                key: key.to_owned(),
                var,
            },
            InterpolationError::File(path, source) => ConfigError::SecretFile {
                server: self.server.to_owned(),
                key: key.to_owned(),
                path: PathBuf::from(path),
                source,
            },
            InterpolationError::Syntax(message) => ConfigError::Interpolation {
                server: self.server.to_owned(),
                key: key.to_owned(),
                message,
            },
        })
    }

    /// Expands every string inside a JSON value (the `auth` object).
    fn expand_value(&self, key: &str, v: &Value) -> Result<Value, ConfigError> {
        Ok(match v {
            Value::String(s) => Value::String(self.expand(key, s)?),
            Value::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| self.expand_value(&format!("{key}[{i}]"), x))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| Ok((k.clone(), self.expand_value(&format!("{key}.{k}"), x)?)))
                    .collect::<Result<_, ConfigError>>()?,
            ),
            other => other.clone(),
        })
    }
}
