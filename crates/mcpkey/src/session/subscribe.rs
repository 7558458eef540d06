//! Change notifications.
//!
//! Modern servers (2026-07-28) send list changes and resource updates only
//! on the response stream of a `subscriptions/listen` request the client
//! keeps open; legacy servers send list changes unasked and resource updates
//! after `resources/subscribe`. [`Session::subscribe`] does whichever the
//! server's era needs; the notifications reach the client's notification
//! handler and invalidate cached lists either way.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Era, Session};
use crate::error::{Error, ErrorKind};
use crate::transport::{Call, TransportError};

/// Longest wait for the server to acknowledge a subscription.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Which change notifications to receive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Subscribe {
    /// `notifications/tools/list_changed`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tools_list_changed: bool,
    /// `notifications/prompts/list_changed`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prompts_list_changed: bool,
    /// `notifications/resources/list_changed`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resources_list_changed: bool,
    /// `notifications/resources/updated` for these URIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_subscriptions: Vec<String>,
}

impl Subscribe {
    /// Every list change, no resource updates.
    pub fn all_lists() -> Self {
        Self {
            tools_list_changed: true,
            prompts_list_changed: true,
            resources_list_changed: true,
            resource_subscriptions: Vec::new(),
        }
    }

    /// Adds a resource to watch.
    pub fn resource(mut self, uri: impl Into<String>) -> Self {
        self.resource_subscriptions.push(uri.into());
        self
    }
}

/// An open subscription; dropping it ends the subscription (the listen
/// stream is closed, or `resources/unsubscribe` is sent).
pub struct Subscription {
    acknowledged: Subscribe,
    inner: Kind,
}

enum Kind {
    Listen(JoinHandle<Result<(), TransportError>>),
    Legacy { session: Session, uris: Vec<String> },
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("acknowledged", &self.acknowledged)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// What the server agreed to send (a subset of what was asked).
    pub fn acknowledged(&self) -> &Subscribe {
        &self.acknowledged
    }

    /// Whether the server has ended the subscription (modern servers end the
    /// listen stream when they shut down).
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            Kind::Listen(h) => h.is_finished(),
            Kind::Legacy { session, .. } => session.is_closed(),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        match &mut self.inner {
            // Aborting drops the request future: the HTTP stream closes
            // (which is the cancellation signal), and on stdio the request
            // guard sends notifications/cancelled.
            Kind::Listen(h) => h.abort(),
            Kind::Legacy { session, uris } => {
                let (session, uris) = (session.clone(), std::mem::take(uris));
                if uris.is_empty() {
                    return;
                }
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move {
                        for uri in uris {
                            let _ = session
                                .request_raw("resources/unsubscribe", Some(json!({ "uri": uri })))
                                .await;
                        }
                    });
                }
            }
        }
    }
}

impl Session {
    /// Subscribes to change notifications, which then reach the client's
    /// notification handler (and invalidate cached lists).
    ///
    /// On a modern server this opens a `subscriptions/listen` stream and
    /// waits for the server's acknowledgment; on a legacy server it sends
    /// `resources/subscribe` for each resource (list changes arrive without
    /// asking on legacy servers that announce `listChanged`).
    pub async fn subscribe(&self, filter: Subscribe) -> Result<Subscription, Error> {
        let step = "subscriptions/listen";
        self.check_open(step)?;
        match self.details().era {
            Era::Legacy => self.subscribe_legacy(filter).await,
            _ => self
                .subscribe_modern(filter)
                .await
                .map_err(|k| self.err(step, k)),
        }
    }

