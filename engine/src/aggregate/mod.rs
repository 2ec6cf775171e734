//! Keyed aggregation state: [`Accumulator`] folds values for one aggregate
//! function; [`KeyState`] holds one entity's events for a feature and answers the
//! aggregate over any window `(t - W, t]` at read time; [`event_list`] is how a
//! windowed feature stores those events, appended per micro-batch.

mod accumulator;
pub mod event_list;
mod key_state;

pub use accumulator::Accumulator;
pub use key_state::{fold_until, Aggregation, KeyState, Retention};
