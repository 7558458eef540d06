//! Where tokens and client registrations live between runs.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use super::types::{Registration, TokenRecord};
use crate::AuthError;

/// Held while refreshing a resource's tokens; released on drop. File stores
/// hold an exclusive lock across processes, so two processes never refresh
/// the same token (and lose a rotated refresh token) at once.
pub struct StoreLock {
    _guard: Box<dyn Send>,
}

impl StoreLock {
    /// Wraps whatever keeps the lock held.
    pub fn new(guard: impl Send + 'static) -> Self {
        Self {
            _guard: Box::new(guard),
        }
    }
}

impl fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreLock")
    }
}

/// Persistence for OAuth tokens (keyed by protected resource, issuer and
/// client id) and client registrations (keyed by issuer).
///
/// Tokens never go into the user's MCP config.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// Token records for `resource`, most recently updated first.
    async fn tokens(&self, resource: &str) -> Result<Vec<TokenRecord>, AuthError>;

    /// Stores a record, replacing the one with the same issuer and client id.
    async fn put_tokens(&self, resource: &str, record: TokenRecord) -> Result<(), AuthError>;

    /// Forgets every token of `resource` (logout).
    async fn remove_tokens(&self, resource: &str) -> Result<(), AuthError>;

    /// Every resource with tokens, with its records (for `auth status`).
    async fn list(&self) -> Result<Vec<(String, Vec<TokenRecord>)>, AuthError>;

    /// The client registration kept for `issuer`.
    async fn registration(&self, issuer: &str) -> Result<Option<Registration>, AuthError>;

    /// Keeps a client registration (replacing any for the same issuer).
    async fn put_registration(&self, registration: Registration) -> Result<(), AuthError>;

    /// Forgets the registration for `issuer`.
    async fn remove_registration(&self, issuer: &str) -> Result<(), AuthError>;

    /// An exclusive lock on `resource`'s tokens (across processes for
    /// persistent stores), held while refreshing.
    async fn lock(&self, resource: &str) -> Result<StoreLock, AuthError>;
}

/// A store in memory, for tests and for clients that must not persist.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tokens: std::sync::Mutex<HashMap<String, Vec<TokenRecord>>>,
    registrations: std::sync::Mutex<HashMap<String, Registration>>,
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn guard<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn tokens(&self, resource: &str) -> Result<Vec<TokenRecord>, AuthError> {
        let mut v = guard(&self.tokens)
            .get(resource)
            .cloned()
            .unwrap_or_default();
        v.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
        Ok(v)
    }

    async fn put_tokens(&self, resource: &str, record: TokenRecord) -> Result<(), AuthError> {
        let mut map = guard(&self.tokens);
        let list = map.entry(resource.to_owned()).or_default();
        list.retain(|r| !(r.issuer == record.issuer && r.client_id == record.client_id));
        list.push(record);
        Ok(())
    }

    async fn remove_tokens(&self, resource: &str) -> Result<(), AuthError> {
        guard(&self.tokens).remove(resource);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<(String, Vec<TokenRecord>)>, AuthError> {
        let mut v: Vec<_> = guard(&self.tokens)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(v)
    }

    async fn registration(&self, issuer: &str) -> Result<Option<Registration>, AuthError> {
        Ok(guard(&self.registrations).get(issuer).cloned())
    }

    async fn put_registration(&self, registration: Registration) -> Result<(), AuthError> {
        guard(&self.registrations).insert(registration.issuer.clone(), registration);
        Ok(())
    }

    async fn remove_registration(&self, issuer: &str) -> Result<(), AuthError> {
        guard(&self.registrations).remove(issuer);
        Ok(())
    }

    async fn lock(&self, resource: &str) -> Result<StoreLock, AuthError> {
        let m = Arc::clone(guard(&self.locks).entry(resource.to_owned()).or_default());
        Ok(StoreLock::new(m.lock_owned().await))
    }
}
