//! Timeouts that do not count the time a person spends logging in.
//!
//! A request that meets a `401` may run an interactive OAuth login (browser,
//! paste) before it is retried. Connect and request timeouts are meant for
//! servers, not people: while a login is on screen they wait, and once it
//! ends the operation gets its full timeout again.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// How often an expired deadline looks again while a login is on screen.
const RECHECK: Duration = Duration::from_millis(250);

/// Tracks interactive logins in progress (shared by a client's sessions).
#[derive(Clone, Debug, Default)]
pub(crate) struct Attention(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    active: AtomicUsize,
    last_end: Mutex<Option<Instant>>,
}

/// Marks a login in progress until dropped.
pub(crate) struct Busy(Arc<Inner>);

impl Drop for Busy {
    fn drop(&mut self) {
        if let Ok(mut end) = self.0.last_end.lock() {
            *end = Some(Instant::now());
        }
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Attention {
    /// Marks the start of an interactive login.
    pub(crate) fn begin(&self) -> Busy {
        self.0.active.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(&self.0))
    }

    fn busy(&self) -> bool {
        self.0.active.load(Ordering::Acquire) > 0
    }

    fn last_end(&self) -> Option<Instant> {
        self.0.last_end.lock().ok().and_then(|g| *g)
    }

    /// Like [`tokio::time::timeout_at`], but a deadline that passes during a
    /// login waits for it, and a login that ended recently moves the
    /// deadline to `timeout` after its end.
    pub(crate) async fn timeout_at<F: Future>(
        &self,
        deadline: Instant,
        timeout: Duration,
        fut: F,
    ) -> Result<F::Output, Elapsed> {
        let mut fut = std::pin::pin!(fut);
        let mut deadline = deadline;
        loop {
            tokio::select! {
                biased;
                out = &mut fut => return Ok(out),
                () = tokio::time::sleep_until(deadline) => {
                    if self.busy() {
                        deadline = Instant::now() + RECHECK;
                        continue;
                    }
                    match self.last_end() {
                        Some(end) if end + timeout > Instant::now() => deadline = end + timeout,
                        _ => return Err(Elapsed),
                    }
                }
            }
        }
    }
}

/// The deadline passed with no login to excuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elapsed;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn times_out_without_a_login() {
        let a = Attention::default();
        let t = Duration::from_secs(1);
        let r = a
            .timeout_at(Instant::now() + t, t, std::future::pending::<()>())
            .await;
        assert_eq!(r, Err(Elapsed));
    }

    #[tokio::test(start_paused = true)]
    async fn a_login_pauses_the_deadline_and_restarts_it_after() {
        let a = Attention::default();
        let t = Duration::from_secs(1);
        let start = Instant::now();
        let a2 = a.clone();
        // A login from 0.5 s to 10.5 s, then the work needs 0.8 s more.
        let work = async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let busy = a2.begin();
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(busy);
            tokio::time::sleep(Duration::from_millis(800)).await;
            "done"
        };
        let r = a.timeout_at(start + t, t, work).await;
        assert_eq!(r, Ok("done"));

        // Work that outlasts the restarted window still times out.
        let a3 = a.clone();
        let start = Instant::now();
        let slow = async move {
            let busy = a3.begin();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(busy);
            std::future::pending::<()>().await
        };
        let r = a.timeout_at(start + t, t, slow).await;
        assert_eq!(r, Err(Elapsed));
        assert!(Instant::now() >= start + Duration::from_secs(6));
        assert!(Instant::now() < start + Duration::from_millis(6300));
    }
}
