//! Keyed aggregation state: [`Accumulator`] folds values for one aggregate
//! function; [`KeyState`] holds one entity's events for a feature and answers the
//! aggregate over any window `(t - W, t]` at read time; [`SlicedState`] groups a
//! windowed feature's events into event-time slices with partial aggregates, so
//! that evaluating at every event costs the slices, not the window's events;
//! [`event_list`] is how a windowed feature stores its events, appended per
//! micro-batch.

mod accumulator;
pub mod event_list;
mod key_state;
mod slices;

pub use accumulator::Accumulator;
pub use key_state::{fold_until, Aggregation, KeyState, Retention};
pub use slices::{slice_width, SlicedState};
