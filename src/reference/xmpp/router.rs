//! The reference server's session registry: bound resources, their presence, and delivery channels.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::mpsc;

use crate::xmpp::element::Element;

/// Capacity of each session's queue of stanzas routed from other sessions.
pub(super) const QUEUE: usize = 256;

/// One bound resource of an account.
#[derive(Debug, Clone)]
pub(super) struct Resource {
    /// The resourcepart.
    pub resource: String,
    /// The connection that bound it.
    pub conn: u64,
    /// Where stanzas for it go (serialized XML, one element each).
    pub tx: mpsc::Sender<String>,
    /// Whether it has sent available presence.
    pub available: bool,
    /// Its presence priority.
    pub priority: i8,
    /// Its last broadcast presence (for the account's other resources).
    pub presence: Option<Element>,
}

/// All bound resources, keyed by bare JID.
#[derive(Debug, Default)]
pub(super) struct Router {
    sessions: Mutex<HashMap<String, Vec<Resource>>>,
}

impl Router {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Vec<Resource>>) -> R) -> R {
        // A poisoned lock only means another session panicked mid-update; the map is still usable.
        let mut guard = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// Binds a resource for `bare`: the requested one if free, else `generated`. Returns the resource bound.
    pub fn bind(
        &self,
        bare: &str,
        requested: Option<&str>,
        generated: String,
        conn: u64,
        tx: mpsc::Sender<String>,
    ) -> String {
        self.with(|m| {
            let list = m.entry(bare.to_string()).or_default();
            let resource = match requested {
                Some(r) if !list.iter().any(|x| x.resource == r) => r.to_string(),
                _ => generated,
            };
            list.push(Resource {
                resource: resource.clone(),
                conn,
                tx,
                available: false,
                priority: 0,
                presence: None,
            });
            resource
        })
    }

    /// Removes connection `conn`'s resource of `bare`, returning it.
    pub fn unbind(&self, bare: &str, conn: u64) -> Option<Resource> {
        self.with(|m| {
            let list = m.get_mut(bare)?;
            let pos = list.iter().position(|r| r.conn == conn)?;
            let r = list.remove(pos);
            if list.is_empty() {
                m.remove(bare);
            }
            Some(r)
        })
    }

    /// Records available (`Some`) or unavailable (`None`) presence; returns whether it was available before.
    pub fn set_presence(&self, bare: &str, conn: u64, presence: Option<(i8, Element)>) -> bool {
        self.with(|m| {
            let Some(r) = m
                .get_mut(bare)
                .and_then(|l| l.iter_mut().find(|r| r.conn == conn))
            else {
                return false;
            };
            let was = r.available;
            match presence {
                Some((prio, el)) => {
                    r.available = true;
                    r.priority = prio;
                    r.presence = Some(el);
                }
                None => {
                    r.available = false;
                    r.presence = None;
                }
            }
            was
        })
    }

    /// A snapshot of the resources bound for `bare`.
    pub fn resources(&self, bare: &str) -> Vec<Resource> {
        self.with(|m| m.get(bare).cloned().unwrap_or_default())
    }

    /// The resource `resource` of `bare`, if bound.
    pub fn resource(&self, bare: &str, resource: &str) -> Option<Resource> {
        self.with(|m| {
            m.get(bare)
                .and_then(|l| l.iter().find(|r| r.resource == resource).cloned())
        })
    }
}
