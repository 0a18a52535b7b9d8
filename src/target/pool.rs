//! The XMPP account pool: cases lease accounts exclusively, so parallel cases never share one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::secret::Secret;

/// One account of a target.
#[derive(Debug, Clone)]
pub struct Account {
    /// Local part of the JID.
    pub user: String,
    /// Password.
    pub password: Secret,
}

/// A pool of accounts to lease from.
#[derive(Debug, Clone)]
pub struct AccountPool {
    free: Arc<Mutex<Vec<Account>>>,
    total: usize,
    notify: Arc<Notify>,
}

/// Why a lease could not be had.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LeaseError {
    /// The case needs more accounts than the pool has.
    #[error("the case needs {wanted} accounts but the target's pool has {total}")]
    TooFew {
        /// Accounts needed.
        wanted: usize,
        /// Pool size.
        total: usize,
    },
    /// Other cases held the accounts for too long.
    #[error("no {0} free accounts within the lease deadline")]
    Timeout(usize),
}

impl AccountPool {
    /// A pool of these accounts.
    pub fn new(accounts: Vec<Account>) -> Self {
        let total = accounts.len();
        Self {
            free: Arc::new(Mutex::new(accounts)),
            total,
            notify: Arc::new(Notify::new()),
        }
    }

    /// How many accounts the pool has in all.
    pub fn len(&self) -> usize {
        self.total
    }

    /// Whether the pool has no accounts at all.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Leases `n` accounts at once (all or none, so cases cannot deadlock each other).
    pub async fn lease(&self, n: usize, deadline: Duration) -> Result<Lease, LeaseError> {
        if n > self.total {
            return Err(LeaseError::TooFew {
                wanted: n,
                total: self.total,
            });
        }
        let fut = async {
            loop {
                let notified = self.notify.notified();
                {
                    let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
                    if free.len() >= n {
                        let at = free.len() - n;
                        let accounts = free.split_off(at);
                        return Lease {
                            accounts,
                            pool: self.clone(),
                        };
                    }
                }
                notified.await;
            }
        };
        tokio::time::timeout(deadline, fut)
            .await
            .map_err(|_| LeaseError::Timeout(n))
    }
}

/// Accounts held by one case; they go back to the pool on drop.
#[derive(Debug)]
pub struct Lease {
    /// The leased accounts.
    pub accounts: Vec<Account>,
    pool: AccountPool,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut free = self.pool.free.lock().unwrap_or_else(|p| p.into_inner());
        free.append(&mut self.accounts);
        drop(free);
        self.pool.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: usize) -> AccountPool {
        AccountPool::new(
            (0..n)
                .map(|i| Account {
                    user: format!("u{i}"),
                    password: Secret::new("p"),
                })
                .collect(),
        )
    }

    #[tokio::test]
    async fn leases_are_exclusive_and_returned() {
        let p = pool(3);
        let a = p.lease(2, Duration::from_millis(50)).await.unwrap();
        assert_eq!(
            p.lease(2, Duration::from_millis(50)).await.unwrap_err(),
            LeaseError::Timeout(2)
        );
        drop(a);
        let b = p.lease(3, Duration::from_millis(50)).await.unwrap();
        assert_eq!(b.accounts.len(), 3);
        assert!(matches!(
            p.lease(4, Duration::from_millis(50)).await,
            Err(LeaseError::TooFew { .. })
        ));
    }
}
