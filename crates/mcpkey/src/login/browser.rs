//! Opening the system browser, without a shell.

use super::*;

/// Whether a browser can be shown at all (no graphical session on Linux/BSD
/// means no).
pub(super) fn browser_available() -> bool {
    if cfg!(any(windows, target_os = "macos")) {
        return true;
    }
    let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
    set("DISPLAY") || set("WAYLAND_DISPLAY")
}

/// Opens an http(s) URL in the system browser without a shell (the URL is
/// one argument). Returns whether the opener started.
pub(super) fn open_in_browser(url: &Url) -> bool {
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    let mut cmd = if cfg!(windows) {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    } else if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else {
        std::process::Command::new("xdg-open")
    };
    cmd.arg(url.as_str())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match cmd.spawn() {
        Ok(mut child) => {
            // Reap it off the runtime (the opener exits quickly).
            let _ = std::thread::Builder::new()
                .name("mcpkey-browser-opener".into())
                .spawn(move || child.wait());
            true
        }
        Err(e) => {
            tracing::debug!(error = %e, "could not start the browser opener");
            false
        }
    }
}
