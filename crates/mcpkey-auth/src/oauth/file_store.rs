//! [`FileStore`]: tokens and client registrations in private files.
//!
//! Layout under the store's directory (by default `$MCPKEY_HOME`, else the
//! platform data directory's `mcpkey`, e.g. `~/.local/share/mcpkey`):
//!
//! ```text
//! tokens/<name>.json         one protected resource and its token records
//! tokens/<name>.lock         held while that resource's tokens are refreshed
//! tokens/.write.lock         held for a moment while a tokens file is rewritten
//! registrations/<name>.json  one authorization server's client registration
//! ```
//!
//! `<name>` is the first 32 hex digits of the SHA-256 of the key (the
//! resource URI or the issuer), so any key gives a safe file name; the key
//! itself is kept inside the file and checked on every read. The files are
//! JSON, independent of mcpkey's version:
//!
//! ```json
//! {"version": 1, "resource": "https://mcp.example.com/mcp", "records": [...]}
//! {"version": 1, "issuer": "https://auth.example.com", "registration": {...}}
//! ```
//!
//! Unknown fields are ignored, so later versions may add some; a file with
//! another `version` is refused, never overwritten.
//!
//! On Unix, directories are created 0700 and files 0600, and a file or
//! directory that other users can access, or a symbolic link in place of
//! one, is refused with a message saying how to fix it.
//!
//! Every write goes to a new temporary file in the same directory, is synced
//! to disk, renamed over the target, and the directory is synced: a crash
//! leaves either the old or the new file, never a part of one. A tokens file
//! is read, changed and rewritten under `tokens/.write.lock`, so two
//! processes storing tokens for the same resource do not lose each other's
//! records. All file work runs on Tokio's blocking pool.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::store::{StoreLock, TokenStore};
use super::types::{Registration, TokenRecord};
use crate::AuthError;

pub(super) const SCHEME: &str = "oauth";
/// The on-disk format's version.
pub(super) const FORMAT_VERSION: u32 = 1;
/// Larger files are refused rather than read into memory.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
pub(super) const TOKENS_DIR: &str = "tokens";
const REGISTRATIONS_DIR: &str = "registrations";
pub(super) const WRITE_LOCK: &str = ".write.lock";
/// The environment variable naming the store's directory.
const HOME_ENV: &str = "MCPKEY_HOME";

/// A [`TokenStore`] in files under one private directory, shared safely by
/// concurrent processes (see the [module docs](self) for the layout).
pub struct FileStore {
    dir: PathBuf,
    /// In-process queues in front of the cross-process lock files.
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore").field("dir", &self.dir).finish()
    }
}

impl FileStore {
    /// A store in `dir`. Nothing is touched until the first use; the
    /// directory is created (0700) on the first write.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            locks: std::sync::Mutex::default(),
        }
    }

    /// A store in [`FileStore::default_location`].
    pub fn open_default() -> Result<Self, AuthError> {
        Ok(Self::new(Self::default_location()?))
    }

    /// Where tokens live by default: `$MCPKEY_HOME` if set and not empty,
    /// else the platform data directory's `mcpkey` (`~/.local/share/mcpkey`
    /// on Linux).
    pub fn default_location() -> Result<PathBuf, AuthError> {
        location_from(std::env::var_os(HOME_ENV), dirs::data_dir())
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn local_lock(&self, resource: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry(resource.to_owned()).or_default())
    }
}

fn location_from(home: Option<OsString>, data_dir: Option<PathBuf>) -> Result<PathBuf, AuthError> {
    if let Some(home) = home.filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    data_dir.map(|d| d.join("mcpkey")).ok_or_else(|| {
        AuthError::prepare(
            SCHEME,
            format!(
                "there is no place to keep OAuth tokens: {HOME_ENV} is not set and this \
                 system has no user data directory (is HOME set?). Set {HOME_ENV} to a \
                 private directory"
            ),
        )
    })
}

/// The file name (without extension) for a resource or issuer.
fn file_stem(key: &str) -> String {
    let mut name = hex::encode(Sha256::digest(key.as_bytes()));
    name.truncate(32);
    name
}

fn tokens_path(tokens_dir: &Path, resource: &str) -> PathBuf {
    tokens_dir.join(format!("{}.json", file_stem(resource)))
}

/// A tokens file.
#[derive(Serialize, Deserialize)]
pub(super) struct TokensFile {
    pub(super) version: u32,
    pub(super) resource: String,
    #[serde(default)]
    pub(super) records: Vec<TokenRecord>,
}

/// A registrations file.
#[derive(Serialize, Deserialize)]
pub(super) struct RegistrationFile {
    pub(super) version: u32,
    pub(super) issuer: String,
    pub(super) registration: Registration,
}

/// What is read before the rest, to refuse other versions clearly.
#[derive(Deserialize)]
struct Header {
    version: u32,
}

