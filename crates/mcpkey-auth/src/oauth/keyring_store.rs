//! [`KeyringStore`]: tokens and registrations in the operating system's
//! credential store (feature `keyring`): the macOS Keychain, the Windows
//! Credential Manager, or a Secret Service (GNOME Keyring, KWallet) on
//! Linux and the BSDs.
//!
//! Entries, all under one service name (`mcpkey` by default):
//!
//! ```text
//! user "tokens <resource>"       {"version": 1, "resource": ..., "records": [...]}
//! user "registration <issuer>"   {"version": 1, "issuer": ..., "registration": {...}}
//! user "index"                   {"version": 1, "resources": [...]}
//! ```
//!
//! The values are the JSON of [`FileStore`]'s files; the
//! index exists because credential stores cannot be listed portably.
//! Credential stores have no locks, so the cross-process locks are the lock
//! files of a private directory (no token data is written there).
//!
//! Limits: the Windows Credential Manager keeps at most 2560 bytes per
//! entry, which large JWT access tokens can exceed (storing then fails with
//! a clear error; use [`FileStore`] there). Every call to
//! the credential store runs on Tokio's blocking pool.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use keyring_core::{CredentialStore, Entry, Error as KeyringError};
use serde::{Deserialize, Serialize};

use super::file_store::{
    FORMAT_VERSION, FileStore, RegistrationFile, TOKENS_DIR, TokensFile, WRITE_LOCK, blocking,
    ensure_sub, fail, lock_file, newest_first, parse,
};
use super::store::{StoreLock, TokenStore};
use super::types::{Registration, TokenRecord};
use crate::AuthError;

/// The service name entries are stored under by default.
pub const DEFAULT_SERVICE: &str = "mcpkey";
const INDEX_USER: &str = "index";

/// A [`TokenStore`] in the operating system's credential store (see the
/// [module docs](self)).
pub struct KeyringStore {
    keyring: Keyring,
    /// Holds the lock files.
    files: Arc<FileStore>,
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &self.keyring.service)
            .field("lock_dir", &self.files.dir())
            .finish()
    }
}

impl KeyringStore {
    /// Entries under `service` in the platform's credential store (set up
    /// on first use), with lock files in `lock_dir` (created 0700).
    pub fn new(service: impl Into<String>, lock_dir: impl Into<PathBuf>) -> Self {
        Self::with_store(None, service.into(), lock_dir.into())
    }

    /// Entries under `service` in a given `keyring-core` credential store
    /// (a specific platform store, or `keyring_core::mock` in tests).
    pub fn in_store(
        store: Arc<CredentialStore>,
        service: impl Into<String>,
        lock_dir: impl Into<PathBuf>,
    ) -> Self {
        Self::with_store(Some(store), service.into(), lock_dir.into())
    }

    /// Entries under [`DEFAULT_SERVICE`] in the platform's credential store,
    /// with lock files in [`FileStore::default_location`].
    pub fn open_default() -> Result<Self, AuthError> {
        Ok(Self::new(DEFAULT_SERVICE, FileStore::default_location()?))
    }

    fn with_store(store: Option<Arc<CredentialStore>>, service: String, dir: PathBuf) -> Self {
        Self {
            keyring: Keyring {
                service: service.into(),
                store,
            },
            files: Arc::new(FileStore::new(dir)),
        }
    }

    /// Runs `f` on the blocking pool holding the write lock, so that
    /// read-modify-write of entries is not interleaved across processes.
    async fn write_locked<T, F>(&self, f: F) -> Result<T, AuthError>
    where
        T: Send + 'static,
        F: FnOnce(&Keyring) -> Result<T, AuthError> + Send + 'static,
    {
        let keyring = self.keyring.clone();
        let base = self.files.dir().to_owned();
        blocking(move || {
            let dir = ensure_sub(&base, TOKENS_DIR)?;
            let _write = lock_file(&dir.join(WRITE_LOCK))?;
            f(&keyring)
        })
        .await
    }
}

/// The index of resources with tokens.
#[derive(Serialize, Deserialize)]
struct Index {
    version: u32,
    #[serde(default)]
    resources: Vec<String>,
}

