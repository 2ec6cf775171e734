//! The stateful operators: features (keyed aggregates over windows, or a view's
//! current value) and GROUP BY views. They fold a micro-batch's rows into keyed
//! state held in a [`Changes`] working set, which the runtime commits atomically
//! with the source positions.

mod changes;
mod feature;
mod stats;
mod stored;
mod view;

pub use changes::Changes;
pub use feature::{FeatureInput, FeatureOperator};
pub use stats::FeatureStats;
pub use stored::StoredFeature;
pub use view::{ViewOperator, ViewRow};

/// The state-store key of a feature table's entry for `key` (an entity key's bytes,
/// or empty for the feature's statistics).
pub fn feature_state_key(table: &str, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + table.len() + key.len());
    out.extend_from_slice(b"f/");
    out.extend_from_slice(table.as_bytes());
    out.push(0);
    out.extend_from_slice(key);
    out
}

/// The state-store key of a view's group.
pub fn view_state_key(view: &str, group: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + view.len() + group.len());
    out.extend_from_slice(b"v/");
    out.extend_from_slice(view.as_bytes());
    out.push(0);
    out.extend_from_slice(group);
    out
}