pub(super) fn fail(reason: String) -> AuthError {
    AuthError::prepare(SCHEME, reason)
}

fn io_error(action: &str, path: &Path, e: &io::Error) -> AuthError {
    fail(format!("could not {action} {}: {e}", path.display()))
}

fn symlink_refused(path: &Path) -> AuthError {
    fail(format!(
        "{} is a symbolic link; mcpkey does not follow links where it keeps OAuth \
         tokens. Replace it with the real file or directory (or remove it: rm {})",
        path.display(),
        path.display()
    ))
}

/// Describes a parse failure of `what` (a file, a keyring entry) by
/// position only: serde's messages can quote the contents, which are secrets.
fn corrupt(what: &dyn fmt::Display, e: &serde_json::Error) -> AuthError {
    use serde_json::error::Category;
    let problem = match e.classify() {
        Category::Io => "could not be read",
        Category::Syntax => "is not valid JSON",
        Category::Data => "does not hold the expected fields",
        Category::Eof => "ends too early (truncated)",
    };
    fail(format!(
        "{what} {problem} (line {}, column {}); fix it, or remove it and sign in again",
        e.line(),
        e.column()
    ))
}

/// Parses stored data of format version 1; `what` names it in errors.
pub(super) fn parse<T: DeserializeOwned>(
    what: &dyn fmt::Display,
    bytes: &[u8],
) -> Result<T, AuthError> {
    let header: Header = serde_json::from_slice(bytes).map_err(|e| corrupt(what, &e))?;
    if header.version != FORMAT_VERSION {
        return Err(fail(format!(
            "{what} has format version {}, but this mcpkey understands version \
             {FORMAT_VERSION} only (a newer mcpkey wrote it?). Upgrade mcpkey, or remove it \
             and sign in again",
            header.version
        )));
    }
    serde_json::from_slice(bytes).map_err(|e| corrupt(what, &e))
}

/// Refuses what other users can access (Unix).
fn check_private(meta: &Metadata, path: &Path, is_dir: bool) -> Result<(), AuthError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            let (kind, want) = if is_dir {
                ("directory", "700")
            } else {
                ("file", "600")
            };
            return Err(fail(format!(
                "the {kind} {} is accessible by other users (mode {mode:03o}); it holds OAuth \
                 credentials, so mcpkey will not use it until you run: chmod {want} {}",
                path.display(),
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = (meta, path, is_dir);
    Ok(())
}

fn private_dir_builder() -> fs::DirBuilder {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b
}

fn private_file_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    o
}

/// Checks that `dir` is a private directory, creating it (0700) if `create`.
/// `Ok(false)`: it does not exist (and `create` was not asked). The store's
/// own directory may be reached through a link (`follow`); its
/// subdirectories may not.
fn private_dir(dir: &Path, create: bool, follow: bool) -> Result<bool, AuthError> {
    let stat = |p: &Path| {
        if follow {
            fs::metadata(p)
        } else {
            fs::symlink_metadata(p)
        }
    };
    let meta = match stat(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if !create {
                return Ok(false);
            }
            private_dir_builder()
                .create(dir)
                .map_err(|e| io_error("create the directory", dir, &e))?;
            stat(dir).map_err(|e| io_error("inspect", dir, &e))?
        }
        Err(e) => return Err(io_error("inspect", dir, &e)),
    };
    if meta.file_type().is_symlink() {
        return Err(symlink_refused(dir));
    }
    if !meta.is_dir() {
        return Err(fail(format!("{} is not a directory", dir.display())));
    }
    check_private(&meta, dir, true)?;
    Ok(true)
}

/// `base/sub` if it exists (and it and `base` are private).
fn existing_sub(base: &Path, sub: &str) -> Result<Option<PathBuf>, AuthError> {
    if !private_dir(base, false, true)? {
        return Ok(None);
    }
    let dir = base.join(sub);
    Ok(private_dir(&dir, false, false)?.then_some(dir))
}

/// `base/sub`, created if missing.
pub(super) fn ensure_sub(base: &Path, sub: &str) -> Result<PathBuf, AuthError> {
    private_dir(base, true, true)?;
    let dir = base.join(sub);
    private_dir(&dir, true, false)?;
    Ok(dir)
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &Metadata, _: &Metadata) -> bool {
    true
}

