//! [`LaneBoard`]: what every source task's lanes are doing, for status reports,
//! and a counter that moves whenever a lane starts, goes live or fails, for
//! whoever waits on a version.

use std::collections::BTreeMap;
use std::sync::RwLock;

use tokio::sync::watch;

/// One lane as status reports show it.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneInfo {
    /// The lane's id within its source.
    pub id: u64,
    /// Whether it has caught up (its versions are READY or ACTIVE).
    pub live: bool,
    /// Its feature versions, (name, version).
    pub features: Vec<(String, u32)>,
    /// Rows committed (replayed and stored durably).
    pub done: u64,
    /// Rows the log holds.
    pub total: u64,
    /// Rows folded per second since the lane was opened (backfills).
    pub rate: f64,
}

/// The lanes of every source, shared between the source tasks and readers.
pub struct LaneBoard {
    lanes: RwLock<BTreeMap<String, Vec<LaneInfo>>>,
    changes: watch::Sender<u64>,
}

impl Default for LaneBoard {
    fn default() -> Self {
        LaneBoard {
            lanes: RwLock::new(BTreeMap::new()),
            changes: watch::channel(0).0,
        }
    }
}

impl LaneBoard {
    /// Replaces the lanes of `source`; `changed` when a lane started, went live,
    /// merged or failed, which wakes the waiters.
    pub fn publish(&self, source: &str, lanes: Vec<LaneInfo>, changed: bool) {
        self.lanes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(source.to_string(), lanes);
        if changed {
            self.changes.send_modify(|n| *n += 1);
        }
    }

    /// Every source's lanes.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<LaneInfo>> {
        self.lanes.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A receiver that sees every lane start, catch-up and failure.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Wakes the waiters (after a change made outside the source tasks).
    pub fn touch(&self) {
        self.changes.send_modify(|n| *n += 1);
    }
}
