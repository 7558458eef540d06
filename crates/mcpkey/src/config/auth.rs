//! The `auth` field of a server entry → an [`Auth`](mcpkey_auth::Auth).
//!
//! | value | meaning |
//! |---|---|
//! | `"TOKEN"` | bearer token |
//! | `false`, `{"type":"none"}` | no authentication, explicitly |
//! | `{"type":"bearer","token":"..."}` | bearer token |

use std::sync::Arc;

use mcpkey_auth::{Bearer, SecretString};
use serde_json::{Map, Value};

use super::ConfigError;
use super::server::AuthSetting;

/// Builds the auth of server `server` from its (already interpolated) value.
pub(crate) fn from_value(server: &str, value: &Value) -> Result<AuthSetting, ConfigError> {
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        server: server.to_owned(),
        key: key.to_owned(),
        message,
    };
    match value {
        Value::Null => Ok(AuthSetting::Unset),
        Value::Bool(false) => Ok(AuthSetting::Disabled),
        Value::Bool(true) => Err(invalid(
            "auth",
            "`true` is not an auth; give a token string or an object with a \"type\"".into(),
        )),
        Value::String(token) => bearer(server, "auth", token),
        Value::Object(obj) => from_object(server, obj),
        _ => Err(invalid(
            "auth",
            "expected a token string, false, or an object with a \"type\"".into(),
        )),
    }
}

fn from_object(server: &str, obj: &Map<String, Value>) -> Result<AuthSetting, ConfigError> {
    let kind = obj.get("type").and_then(Value::as_str);
    let field = |name: &str| -> Result<&str, ConfigError> {
        obj.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| ConfigError::Invalid {
                server: server.to_owned(),
                key: format!("auth.{name}"),
                message: format!("missing string field `{name}`"),
            })
    };
    match kind {
        Some("none") => Ok(AuthSetting::Disabled),
        Some("bearer") => bearer(server, "auth.token", field("token")?),
        Some(other) => Err(ConfigError::Invalid {
            server: server.to_owned(),
            key: "auth.type".into(),
            message: format!("unknown auth type {other:?}; supported: \"bearer\", \"none\""),
        }),
        None => Err(ConfigError::Invalid {
            server: server.to_owned(),
            key: "auth".into(),
            message: "an auth object needs a \"type\" (for example {\"type\":\"bearer\",\"token\":\"${TOKEN}\"})".into(),
        }),
    }
}

fn bearer(server: &str, key: &str, token: &str) -> Result<AuthSetting, ConfigError> {
    if token.trim().is_empty() {
        return Err(ConfigError::Invalid {
            server: server.to_owned(),
            key: key.to_owned(),
            message: "the bearer token is empty".into(),
        });
    }
    let b = Bearer::try_new(SecretString::from(token.to_owned())).map_err(|_| {
        ConfigError::Invalid {
            server: server.to_owned(),
            key: key.to_owned(),
            message: "the token contains characters not allowed in an HTTP header".into(),
        }
    })?;
    Ok(AuthSetting::Auth(Arc::new(b)))
}

/// Whether a configured auth sets the `Authorization` header itself.
pub(crate) fn sets_authorization(value: &Value) -> bool {
    match value {
        Value::String(_) => true,
        Value::Object(o) => matches!(
            o.get("type").and_then(Value::as_str),
            Some("bearer" | "basic" | "digest" | "oauth")
        ),
        _ => false,
    }
}
