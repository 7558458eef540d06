//! What the server sends us unasked: notifications go to the user's
//! handler (and invalidate cached lists); server-to-client requests are
//! answered by the user's callbacks. The same [`answer`] serves legacy
//! requests on a stream and modern `inputRequests` inside an
//! `input_required` result.

#![allow(deprecated)] // Roots, sampling and logging are deprecated in 2026-07-28 but still served.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::model::{CreateMessageRequestParams, ElicitRequestParams, ProgressNotificationParam};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::cache::Cache;
use crate::client::handler::{Handlers, Notification};
use crate::transport::Transport;
use crate::transport::jsonrpc::{Incoming, RpcError, codes, encode_response};

/// A per-call progress callback.
pub(crate) type ProgressFn = Arc<dyn Fn(&ProgressNotificationParam) + Send + Sync>;

/// State the dispatcher shares with the session.
pub(crate) struct Shared {
    pub name: String,
    pub transport: Arc<dyn Transport>,
    pub handlers: Handlers,
    pub cache: Cache,
    pub progress: Mutex<HashMap<String, ProgressFn>>,
    /// Subscriptions waiting for `notifications/subscriptions/acknowledged`,
    /// by the id of their `subscriptions/listen` request.
    pub acks: Mutex<HashMap<i64, tokio::sync::oneshot::Sender<Value>>>,
}

/// Runs until the transport's inbound queue closes.
pub(crate) fn spawn(shared: Arc<Shared>, mut rx: mpsc::Receiver<Incoming>) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            match m {
                Incoming::Notification { method, params } => {
                    let params = params
                        .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
                        .unwrap_or(Value::Null);
                    notify(&shared, &method, params);
                }
                Incoming::Request { id, method, params } => {
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        let params =
                            params.and_then(|p| serde_json::from_str::<Value>(p.get()).ok());
                        let result = answer(&shared, &method, params).await;
                        let body = encode_response(&id, result.as_ref());
                        if let Err(e) = shared.transport.respond(body.into()).await {
                            tracing::warn!(server = %shared.name, %method, error = %e, "could not send our answer to a server request");
                        }
                    });
                }
                Incoming::Response { id, .. } => {
                    tracing::debug!(server = %shared.name, ?id, "ignoring a response nobody waits for");
                }
            }
        }
    })
}

fn notify(shared: &Shared, method: &str, params: Value) {
    if method == "notifications/subscriptions/acknowledged" {
        if let Some((id, ack)) = super::subscribe::parse_ack(&params) {
            let waiter = shared
                .acks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            if let Some(w) = waiter {
                let _ = w.send(ack);
            }
        }
        return;
    }
    match method {
        "notifications/tools/list_changed" => shared.cache.invalidate("tools/list", None),
        "notifications/prompts/list_changed" => shared.cache.invalidate("prompts/list", None),
        "notifications/resources/list_changed" => {
            shared.cache.invalidate("resources/list", None);
            shared.cache.invalidate("resources/templates/list", None);
        }
        "notifications/resources/updated" => {
            let uri = params.get("uri").and_then(Value::as_str);
            shared.cache.invalidate("resources/read", uri);
        }
        _ => {}
    }
    let n = Notification::parse(method, params);
    if let Notification::Progress(p) = &n {
        let key = token_key(&p.progress_token.0);
        let cb = shared
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(cb) = cb {
            cb(p);
        }
    }
    if let Some(h) = &shared.handlers.notifications {
        h.on_notification(&shared.name, &n);
    } else {
        tracing::debug!(server = %shared.name, %method, "notification");
    }
}

/// The key under which a progress token's callback is registered.
pub(crate) fn token_key(t: &rmcp::model::NumberOrString) -> String {
    match t {
        rmcp::model::NumberOrString::Number(n) => n.to_string(),
        rmcp::model::NumberOrString::String(s) => s.to_string(),
    }
}

fn invalid_params(what: &str, e: serde_json::Error) -> RpcError {
    RpcError {
        code: codes::INVALID_PARAMS,
        message: format!("invalid {what} params: {e}"),
        data: None,
    }
}

fn not_supported(what: &str) -> RpcError {
    RpcError {
        code: codes::METHOD_NOT_FOUND,
        message: format!("this client does not support {what}"),
        data: None,
    }
}

/// Answers one server-to-client request with the user's callbacks.
pub(crate) async fn answer(
    shared: &Shared,
    method: &str,
    params: Option<Value>,
) -> Result<Value, RpcError> {
    let params = params.unwrap_or_else(|| json!({}));
    match method {
        "ping" => Ok(json!({})),
        "elicitation/create" => {
            let Some(h) = &shared.handlers.elicitation else {
                tracing::info!(server = %shared.name, "declining an elicitation: no elicitation handler is configured");
                return Ok(json!({"action": "decline"}));
            };
            let p: ElicitRequestParams =
                serde_json::from_value(params).map_err(|e| invalid_params(method, e))?;
            let r = h.elicit(&shared.name, p).await;
            serde_json::to_value(r).map_err(|e| RpcError {
                code: codes::INTERNAL_ERROR,
                message: e.to_string(),
                data: None,
            })
        }
        "sampling/createMessage" => {
            let Some(h) = &shared.handlers.sampling else {
                return Err(not_supported("sampling"));
            };
            let p: CreateMessageRequestParams =
                serde_json::from_value(params).map_err(|e| invalid_params(method, e))?;
            let r = h
                .create_message(&shared.name, p)
                .await
                .map_err(|m| RpcError {
                    code: codes::INTERNAL_ERROR,
                    message: m,
                    data: None,
                })?;
            serde_json::to_value(r).map_err(|e| RpcError {
                code: codes::INTERNAL_ERROR,
                message: e.to_string(),
                data: None,
            })
        }
        "roots/list" => match &shared.handlers.roots {
            Some(r) => Ok(json!({ "roots": r.as_ref() })),
            None => Err(not_supported("roots")),
        },
        other => Err(RpcError {
            code: codes::METHOD_NOT_FOUND,
            message: format!("method not found: {other}"),
            data: None,
        }),
    }
}