fn tokens_user(resource: &str) -> String {
    format!("tokens {resource}")
}

fn registration_user(issuer: &str) -> String {
    format!("registration {issuer}")
}

/// Names an entry in messages.
struct Label<'a> {
    service: &'a str,
    user: &'a str,
}

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the credential \"{}\" of service \"{}\"",
            self.user, self.service
        )
    }
}

/// Describes a keyring error without the stored bytes some variants carry.
fn describe(e: &KeyringError) -> String {
    match e {
        KeyringError::PlatformFailure(p) => format!("the credential store failed: {p}"),
        KeyringError::NoStorageAccess(p) => {
            format!("the credential store cannot be accessed (is it locked?): {p}")
        }
        KeyringError::NoEntry => "there is no such entry".to_owned(),
        KeyringError::BadEncoding(_) => "the stored value is not UTF-8".to_owned(),
        KeyringError::BadDataFormat(..) => "the stored value is malformed".to_owned(),
        KeyringError::BadStoreFormat(why) => format!("the credential store is malformed: {why}"),
        KeyringError::TooLong(what, limit) => {
            format!("{what} is longer than the credential store allows ({limit})")
        }
        KeyringError::Invalid(what, why) => format!("invalid {what}: {why}"),
        KeyringError::Ambiguous(v) => format!("{} credentials match", v.len()),
        KeyringError::NoDefaultStore => "no credential store is set up".to_owned(),
        KeyringError::NotSupportedByStore(why) => {
            format!("the credential store does not support this: {why}")
        }
        _ => "the credential store failed".to_owned(),
    }
}

/// The platform's credential store, set up on first use.
fn platform_store() -> Result<Arc<CredentialStore>, AuthError> {
    let unavailable = |why: String| {
        fail(format!(
            "the system credential store is not available ({why}); on Linux a Secret \
             Service (GNOME Keyring, KWallet) must be running. Use the file store instead"
        ))
    };
    if let Err(e) = keyring::Entry::store_status() {
        return Err(unavailable(describe(e)));
    }
    keyring_core::get_default_store()
        .ok_or_else(|| unavailable(describe(&KeyringError::NoDefaultStore)))
}

/// The blocking side: entries of one service in one store.
#[derive(Clone)]
struct Keyring {
    service: Arc<str>,
    /// `None`: the platform's.
    store: Option<Arc<CredentialStore>>,
}

impl Keyring {
    fn label<'a>(&'a self, user: &'a str) -> Label<'a> {
        Label {
            service: &self.service,
            user,
        }
    }

    fn error(&self, action: &str, user: &str, e: &KeyringError) -> AuthError {
        fail(format!(
            "could not {action} {}: {}",
            self.label(user),
            describe(e)
        ))
    }

    fn entry(&self, user: &str) -> Result<Entry, AuthError> {
        let store = match &self.store {
            Some(s) => Arc::clone(s),
            None => platform_store()?,
        };
        Entry::new_in_store(&store, &self.service, user).map_err(|e| self.error("open", user, &e))
    }

