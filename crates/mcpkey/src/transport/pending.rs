//! Requests waiting for responses on a shared channel (stdio and legacy
//! SSE), keyed by our JSON-RPC id.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;

use super::TransportError;
use super::jsonrpc::RpcResult;

/// Why the channel closed; cloned into every waiter's error.
#[derive(Debug, Clone)]
pub(crate) enum Closed {
    /// The process exited.
    Exited { status: String, stderr_tail: String },
    /// The event stream ended.
    StreamEnded,
    /// We closed it.
    ByUs,
}

impl Closed {
    pub(crate) fn to_error(&self) -> TransportError {
        match self {
            Closed::Exited {
                status,
                stderr_tail,
            } => TransportError::Exited {
                status: status.clone(),
                stderr_tail: stderr_tail.clone(),
            },
            Closed::StreamEnded => TransportError::StreamEnded,
            Closed::ByUs => TransportError::Closed,
        }
    }
}

#[derive(Default)]
struct State {
    waiting: HashMap<i64, oneshot::Sender<RpcResult>>,
    closed: Option<Closed>,
}

/// The table of waiting requests.
#[derive(Default)]
pub(crate) struct Pending {
    state: Mutex<State>,
}

/// Removes the entry if the waiting future is dropped (cancelled or timed
/// out), so the table never grows with abandoned requests.
pub(crate) struct Waiter<'a> {
    pending: &'a Pending,
    id: i64,
    rx: oneshot::Receiver<RpcResult>,
    done: bool,
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked while holding
        // it; the map itself is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `id`; fails if the channel is already closed.
    pub(crate) fn register(&self, id: i64) -> Result<Waiter<'_>, TransportError> {
        let (tx, rx) = oneshot::channel();
        let mut st = self.lock();
        if let Some(c) = &st.closed {
            return Err(c.to_error());
        }
        st.waiting.insert(id, tx);
        Ok(Waiter {
            pending: self,
            id,
            rx,
            done: false,
        })
    }

    /// Delivers a response; false if nobody waits for `id`.
    pub(crate) fn complete(&self, id: i64, result: RpcResult) -> bool {
        let tx = self.lock().waiting.remove(&id);
        match tx {
            Some(tx) => {
                let _ = tx.send(result);
                true
            }
            None => false,
        }
    }

    /// Closes the table, failing every waiter with `why`.
    pub(crate) fn close(&self, why: Closed) {
        let mut st = self.lock();
        if st.closed.is_none() {
            st.closed = Some(why);
        }
        st.waiting.clear();
    }

    /// Why it closed, if it did.
    pub(crate) fn closed(&self) -> Option<Closed> {
        self.lock().closed.clone()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().waiting.len()
    }
}

impl Waiter<'_> {
    /// Waits for the response.
    pub(crate) async fn wait(mut self) -> Result<RpcResult, TransportError> {
        let got = (&mut self.rx).await;
        self.done = true;
        match got {
            Ok(r) => Ok(r),
            Err(_) => Err(self
                .pending
                .closed()
                .map(|c| c.to_error())
                .unwrap_or(TransportError::Closed)),
        }
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.pending.lock().waiting.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn complete_close_and_drop() {
        let p = Pending::default();
        let w = p.register(1).unwrap();
        let raw = serde_json::value::RawValue::from_string("{}".into()).unwrap();
        assert!(p.complete(1, Ok(raw)));
        assert!(w.wait().await.unwrap().is_ok());

        let w = p.register(2).unwrap();
        drop(w);
        assert_eq!(p.len(), 0, "dropped waiter removed");

        let w = p.register(3).unwrap();
        p.close(Closed::StreamEnded);
        assert!(matches!(w.wait().await, Err(TransportError::StreamEnded)));
        assert!(p.register(4).is_err());
    }
}
