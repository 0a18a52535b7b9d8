//! Admission of new connections: at most `PENDING` connections a server has not answered yet,
//! so a burst of connects (a run with -j 1024, a fuzz campaign) never overflows the server's
//! listen backlog (100 in mosquitto), where Linux drops the SYN and the client waits out the
//! 1 s retransmission: latency that is wirecheck's doing, not the server's.

use std::time::Duration;

use tokio::sync::{Semaphore, oneshot};

/// Connections at once that the server has not answered yet.
pub const PENDING: usize = 64;

/// After this long unanswered, a connection gives its place up anyway (a server that never
/// answers must not hold others back).
pub const HOLD: Duration = Duration::from_millis(200);

static GATE: Semaphore = Semaphore::const_new(PENDING);

/// One connection's place in the gate, given back when the server answers (`answered`), after
/// `HOLD`, or when the connection is dropped.
#[derive(Debug, Default)]
pub struct Admission(Option<oneshot::Sender<()>>);

impl Admission {
    /// Waits for a place in the gate.
    pub async fn acquire() -> Admission {
        Self::acquire_from(&GATE).await
    }

    /// Waits for a place in `gate`.
    async fn acquire_from(gate: &'static Semaphore) -> Admission {
        let permit = gate.acquire().await.ok();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(HOLD, rx).await;
        });
        Admission(Some(tx))
    }

    /// The server answered (or the connection ended): the place is free for the next one.
    pub fn answered(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST_GATE: Semaphore = Semaphore::const_new(2);

    #[tokio::test]
    async fn a_place_comes_back_when_answered_and_after_the_hold() {
        let before = TEST_GATE.available_permits();
        let mut a = Admission::acquire_from(&TEST_GATE).await;
        let b = Admission::acquire_from(&TEST_GATE).await;
        tokio::task::yield_now().await;
        assert_eq!(TEST_GATE.available_permits(), 0);
        a.answered();
        drop(b);
        // Both timer tasks see their signal and end, giving the places back.
        for _ in 0..50 {
            if TEST_GATE.available_permits() == before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(TEST_GATE.available_permits(), before);
        let _held = Admission::acquire_from(&TEST_GATE).await;
        tokio::time::sleep(HOLD + Duration::from_millis(50)).await;
        assert_eq!(
            TEST_GATE.available_permits(),
            before,
            "given back after HOLD"
        );
    }
}