    fn get(&self, user: &str) -> Result<Option<String>, AuthError> {
        match self.entry(user)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(self.error("read", user, &e)),
        }
    }

    fn set(&self, user: &str, value: &str) -> Result<(), AuthError> {
        self.entry(user)?
            .set_password(value)
            .map_err(|e| self.error("store", user, &e))
    }

    fn delete(&self, user: &str) -> Result<(), AuthError> {
        match self.entry(user)?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(self.error("delete", user, &e)),
        }
    }

    fn tokens(&self, resource: &str) -> Result<Vec<TokenRecord>, AuthError> {
        let user = tokens_user(resource);
        let Some(value) = self.get(&user)? else {
            return Ok(Vec::new());
        };
        let mut data: TokensFile = parse(&self.label(&user), value.as_bytes())?;
        if data.resource != resource {
            return Err(fail(format!(
                "{} holds the tokens of another resource; remove it and sign in again",
                self.label(&user)
            )));
        }
        newest_first(&mut data.records);
        Ok(data.records)
    }

    fn index(&self) -> Result<Vec<String>, AuthError> {
        let Some(value) = self.get(INDEX_USER)? else {
            return Ok(Vec::new());
        };
        match parse::<Index>(&self.label(INDEX_USER), value.as_bytes()) {
            Ok(index) => Ok(index.resources),
            Err(e) => {
                // Only names are lost: tokens stay readable by resource, and
                // the next writes rebuild the list.
                tracing::warn!(error = %e, "starting a new index of resources with tokens");
                Ok(Vec::new())
            }
        }
    }

    fn update_index(&self, edit: impl FnOnce(&mut Vec<String>) -> bool) -> Result<(), AuthError> {
        let mut resources = self.index()?;
        if !edit(&mut resources) {
            return Ok(());
        }
        resources.sort();
        resources.dedup();
        let value = serde_json::to_string(&Index {
            version: FORMAT_VERSION,
            resources,
        })
        .map_err(|_| fail("could not serialize the index of resources".to_owned()))?;
        self.set(INDEX_USER, &value)
    }

    fn put_tokens(&self, resource: String, record: TokenRecord) -> Result<(), AuthError> {
        let mut records = self.tokens(&resource)?;
        records.retain(|r| !(r.issuer == record.issuer && r.client_id == record.client_id));
        records.insert(0, record);
        newest_first(&mut records);
        let value = serde_json::to_string(&TokensFile {
            version: FORMAT_VERSION,
            resource: resource.clone(),
            records,
        })
        .map_err(|_| fail("could not serialize the token records".to_owned()))?;
        self.set(&tokens_user(&resource), &value)?;
        self.update_index(|list| {
            let missing = !list.contains(&resource);
            if missing {
                list.push(resource);
            }
            missing
        })
    }

    fn remove_tokens(&self, resource: &str) -> Result<(), AuthError> {
        self.delete(&tokens_user(resource))?;
        self.update_index(|list| {
            let before = list.len();
            list.retain(|r| r != resource);
            list.len() != before
        })
    }

    fn list(&self) -> Result<Vec<(String, Vec<TokenRecord>)>, AuthError> {
        let mut out = Vec::new();
        for resource in self.index()? {
            match self.tokens(&resource) {
                Ok(records) if records.is_empty() => {}
                Ok(records) => out.push((resource, records)),
                Err(e) => tracing::warn!(
                    entry = %self.label(&tokens_user(&resource)),
                    error = %e,
                    "skipping tokens that cannot be read"
                ),
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn registration(&self, issuer: &str) -> Result<Option<Registration>, AuthError> {
        let user = registration_user(issuer);
        let Some(value) = self.get(&user)? else {
            return Ok(None);
        };
        let data: RegistrationFile = parse(&self.label(&user), value.as_bytes())?;
        if data.issuer != issuer || data.registration.issuer != issuer {
            return Err(fail(format!(
                "{} holds the registration of another issuer; remove it to register again",
                self.label(&user)
            )));
        }
        Ok(Some(data.registration))
    }

    fn put_registration(&self, registration: Registration) -> Result<(), AuthError> {
        let user = registration_user(&registration.issuer);
        let value = serde_json::to_string(&RegistrationFile {
            version: FORMAT_VERSION,
            issuer: registration.issuer.clone(),
            registration,
        })
        .map_err(|_| fail("could not serialize the client registration".to_owned()))?;
        self.set(&user, &value)
    }
}

#[async_trait]
impl TokenStore for KeyringStore {
    async fn tokens(&self, resource: &str) -> Result<Vec<TokenRecord>, AuthError> {
        let keyring = self.keyring.clone();
        let resource = resource.to_owned();
        blocking(move || keyring.tokens(&resource)).await
    }

    async fn put_tokens(&self, resource: &str, record: TokenRecord) -> Result<(), AuthError> {
        let resource = resource.to_owned();
        self.write_locked(move |k| k.put_tokens(resource, record))
            .await
    }

    async fn remove_tokens(&self, resource: &str) -> Result<(), AuthError> {
        let resource = resource.to_owned();
        self.write_locked(move |k| k.remove_tokens(&resource)).await
    }

    async fn list(&self) -> Result<Vec<(String, Vec<TokenRecord>)>, AuthError> {
        let keyring = self.keyring.clone();
        blocking(move || keyring.list()).await
    }

    async fn registration(&self, issuer: &str) -> Result<Option<Registration>, AuthError> {
        let keyring = self.keyring.clone();
        let issuer = issuer.to_owned();
        blocking(move || keyring.registration(&issuer)).await
    }

    async fn put_registration(&self, registration: Registration) -> Result<(), AuthError> {
        let keyring = self.keyring.clone();
        blocking(move || keyring.put_registration(registration)).await
    }

    async fn remove_registration(&self, issuer: &str) -> Result<(), AuthError> {
        let keyring = self.keyring.clone();
        let user = registration_user(issuer);
        blocking(move || keyring.delete(&user)).await
    }

    async fn lock(&self, resource: &str) -> Result<StoreLock, AuthError> {
        self.files.lock(resource).await
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::oauth::types::TokenSet;
    use crate::secret::{ExposeSecret, SecretString};

    const RESOURCE: &str = "https://mcp.example.com/mcp";

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let path = std::env::temp_dir()
                .join(format!("mcpkey-keyring-store-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn mock() -> Arc<CredentialStore> {
        keyring_core::mock::Store::new().unwrap()
    }

    fn record(issuer: &str, client: &str, access: &str, updated_at: u64) -> TokenRecord {
        let mut tokens = TokenSet::bearer(SecretString::from(access));
        tokens.refresh_token = Some(SecretString::from(format!("rt-{access}")));
        let mut r = TokenRecord::new(issuer, client, tokens);
        r.updated_at = updated_at;
        r
    }

    fn access(r: &TokenRecord) -> &str {
        r.tokens.access_token.expose_secret()
    }

    fn set_raw(store: &Arc<CredentialStore>, user: &str, value: &str) {
        Entry::new_in_store(store, "mcpkey-test", user)
            .unwrap()
            .set_password(value)
            .unwrap();
    }

    #[tokio::test]
    async fn round_trip_replace_order_list_remove() {
        let tmp = TempDir::new("roundtrip");
        let backend = mock();
        let store = KeyringStore::in_store(backend.clone(), "mcpkey-test", &tmp.0);

        assert!(store.tokens(RESOURCE).await.unwrap().is_empty());
        assert!(store.list().await.unwrap().is_empty());
        assert!(store.registration("https://as").await.unwrap().is_none());
        store.remove_registration("https://as").await.unwrap();

        store
            .put_tokens(RESOURCE, record("https://as-a", "c", "at-1", 100))
            .await
            .unwrap();
        store
            .put_tokens(RESOURCE, record("https://as-b", "c", "at-2", 200))
            .await
            .unwrap();
        store
            .put_tokens(RESOURCE, record("https://as-a", "c", "at-3", 300))
            .await
            .unwrap();
        let got = store.tokens(RESOURCE).await.unwrap();
        assert_eq!(got.iter().map(access).collect::<Vec<_>>(), ["at-3", "at-2"]);
        assert_eq!(
            got[0]
                .tokens
                .refresh_token
                .as_ref()
                .unwrap()
                .expose_secret(),
            "rt-at-3"
        );

        let other = "https://other.example/mcp";
        store
            .put_tokens(other, record("https://as-a", "c", "at-4", 1))
            .await
            .unwrap();
        let list = store.list().await.unwrap();
        assert_eq!(
            list.iter()
                .map(|(r, v)| (r.as_str(), v.len()))
                .collect::<Vec<_>>(),
            [(RESOURCE, 2), (other, 1)]
        );

        // The stored value is the versioned file format.
        let raw = Entry::new_in_store(&backend, "mcpkey-test", &tokens_user(RESOURCE))
            .unwrap()
            .get_password()
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["resource"], RESOURCE);

        store.remove_tokens(RESOURCE).await.unwrap();
        assert!(store.tokens(RESOURCE).await.unwrap().is_empty());
        let list = store.list().await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].0, other);

        let mut reg = Registration::public("https://as-a", "client-1");
        reg.client_secret = Some(SecretString::from("cs-1"));
        store.put_registration(reg).await.unwrap();
        let got = store.registration("https://as-a").await.unwrap().unwrap();
        assert_eq!(got.client_secret.unwrap().expose_secret(), "cs-1");
        store
            .put_registration(Registration::public("https://as-a", "client-2"))
            .await
            .unwrap();
        let got = store.registration("https://as-a").await.unwrap().unwrap();
        assert_eq!(got.client_id, "client-2");
        store.remove_registration("https://as-a").await.unwrap();
        assert!(store.registration("https://as-a").await.unwrap().is_none());

        // No token data in the lock directory.
        for e in std::fs::read_dir(tmp.0.join(TOKENS_DIR)).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(name.ends_with(".lock"), "{name}");
        }
    }

    #[tokio::test]
    async fn corrupt_entries_are_reported_without_contents() {
        let tmp = TempDir::new("corrupt");
        let backend = mock();
        let store = KeyringStore::in_store(backend.clone(), "mcpkey-test", &tmp.0);
        store
            .put_tokens("https://ok.example", record("https://as", "c", "at", 1))
            .await
            .unwrap();
        store
            .put_tokens(RESOURCE, record("https://as", "c", "at", 1))
            .await
            .unwrap();
        set_raw(
            &backend,
            &tokens_user(RESOURCE),
            r#"{"version": 1, "resource": "x", "records": "sekrit-value"}"#,
        );
        let e = store.tokens(RESOURCE).await.unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(
            shown.contains("tokens https://mcp.example.com/mcp"),
            "{shown}"
        );
        assert!(!shown.contains("sekrit"), "{shown}");
        let list = store.list().await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].0, "https://ok.example");

        // A corrupt index is rebuilt by the next write.
        set_raw(&backend, INDEX_USER, "not json");
        assert!(store.list().await.unwrap().is_empty());
        store
            .put_tokens("https://ok.example", record("https://as", "c", "at", 2))
            .await
            .unwrap();
        assert_eq!(store.list().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn lock_is_exclusive_and_per_resource() {
        let tmp = TempDir::new("lock");
        let store = KeyringStore::in_store(mock(), "mcpkey-test", &tmp.0);
        let held = store.lock(RESOURCE).await.unwrap();
        let other = tokio::time::timeout(Duration::from_secs(5), store.lock("https://other"))
            .await
            .expect("another resource's lock must not wait")
            .unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(100), store.lock(RESOURCE))
                .await
                .is_err(),
            "the same resource's lock must wait"
        );
        drop((held, other));
        store.lock(RESOURCE).await.unwrap();
        assert!(Path::new(&tmp.0).join(TOKENS_DIR).is_dir());
    }
}