/// Reads a private regular file; `Ok(None)` if there is none. Refuses links
/// and files other users can access.
fn read_private(path: &Path) -> Result<Option<Vec<u8>>, AuthError> {
    // Another process may rename a new version into place between the checks
    // and the open: look again then.
    for _ in 0..5 {
        let before = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("inspect", path, &e)),
        };
        if before.file_type().is_symlink() {
            return Err(symlink_refused(path));
        }
        if !before.is_file() {
            return Err(fail(format!("{} is not a regular file", path.display())));
        }
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("open", path, &e)),
        };
        let meta = file.metadata().map_err(|e| io_error("inspect", path, &e))?;
        if !same_file(&before, &meta) {
            continue;
        }
        check_private(&meta, path, false)?;
        let too_big = || {
            fail(format!(
                "{} is larger than {MAX_FILE_BYTES} bytes; it is not an mcpkey file",
                path.display()
            ))
        };
        if meta.len() > MAX_FILE_BYTES {
            return Err(too_big());
        }
        let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        (&mut file)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| io_error("read", path, &e))?;
        if buf.len() as u64 > MAX_FILE_BYTES {
            return Err(too_big());
        }
        return Ok(Some(buf));
    }
    Err(fail(format!(
        "{} kept changing while mcpkey read it; try again",
        path.display()
    )))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) -> io::Result<()> {
    Ok(())
}

/// Syncs a directory after a rename or removal. The change itself is
/// complete either way, so a failure (some file systems cannot sync
/// directories) is only reported.
fn sync_dir_or_warn(dir: &Path) {
    if let Err(e) = sync_dir(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not sync the token directory to disk");
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The prefix of `target`'s temporary files (hidden, so never listed).
fn temp_prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.")
}

/// Replaces `target` (in `dir`) with `bytes` atomically: a new private
/// temporary file, synced, renamed over the target; then the directory is
/// synced.
fn write_atomic(dir: &Path, target: &Path, bytes: &[u8]) -> Result<(), AuthError> {
    let prefix = temp_prefix(target);
    let mut attempts = 0;
    let (temp, file) = loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!("{prefix}{}.{n}.tmp", std::process::id()));
        match private_file_options()
            .write(true)
            .create_new(true)
            .open(&temp)
        {
            Ok(f) => break (temp, f),
            // Left by a crashed process that had our pid: take another name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => {
                attempts += 1;
            }
            Err(e) => return Err(io_error("create", &temp, &e)),
        }
    };
    if let Err(e) = write_sync_rename(file, &temp, target, bytes) {
        let _ = fs::remove_file(&temp);
        return Err(io_error("write", target, &e));
    }
    sync_dir_or_warn(dir);
    Ok(())
}

fn write_sync_rename(mut file: File, temp: &Path, target: &Path, bytes: &[u8]) -> io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(temp, target)
}

/// Removes temporary files of `target` left by crashed writers. Only called
/// under the write lock, when no other writer of that file can be running.
fn remove_stale_temps(dir: &Path, target: &Path) {
    let prefix = temp_prefix(target);
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Opens (creating, 0600) and exclusively locks a lock file, waiting for
/// other holders. The lock is released when the file is closed.
pub(super) fn lock_file(path: &Path) -> Result<File, AuthError> {
    if let Ok(m) = fs::symlink_metadata(path)
        && m.file_type().is_symlink()
    {
        return Err(symlink_refused(path));
    }
    let file = private_file_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| io_error("open the lock file", path, &e))?;
    file.lock().map_err(|e| io_error("lock", path, &e))?;
    Ok(file)
}

pub(super) fn newest_first(records: &mut [TokenRecord]) {
    records.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
}

/// Reads a tokens file: `Ok(None)` if there is none.
fn read_tokens_file(path: &Path) -> Result<Option<TokensFile>, AuthError> {
    let Some(bytes) = read_private(path)? else {
        return Ok(None);
    };
    let mut file: TokensFile = parse(&path.display(), &bytes)?;
    newest_first(&mut file.records);
    Ok(Some(file))
}

/// The records of `resource` in `tokens_dir`.
fn read_tokens(tokens_dir: &Path, resource: &str) -> Result<Vec<TokenRecord>, AuthError> {
    let path = tokens_path(tokens_dir, resource);
    let Some(file) = read_tokens_file(&path)? else {
        return Ok(Vec::new());
    };
    if file.resource != resource {
        return Err(fail(format!(
            "{} holds the tokens of another resource (its name does not match its \
             contents); remove it and sign in again",
            path.display()
        )));
    }
    Ok(file.records)
}

fn put_tokens_blocking(
    base: &Path,
    resource: String,
    record: TokenRecord,
) -> Result<(), AuthError> {
    let dir = ensure_sub(base, TOKENS_DIR)?;
    let _write = lock_file(&dir.join(WRITE_LOCK))?;
    let path = tokens_path(&dir, &resource);
    remove_stale_temps(&dir, &path);
    let mut records = read_tokens(&dir, &resource)?;
    records.retain(|r| !(r.issuer == record.issuer && r.client_id == record.client_id));
    // First, so that among equal timestamps the latest write wins.
    records.insert(0, record);
    newest_first(&mut records);
    let file = TokensFile {
        version: FORMAT_VERSION,
        resource,
        records,
    };
    let bytes = serde_json::to_vec_pretty(&file)
        .map_err(|_| fail("could not serialize the token records".to_owned()))?;
    write_atomic(&dir, &path, &bytes)
}

