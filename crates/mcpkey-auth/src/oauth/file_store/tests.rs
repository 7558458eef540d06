//! Tests of the file store.

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
