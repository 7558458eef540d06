//! Callbacks through which servers reach the user: elicitation, sampling,
//! roots, and notifications.
//!
//! The same callbacks answer legacy server-to-client requests
//! (`elicitation/create` arriving on a stream) and modern multi round-trip
//! requests (`inputRequests` inside an `input_required` result), so user
//! code does not care which era a server speaks.
//!
//! Without a callback, the capability is not advertised: servers will not
//! ask, and if one asks anyway it gets a decline (elicitation) or a
//! "method not found" error (sampling, roots).

#![allow(deprecated)] // Roots, sampling and logging are deprecated in 2026-07-28 but still served.

use std::sync::Arc;

use async_trait::async_trait;
use rmcp::model::{
    CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
    ElicitationAction, LoggingMessageNotificationParam, ProgressNotificationParam,
    ResourceUpdatedNotificationParam, Root,
};
use serde_json::{Map, Value, json};

/// Answers `elicitation/create`: asks the user for input.
#[async_trait]
pub trait ElicitationHandler: Send + Sync {
    /// Handles one elicitation from server `server`.
    async fn elicit(&self, server: &str, params: ElicitRequestParams) -> ElicitResult;

    /// Whether URL-mode elicitation is supported (advertised as
    /// `elicitation.url`).
    fn supports_url(&self) -> bool {
        false
    }
}

/// Answers `sampling/createMessage`: runs an LLM on the server's behalf.
#[async_trait]
pub trait SamplingHandler: Send + Sync {
    /// Produces the message, or an error text returned to the server.
    async fn create_message(
        &self,
        server: &str,
        params: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, String>;
}

/// Receives notifications from every server.
pub trait NotificationHandler: Send + Sync {
    /// Called for each notification, in arrival order per server. Keep it
    /// quick: it runs on the session's dispatcher.
    fn on_notification(&self, server: &str, notification: &Notification);
}

impl<F> NotificationHandler for F
where
    F: Fn(&str, &Notification) + Send + Sync,
{
    fn on_notification(&self, server: &str, notification: &Notification) {
        self(server, notification)
    }
}

/// A notification from a server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Notification {
    /// `notifications/progress`.
    Progress(ProgressNotificationParam),
    /// `notifications/message` (server log line).
    Log(LoggingMessageNotificationParam),
    /// `notifications/tools/list_changed`.
    ToolsListChanged,
    /// `notifications/resources/list_changed`.
    ResourcesListChanged,
    /// `notifications/prompts/list_changed`.
    PromptsListChanged,
    /// `notifications/resources/updated`.
    ResourceUpdated(ResourceUpdatedNotificationParam),
    /// Anything else, raw.
    Other {
        /// Method name.
        method: String,
        /// Parameters.
        params: Value,
    },
}

impl Notification {
    pub(crate) fn parse(method: &str, params: Value) -> Self {
        fn typed<T: serde::de::DeserializeOwned>(
            method: &str,
            params: Value,
            wrap: fn(T) -> Notification,
        ) -> Notification {
            match serde_json::from_value::<T>(params.clone()) {
                Ok(p) => wrap(p),
                Err(_) => Notification::Other {
                    method: method.to_owned(),
                    params,
                },
            }
        }
        match method {
            "notifications/progress" => typed(method, params, Notification::Progress),
            "notifications/message" => typed(method, params, Notification::Log),
            "notifications/resources/updated" => {
                typed(method, params, Notification::ResourceUpdated)
            }
            "notifications/tools/list_changed" => Notification::ToolsListChanged,
            "notifications/resources/list_changed" => Notification::ResourcesListChanged,
            "notifications/prompts/list_changed" => Notification::PromptsListChanged,
            _ => Notification::Other {
                method: method.to_owned(),
                params,
            },
        }
    }
}

/// The callbacks a client was built with.
#[derive(Clone, Default)]
pub(crate) struct Handlers {
    pub elicitation: Option<Arc<dyn ElicitationHandler>>,
    pub sampling: Option<Arc<dyn SamplingHandler>>,
    pub roots: Option<Arc<Vec<Root>>>,
    pub notifications: Option<Arc<dyn NotificationHandler>>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers")
            .field("elicitation", &self.elicitation.is_some())
            .field("sampling", &self.sampling.is_some())
            .field("roots", &self.roots.as_ref().map(|r| r.len()))
            .field("notifications", &self.notifications.is_some())
            .finish()
    }
}

impl Handlers {
    /// The client capabilities these callbacks support, as sent on the wire.
    pub(crate) fn capabilities(&self) -> Value {
        let mut caps = Map::new();
        if let Some(e) = &self.elicitation {
            let mut el = Map::new();
            el.insert("form".into(), json!({}));
            if e.supports_url() {
                el.insert("url".into(), json!({}));
            }
            caps.insert("elicitation".into(), Value::Object(el));
        }
        if self.sampling.is_some() {
            caps.insert("sampling".into(), json!({}));
        }
        if self.roots.is_some() {
            caps.insert("roots".into(), json!({"listChanged": false}));
        }
        Value::Object(caps)
    }
}

/// An [`ElicitationHandler`] that accepts every form with the defaults its
/// schema declares (`"default"` of each property), and declines URL
/// elicitations. Useful for unattended runs and tests; it never invents
/// values the schema does not provide.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptDefaults;

#[async_trait]
impl ElicitationHandler for AcceptDefaults {
    async fn elicit(&self, _server: &str, params: ElicitRequestParams) -> ElicitResult {
        match params {
            ElicitRequestParams::FormElicitationParams {
                requested_schema, ..
            } => {
                let schema = serde_json::to_value(&requested_schema).unwrap_or(Value::Null);
                ElicitResult::new(ElicitationAction::Accept).with_content(schema_defaults(&schema))
            }
            _ => ElicitResult::new(ElicitationAction::Decline),
        }
    }
}

/// The `default` of every property of an object schema.
pub(crate) fn schema_defaults(schema: &Value) -> Value {
    let mut out = Map::new();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, p) in props {
            if let Some(d) = p.get("default") {
                out.insert(k.clone(), d.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_from_schema() {
        let s = json!({"type":"object","properties":{
            "name":{"type":"string","default":"John Doe"},
            "age":{"type":"integer","default":30},
            "nick":{"type":"string"}
        }});
        assert_eq!(schema_defaults(&s), json!({"name":"John Doe","age":30}));
    }

    #[test]
    fn capabilities_follow_handlers() {
        let h = Handlers::default();
        assert_eq!(h.capabilities(), json!({}));
        let h = Handlers {
            elicitation: Some(Arc::new(AcceptDefaults)),
            roots: Some(Arc::new(vec![])),
            ..Handlers::default()
        };
        assert_eq!(
            h.capabilities(),
            json!({"elicitation":{"form":{}},"roots":{"listChanged":false}})
        );
    }
}