fn remove_file_in(dir: &Path, path: &Path) -> Result<(), AuthError> {
    match fs::remove_file(path) {
        Ok(()) => {
            sync_dir_or_warn(dir);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("remove", path, &e)),
    }
}

fn list_blocking(base: &Path) -> Result<Vec<(String, Vec<TokenRecord>)>, AuthError> {
    let Some(dir) = existing_sub(base, TOKENS_DIR)? else {
        return Ok(Vec::new());
    };
    let entries = fs::read_dir(&dir).map_err(|e| io_error("list", &dir, &e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error("list", &dir, &e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.ends_with(".json") {
            continue;
        }
        let path = entry.path();
        match read_tokens_file(&path) {
            Ok(Some(file)) if tokens_path(&dir, &file.resource) == path => {
                out.push((file.resource, file.records));
            }
            Ok(Some(_)) => tracing::warn!(
                file = %path.display(),
                "skipping a token file whose name does not match its resource"
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!(
                file = %path.display(),
                error = %e,
                "skipping a token file that cannot be read"
            ),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn registration_blocking(base: &Path, issuer: &str) -> Result<Option<Registration>, AuthError> {
    let Some(dir) = existing_sub(base, REGISTRATIONS_DIR)? else {
        return Ok(None);
    };
    let path = dir.join(format!("{}.json", file_stem(issuer)));
    let Some(bytes) = read_private(&path)? else {
        return Ok(None);
    };
    let file: RegistrationFile = parse(&path.display(), &bytes)?;
    if file.issuer != issuer || file.registration.issuer != issuer {
        return Err(fail(format!(
            "{} holds the registration of another issuer (its name does not match its \
             contents); remove it to register again",
            path.display()
        )));
    }
    Ok(Some(file.registration))
}

fn put_registration_blocking(base: &Path, registration: Registration) -> Result<(), AuthError> {
    let dir = ensure_sub(base, REGISTRATIONS_DIR)?;
    let path = dir.join(format!("{}.json", file_stem(&registration.issuer)));
    let file = RegistrationFile {
        version: FORMAT_VERSION,
        issuer: registration.issuer.clone(),
        registration,
    };
    let bytes = serde_json::to_vec_pretty(&file)
        .map_err(|_| fail("could not serialize the client registration".to_owned()))?;
    write_atomic(&dir, &path, &bytes)
}

/// Runs file (or keyring) work on the blocking pool.
pub(super) async fn blocking<T, F>(f: F) -> Result<T, AuthError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, AuthError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AuthError::Prepare {
            scheme: SCHEME.to_owned(),
            reason: "the token store's background task failed".to_owned(),
            source: Some(Box::new(e)),
        })?
}

#[async_trait]
impl TokenStore for FileStore {
    async fn tokens(&self, resource: &str) -> Result<Vec<TokenRecord>, AuthError> {
        let base = self.dir.clone();
        let resource = resource.to_owned();
        blocking(move || match existing_sub(&base, TOKENS_DIR)? {
            Some(dir) => read_tokens(&dir, &resource),
            None => Ok(Vec::new()),
        })
        .await
    }

    async fn put_tokens(&self, resource: &str, record: TokenRecord) -> Result<(), AuthError> {
        let base = self.dir.clone();
        let resource = resource.to_owned();
        blocking(move || put_tokens_blocking(&base, resource, record)).await
    }

    async fn remove_tokens(&self, resource: &str) -> Result<(), AuthError> {
        let base = self.dir.clone();
        let resource = resource.to_owned();
        blocking(move || {
            let Some(dir) = existing_sub(&base, TOKENS_DIR)? else {
                return Ok(());
            };
            let _write = lock_file(&dir.join(WRITE_LOCK))?;
            remove_file_in(&dir, &tokens_path(&dir, &resource))
        })
        .await
    }

    async fn list(&self) -> Result<Vec<(String, Vec<TokenRecord>)>, AuthError> {
        let base = self.dir.clone();
        blocking(move || list_blocking(&base)).await
    }

    async fn registration(&self, issuer: &str) -> Result<Option<Registration>, AuthError> {
        let base = self.dir.clone();
        let issuer = issuer.to_owned();
        blocking(move || registration_blocking(&base, &issuer)).await
    }

    async fn put_registration(&self, registration: Registration) -> Result<(), AuthError> {
        let base = self.dir.clone();
        blocking(move || put_registration_blocking(&base, registration)).await
    }

    async fn remove_registration(&self, issuer: &str) -> Result<(), AuthError> {
        let base = self.dir.clone();
        let issuer = issuer.to_owned();
        blocking(move || {
            let Some(dir) = existing_sub(&base, REGISTRATIONS_DIR)? else {
                return Ok(());
            };
            let path = dir.join(format!("{}.json", file_stem(&issuer)));
            remove_file_in(&dir, &path)
        })
        .await
    }

    async fn lock(&self, resource: &str) -> Result<StoreLock, AuthError> {
        // Tasks of this process queue in order on the mutex; only its holder
        // waits for the lock file (which other processes may hold).
        let local = self.local_lock(resource).lock_owned().await;
        let base = self.dir.clone();
        let stem = file_stem(resource);
        let file = blocking(move || {
            let dir = ensure_sub(&base, TOKENS_DIR)?;
            lock_file(&dir.join(format!("{stem}.lock")))
        })
        .await?;
        // Dropped in order: the file (releasing the other processes), then
        // the mutex (releasing this process's next task).
        Ok(StoreLock::new((file, local)))
    }
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::oauth::types::TokenSet;
    use crate::secret::{ExposeSecret, SecretString};

    const RESOURCE: &str = "https://mcp.example.com/mcp";
    /// Selects the `child_writer` helper and names its store directory.
    const WRITER_ENV: &str = "MCPKEY_TEST_FILE_STORE_WRITER";
    /// Selects the `child_locker` helper and names its store directory.
    const LOCKER_ENV: &str = "MCPKEY_TEST_FILE_STORE_LOCKER";
    /// The file `child_locker` appends to.
    const LOCKER_LOG_ENV: &str = "MCPKEY_TEST_FILE_STORE_LOCKER_LOG";
    /// `child_locker`'s name in the log.
    const LOCKER_ID_ENV: &str = "MCPKEY_TEST_FILE_STORE_LOCKER_ID";
    const WRITER_TOKEN_LEN: usize = 512 * 1024;

    /// A fresh directory path under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static N: AtomicU64 = AtomicU64::new(0);
            let path = std::env::temp_dir().join(format!(
                "mcpkey-file-store-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&path);
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn record(issuer: &str, client: &str, access: &str, updated_at: u64) -> TokenRecord {
        let mut tokens = TokenSet::bearer(SecretString::from(access));
        tokens.refresh_token = Some(SecretString::from(format!("rt-{access}")));
        tokens.expires_at = Some(updated_at + 3600);
        let mut r = TokenRecord::new(issuer, client, tokens);
        r.updated_at = updated_at;
        r
    }

    fn access(r: &TokenRecord) -> &str {
        r.tokens.access_token.expose_secret()
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Writes a file as the store would (0600).
    fn write_raw(path: &Path, contents: &str) {
        let mut f = private_file_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .unwrap();
        f.write_all(contents.as_bytes()).unwrap();
    }

    #[test]
    fn default_location() {
        let data = Some(PathBuf::from("/home/u/.local/share"));
        assert_eq!(
            location_from(Some("/x/y".into()), data.clone()).unwrap(),
            PathBuf::from("/x/y")
        );
        assert_eq!(
            location_from(Some("".into()), data.clone()).unwrap(),
            PathBuf::from("/home/u/.local/share/mcpkey")
        );
        assert_eq!(
            location_from(None, data).unwrap(),
            PathBuf::from("/home/u/.local/share/mcpkey")
        );
        let e = location_from(None, None).unwrap_err().to_string();
        assert!(e.contains("MCPKEY_HOME"), "{e}");
        assert_eq!(file_stem(RESOURCE).len(), 32);
        assert_ne!(
            file_stem(RESOURCE),
            file_stem("https://mcp.example.com/mcp2")
        );
    }

    #[tokio::test]
    async fn round_trip_replace_order_list_remove() {
        let tmp = TempDir::new("roundtrip");
        let store = FileStore::new(&tmp.0);

        // Reads of an empty store neither fail nor create anything.
        assert!(store.tokens(RESOURCE).await.unwrap().is_empty());
        assert!(store.list().await.unwrap().is_empty());
        assert!(store.registration("https://as").await.unwrap().is_none());
        store.remove_tokens(RESOURCE).await.unwrap();
        store.remove_registration("https://as").await.unwrap();
        assert!(!tmp.0.exists());

        store
            .put_tokens(RESOURCE, record("https://as-a", "c", "at-1", 100))
            .await
            .unwrap();
        store
            .put_tokens(RESOURCE, record("https://as-b", "c", "at-2", 200))
            .await
            .unwrap();
        let got = store.tokens(RESOURCE).await.unwrap();
        assert_eq!(got.iter().map(access).collect::<Vec<_>>(), ["at-2", "at-1"]);

        // Same issuer and client: replaced, and now the newest.
        let mut newer = record("https://as-a", "c", "at-3", 300);
        newer.resource_indicator = Some(RESOURCE.into());
        store.put_tokens(RESOURCE, newer).await.unwrap();
        // Same issuer, another client: a separate record.
        store
            .put_tokens(RESOURCE, record("https://as-a", "other", "at-4", 50))
            .await
            .unwrap();
        let got = store.tokens(RESOURCE).await.unwrap();
        assert_eq!(
            got.iter().map(access).collect::<Vec<_>>(),
            ["at-3", "at-2", "at-4"]
        );
        assert_eq!(
            got[0]
                .tokens
                .refresh_token
                .as_ref()
                .unwrap()
                .expose_secret(),
            "rt-at-3"
        );
        assert_eq!(got[0].tokens.expires_at, Some(3900));
        assert_eq!(got[0].resource_indicator.as_deref(), Some(RESOURCE));

        // Another resource; a second store on the same directory sees both.
        let other = "https://other.example/mcp";
        store
            .put_tokens(other, record("https://as-a", "c", "at-5", 10))
            .await
            .unwrap();
        let again = FileStore::new(&tmp.0);
        let list = again.list().await.unwrap();
        assert_eq!(
            list.iter()
                .map(|(r, v)| (r.as_str(), v.len()))
                .collect::<Vec<_>>(),
            [(RESOURCE, 3), (other, 1)]
        );
        assert_eq!(access(&list[0].1[0]), "at-3");

        // The format: versioned, the key inside.
        let path = tokens_path(&tmp.0.join(TOKENS_DIR), RESOURCE);
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["resource"], RESOURCE);
        assert_eq!(json["records"][0]["tokens"]["access_token"], "at-3");

        again.remove_tokens(RESOURCE).await.unwrap();
        assert!(store.tokens(RESOURCE).await.unwrap().is_empty());
        assert!(!path.exists());
        let list = store.list().await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].0, other);

        // Registrations.
        let mut reg = Registration::public("https://as-a", "client-1");
        reg.client_secret = Some(SecretString::from("cs-1"));
        reg.redirect_uri = Some("http://127.0.0.1:3334/callback".into());
        store.put_registration(reg).await.unwrap();
        store
            .put_registration(Registration::public("https://as-b", "client-b"))
            .await
            .unwrap();
        let got = again.registration("https://as-a").await.unwrap().unwrap();
        assert_eq!(got.client_id, "client-1");
        assert_eq!(got.client_secret.unwrap().expose_secret(), "cs-1");
        assert_eq!(
            got.redirect_uri.as_deref(),
            Some("http://127.0.0.1:3334/callback")
        );
        store
            .put_registration(Registration::public("https://as-a", "client-2"))
            .await
            .unwrap();
        let got = store.registration("https://as-a").await.unwrap().unwrap();
        assert_eq!(got.client_id, "client-2");
        assert!(got.client_secret.is_none());
        store.remove_registration("https://as-a").await.unwrap();
        assert!(store.registration("https://as-a").await.unwrap().is_none());
        assert_eq!(
            store
                .registration("https://as-b")
                .await
                .unwrap()
                .unwrap()
                .client_id,
            "client-b"
        );
        // No temporary files are left behind.
        for sub in [TOKENS_DIR, REGISTRATIONS_DIR] {
            for e in fs::read_dir(tmp.0.join(sub)).unwrap() {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                assert!(!name.ends_with(".tmp"), "{name}");
            }
        }
    }

    #[tokio::test]
    async fn format_is_tolerant_but_corruption_is_reported() {
        let tmp = TempDir::new("format");
        let store = FileStore::new(&tmp.0);
        store
            .put_tokens("https://ok.example", record("https://as", "c", "at-ok", 1))
            .await
            .unwrap();
        let dir = tmp.0.join(TOKENS_DIR);

        // Unknown fields, at any level, are ignored.
        let path = tokens_path(&dir, RESOURCE);
        write_raw(
            &path,
            &format!(
                r#"{{"version": 1, "resource": "{RESOURCE}", "future": [1, 2],
                    "records": [{{"issuer": "https://as", "client_id": "c", "updated_at": 5,
                    "new_field": true, "tokens": {{"access_token": "at-x", "extra": 1}}}}]}}"#
            ),
        );
        let got = store.tokens(RESOURCE).await.unwrap();
        assert_eq!(access(&got[0]), "at-x");
        assert_eq!(got[0].tokens.token_type, "Bearer");

        // Another version is refused, and not overwritten.
        let v2 = format!(r#"{{"version": 2, "resource": "{RESOURCE}", "records": {{}}}}"#);
        write_raw(&path, &v2);
        let e = store.tokens(RESOURCE).await.unwrap_err().to_string();
        assert!(
            e.contains("version 2") && e.contains(&*path.to_string_lossy()),
            "{e}"
        );
        assert!(
            store
                .put_tokens(RESOURCE, record("https://as", "c", "at-y", 6))
                .await
                .is_err()
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), v2);

        // Corrupt: the error names the file, never its contents.
        for bad in [
            format!(r#"{{"version": 1, "resource": "{RESOURCE}", "records": "sekrit-value"}}"#),
            r#"{"version": 1, "resource": "sekrit-value""#.to_owned(),
            "sekrit-value".to_owned(),
            String::new(),
        ] {
            write_raw(&path, &bad);
            let e = store.tokens(RESOURCE).await.unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(shown.contains(&*path.to_string_lossy()), "{shown}");
            assert!(!shown.contains("sekrit"), "{shown}");
            // `list` skips it and shows the rest.
            let list = store.list().await.unwrap();
            assert_eq!(list.len(), 1);
            assert_eq!(list[0].0, "https://ok.example");
        }

        // A file under another resource's name.
        write_raw(
            &path,
            r#"{"version": 1, "resource": "https://elsewhere", "records": []}"#,
        );
        let e = store.tokens(RESOURCE).await.unwrap_err().to_string();
        assert!(e.contains("another resource"), "{e}");
        assert_eq!(store.list().await.unwrap().len(), 1);

        // Non-JSON files and stray names in the directory are ignored.
        write_raw(&dir.join("notes.txt"), "hello");
        assert_eq!(store.list().await.unwrap().len(), 1);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn permissions_are_private_and_enforced() {
        let tmp = TempDir::new("perms");
        let store = FileStore::new(&tmp.0);
        store
            .put_tokens(RESOURCE, record("https://as", "c", "at-1", 1))
            .await
            .unwrap();
        store
            .put_registration(Registration::public("https://as", "c"))
            .await
            .unwrap();
        drop(store.lock(RESOURCE).await.unwrap());
        let tokens_dir = tmp.0.join(TOKENS_DIR);
        let regs_dir = tmp.0.join(REGISTRATIONS_DIR);
        let token_file = tokens_path(&tokens_dir, RESOURCE);
        let reg_file = regs_dir.join(format!("{}.json", file_stem("https://as")));
        for dir in [&tmp.0, &tokens_dir, &regs_dir] {
            assert_eq!(mode(dir), 0o700, "{}", dir.display());
        }
        let lock = tokens_dir.join(format!("{}.lock", file_stem(RESOURCE)));
        for file in [&token_file, &reg_file, &lock, &tokens_dir.join(WRITE_LOCK)] {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }

        // A readable-by-others file is refused, with the fix.
        chmod(&token_file, 0o644);
        let e = store.tokens(RESOURCE).await.unwrap_err().to_string();
        assert!(
            e.contains(&format!("chmod 600 {}", token_file.display())),
            "{e}"
        );
        assert!(
            store
                .put_tokens(RESOURCE, record("https://as", "c", "at-2", 2))
                .await
                .is_err()
        );
        assert!(store.list().await.unwrap().is_empty());
        chmod(&token_file, 0o640);
        assert!(store.tokens(RESOURCE).await.is_err());
        chmod(&token_file, 0o600);
        assert_eq!(access(&store.tokens(RESOURCE).await.unwrap()[0]), "at-1");

        chmod(&reg_file, 0o604);
        let e = store.registration("https://as").await.unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
        chmod(&reg_file, 0o600);

        // So are directories, for reads and writes.
        chmod(&tokens_dir, 0o750);
        let e = store.tokens(RESOURCE).await.unwrap_err().to_string();
        assert!(
            e.contains(&format!("chmod 700 {}", tokens_dir.display())),
            "{e}"
        );
        assert!(store.lock(RESOURCE).await.is_err());
        assert!(store.list().await.is_err());
        chmod(&tokens_dir, 0o700);
        chmod(&tmp.0, 0o755);
        let e = store.registration("https://as").await.unwrap_err();
        assert!(e.to_string().contains("chmod 700"), "{e}");
        chmod(&tmp.0, 0o700);

        // A symbolic link is refused, even to a private file.
        let real = tmp.0.join("real.json");
        fs::rename(&reg_file, &real).unwrap();
        std::os::unix::fs::symlink(&real, &reg_file).unwrap();
        let e = store.registration("https://as").await.unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        fs::remove_file(&reg_file).unwrap();
        fs::rename(&real, &reg_file).unwrap();
        assert!(store.registration("https://as").await.unwrap().is_some());

        // A subdirectory that is a link is refused too.
        let moved = tmp.0.join("moved");
        fs::rename(&regs_dir, &moved).unwrap();
        std::os::unix::fs::symlink(&moved, &regs_dir).unwrap();
        let e = store.registration("https://as").await.unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }

    /// Run as a child by `sigkill_never_leaves_a_partial_file`: stores big
    /// records for ever. Does nothing in a normal test run.
    #[test]
    fn child_writer() {
        let Some(dir) = std::env::var_os(WRITER_ENV) else {
            return;
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = FileStore::new(PathBuf::from(dir));
            // Bounded, in case the parent dies without killing us.
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let fill = char::from(b'a' + u8::try_from(i % 26).unwrap());
                let token: String = std::iter::repeat_n(fill, WRITER_TOKEN_LEN).collect();
                for issuer in ["https://as-a", "https://as-b"] {
                    store
                        .put_tokens(RESOURCE, record(issuer, "c", &token, i))
                        .await
                        .unwrap();
                }
            }
        });
    }

    /// A cheap random source for kill timings.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    fn child(test: &str) -> Command {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            &format!("oauth::file_store::tests::{test}"),
            "--test-threads=1",
            "--quiet",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
        cmd
    }

    #[test]
    fn sigkill_never_leaves_a_partial_file() {
        let tmp = TempDir::new("atomic");
        let path = tokens_path(&tmp.0.join(TOKENS_DIR), RESOURCE);
        let mut seed = u64::from(std::process::id())
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
            | 1;
        let started = Instant::now();
        let (mut complete, mut mid_write) = (0, 0);
        for round in 0..40 {
            let mut c = child("child_writer")
                .env(WRITER_ENV, &tmp.0)
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            // Early kills hit the start; later ones land among the writes.
            let wait = if round < 5 { 1 } else { 15 } + xorshift(&mut seed) % 120;
            std::thread::sleep(Duration::from_millis(wait));
            c.kill().unwrap();
            c.wait().unwrap();

            let dir = tmp.0.join(TOKENS_DIR);
            if dir.exists()
                && fs::read_dir(&dir)
                    .unwrap()
                    .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".tmp"))
            {
                mid_write += 1;
            }
            if !path.exists() {
                continue;
            }
            // Complete: parses, and each record is whole.
            let records = read_tokens(&dir, RESOURCE)
                .unwrap_or_else(|e| panic!("round {round}, after {wait} ms: {e}"));
            assert!(!records.is_empty());
            for r in &records {
                let at = access(r);
                assert_eq!(at.len(), WRITER_TOKEN_LEN);
                let first = at.as_bytes()[0];
                assert!(at.bytes().all(|b| b == first));
                assert_eq!(
                    r.tokens.refresh_token.as_ref().unwrap().expose_secret(),
                    format!("rt-{at}")
                );
            }
            complete += 1;
        }
        eprintln!(
            "40 kills in {:?}: file complete after {complete}, writer caught mid-write {mid_write} times",
            started.elapsed()
        );
        // Most kills came after the first write had landed.
        assert!(complete >= 20, "only {complete} rounds had a file");
    }

    /// Run as a child by `lock_excludes_other_processes`: takes the lock and
    /// logs around a sleep. Does nothing in a normal test run.
    #[test]
    fn child_locker() {
        let (Some(dir), Some(log), Some(id)) = (
            std::env::var_os(LOCKER_ENV),
            std::env::var_os(LOCKER_LOG_ENV),
            std::env::var(LOCKER_ID_ENV).ok(),
        ) else {
            return;
        };
        let append = |line: String| {
            let mut f = OpenOptions::new()
                .append(true)
                .create(true)
                .open(&log)
                .unwrap();
            f.write_all(line.as_bytes()).unwrap();
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = FileStore::new(PathBuf::from(dir));
            for i in 0..3 {
                let lock = store.lock(RESOURCE).await.unwrap();
                append(format!("start {id} {i}\n"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                append(format!("end {id} {i}\n"));
                drop(lock);
            }
        });
    }

    #[test]
    fn lock_excludes_other_processes() {
        let tmp = TempDir::new("xlock");
        fs::create_dir(&tmp.0).unwrap();
        let log = tmp.0.join("log");
        let store_dir = tmp.0.join("store");
        let children: Vec<_> = ["A", "B"]
            .iter()
            .map(|id| {
                child("child_locker")
                    .env(LOCKER_ENV, &store_dir)
                    .env(LOCKER_LOG_ENV, &log)
                    .env(LOCKER_ID_ENV, id)
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        let text = fs::read_to_string(&log).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 12, "{text}");
        for pair in lines.chunks(2) {
            let start = pair[0].strip_prefix("start ").unwrap();
            let end = pair[1].strip_prefix("end ").unwrap();
            assert_eq!(start, end, "interleaved:\n{text}");
        }
    }

    #[tokio::test]
    async fn lock_excludes_tasks_and_is_per_resource() {
        let tmp = TempDir::new("tlock");
        let store = Arc::new(FileStore::new(&tmp.0));
        let counter = Arc::new(std::sync::Mutex::new(0u32));
        let inside = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (store, counter, inside) = (store.clone(), counter.clone(), inside.clone());
                tokio::spawn(async move {
                    let _lock = store.lock(RESOURCE).await.unwrap();
                    assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                    let seen = *counter.lock().unwrap();
                    // Give the others every chance to run meanwhile.
                    for _ in 0..3 {
                        tokio::task::yield_now().await;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    *counter.lock().unwrap() = seen + 1;
                    inside.store(false, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*counter.lock().unwrap(), 20);

        // Another resource's lock is independent; the lock is released on drop.
        let a = store.lock(RESOURCE).await.unwrap();
        let b = tokio::time::timeout(Duration::from_secs(5), store.lock("https://other"))
            .await
            .expect("another resource's lock must not wait")
            .unwrap();
        drop((a, b));
        tokio::time::timeout(Duration::from_secs(5), store.lock(RESOURCE))
            .await
            .expect("released on drop")
            .unwrap();
    }
}