#[cfg(test)]
mod platform_tests {
    use super::*;

    /// Touches the real credential store (may prompt to unlock it), so only
    /// on request: `cargo test -p mcpkey-auth --features keyring -- --ignored
    /// platform`. Either it works, or the error explains what is missing.
    #[tokio::test]
    #[ignore]
    async fn platform_store_works_or_explains() {
        let dir =
            std::env::temp_dir().join(format!("mcpkey-keyring-platform-{}", std::process::id()));
        let store = KeyringStore::new("mcpkey-test", &dir);
        let resource = format!("https://mcpkey.invalid/test-{}", std::process::id());
        match store.tokens(&resource).await {
            Ok(records) => assert!(records.is_empty()),
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("credential store"), "{e}");
                eprintln!("{e}");
                let _ = std::fs::remove_dir_all(&dir);
                return;
            }
        }
        let tokens = crate::oauth::types::TokenSet::bearer("at-platform".into());
        store
            .put_tokens(&resource, TokenRecord::new("https://as", "c", tokens))
            .await
            .unwrap();
        let got = store.tokens(&resource).await.unwrap();
        use crate::secret::ExposeSecret as _;
        assert_eq!(got[0].tokens.access_token.expose_secret(), "at-platform");
        assert!(
            store
                .list()
                .await
                .unwrap()
                .iter()
                .any(|(r, _)| *r == resource)
        );
        store.remove_tokens(&resource).await.unwrap();
        assert!(store.tokens(&resource).await.unwrap().is_empty());
        eprintln!("round trip through the platform credential store: ok");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
