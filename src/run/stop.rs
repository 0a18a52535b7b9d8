//! The stop signal of a run: set once (Ctrl-C, SIGTERM); running cases end their steps, clean
//! up within their bound and are judged interrupted; cases not started yet are not started.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A one-way flag every case of a run watches.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    set: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl Stop {
    /// A signal not yet given.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives the signal; every waiter wakes.
    pub fn trigger(&self) {
        self.set.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether the signal was given.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    /// Waits until the signal is given (at once if it was).
    pub async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_and_late_waiters_return_at_once() {
        let s = Stop::new();
        let s2 = s.clone();
        let waiter = tokio::spawn(async move { s2.wait().await });
        tokio::task::yield_now().await;
        s.trigger();
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .expect("woke")
            .unwrap();
        tokio::time::timeout(std::time::Duration::from_millis(10), s.wait())
            .await
            .expect("returns at once when set");
    }
}
