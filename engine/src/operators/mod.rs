//! The stateful operators: features (keyed aggregates over windows, or a view's
//! current value) and GROUP BY views. They fold a micro-batch's rows into keyed
//! state held in a [`Changes`] working set, which the runtime commits atomically
//! with the source positions.

mod changes;
mod feature;
mod skipped;
mod stats;
mod stored;
mod view;

pub use changes::Changes;
pub use feature::{FeatureInput, FeatureOperator};
pub use skipped::SkippedRows;
pub use stats::{sorted_quantile, FeatureStats};
pub use stored::StoredFeature;
pub use view::{ViewOperator, ViewRow};
