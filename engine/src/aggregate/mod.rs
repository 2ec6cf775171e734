//! Keyed aggregation state: [`Accumulator`] folds values for one aggregate
//! function and merges partials; [`KeyState`] holds one entity's state for a
//! feature (event-time slices with their partials, or a lifetime accumulator) and
//! answers the aggregate over any window `(t - W, t]` at read time.

mod accumulator;
mod key_state;

pub use accumulator::Accumulator;
pub use key_state::{
    evaluate_slices, fold_until, slice_width, Aggregation, KeyState, Retention, SliceView,
};
