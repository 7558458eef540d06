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
        // Most servers have no tokens: one stat here instead of a trip to
        // the blocking pool (a thread, on a cold start).
        let path = tokens_path(&self.dir.join(TOKENS_DIR), resource);
        if matches!(fs::symlink_metadata(&path), Err(e) if e.kind() == io::ErrorKind::NotFound) {
            return Ok(Vec::new());
        }
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
mod tests;