    async fn subscribe_legacy(&self, filter: Subscribe) -> Result<Subscription, Error> {
        let caps = serde_json::to_value(&self.details().capabilities).unwrap_or(Value::Null);
        let announces = |kind: &str| caps[kind]["listChanged"].as_bool().unwrap_or(false);
        if !filter.resource_subscriptions.is_empty()
            && !caps["resources"]["subscribe"].as_bool().unwrap_or(false)
        {
            return Err(self.err(
                "resources/subscribe",
                ErrorKind::Protocol(
                    "the server does not offer resource subscriptions (capabilities.resources.subscribe)"
                        .into(),
                ),
            ));
        }
        for uri in &filter.resource_subscriptions {
            self.request_raw("resources/subscribe", Some(json!({ "uri": uri })))
                .await?;
        }
        let acknowledged = Subscribe {
            tools_list_changed: filter.tools_list_changed && announces("tools"),
            prompts_list_changed: filter.prompts_list_changed && announces("prompts"),
            resources_list_changed: filter.resources_list_changed && announces("resources"),
            resource_subscriptions: filter.resource_subscriptions.clone(),
        };
        Ok(Subscription {
            acknowledged,
            inner: Kind::Legacy {
                session: self.clone(),
                uris: filter.resource_subscriptions,
            },
        })
    }

    async fn subscribe_modern(&self, filter: Subscribe) -> Result<Subscription, ErrorKind> {
        let engine = &self.inner.engine;
        let id = engine.next_id();
        let mut params = Map::new();
        params.insert(
            "notifications".into(),
            serde_json::to_value(&filter).unwrap_or(Value::Null),
        );
        let headers = engine.headers("subscriptions/listen", Some(&params), &[]);
        let call = Call {
            id,
            body: engine
                .encode(id, "subscriptions/listen", Some(&params))
                .into(),
            headers,
        };
        let (tx, rx) = oneshot::channel();
        engine
            .shared
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        let transport = Arc::clone(&engine.shared.transport);
        let name = engine.shared.name.clone();
        let task = tokio::spawn(async move {
            let r = transport.call(call).await;
            match &r {
                Ok(_) => tracing::debug!(server = %name, "the server ended the subscription"),
                Err(e) => {
                    tracing::debug!(server = %name, error = %e, "the subscription stream ended")
                }
            }
            r.map(|_| ())
        });
        let waited = tokio::time::timeout(ACK_TIMEOUT, rx).await;
        engine
            .shared
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        match waited {
            Ok(Ok(ack)) => {
                let acknowledged = serde_json::from_value(ack).unwrap_or_default();
                Ok(Subscription {
                    acknowledged,
                    inner: Kind::Listen(task),
                })
            }
            _ => {
                // No acknowledgment: the stream failed, or the server is silent.
                if task.is_finished() {
                    if let Ok(Err(e)) = task.await {
                        return Err(ErrorKind::Transport(e));
                    }
                } else {
                    task.abort();
                }
                Err(ErrorKind::Protocol(format!(
                    "the server did not acknowledge subscriptions/listen within {ACK_TIMEOUT:?}"
                )))
            }
        }
    }
}

/// The subscription id an acknowledgment carries, and the acknowledged
/// filter.
pub(crate) fn parse_ack(params: &Value) -> Option<(i64, Value)> {
    let id = params
        .get("_meta")?
        .get("io.modelcontextprotocol/subscriptionId")?;
    let id = crate::transport::jsonrpc::id_as_i64(id)?;
    Some((
        id,
        params.get("notifications").cloned().unwrap_or(Value::Null),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_wire_shape() {
        let f = Subscribe {
            tools_list_changed: true,
            ..Subscribe::default()
        }
        .resource("file:///a");
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            json!({"toolsListChanged": true, "resourceSubscriptions": ["file:///a"]})
        );
        let ack = json!({"_meta": {"io.modelcontextprotocol/subscriptionId": 7}, "notifications": {"toolsListChanged": true}});
        let (id, n) = parse_ack(&ack).unwrap();
        assert_eq!(id, 7);
        let f: Subscribe = serde_json::from_value(n).unwrap();
        assert!(f.tools_list_changed && !f.prompts_list_changed);
    }
}
