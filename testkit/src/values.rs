//! [`Val`]: one feature value as a test compares it, whether it came from an
//! online read, a training-set cell or the brute-force [`crate::reference`], and
//! the two ways to compare them ([`same`], [`close`]).

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type};

/// One feature value, reduced to what tests compare.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// No value (an empty window, a missing key, a NULL cell).
    Null,
    /// An integer (counts, integer features).
    I(i64),
    /// A float (sums, averages, ...).
    F(f64),
    /// A string (`first`/`last` of a string column).
    S(String),
}

impl Val {
    /// `default` in place of [`Val::Null`]; any other value unchanged. What a
    /// feature's declared default does to an empty window.
    pub fn or(self, default: Option<Val>) -> Val {
        match (self, default) {
            (Val::Null, Some(default)) => default,
            (value, _) => value,
        }
    }
}

/// The relative tolerance of [`close`].
pub const RELATIVE_TOLERANCE: f64 = 1e-9;

/// Exact equality: a float must be the same number (by `==`, or bit for bit, so
/// that NaN equals itself).
pub fn same(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::F(x), Val::F(y)) => x == y || x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

/// Equality with floats within [`RELATIVE_TOLERANCE`] of the larger magnitude
/// (an absolute 1e-9 below magnitude 1): sums and averages folded in another
/// order, variances updated incrementally. Everything else must be equal.
pub fn close(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::F(x), Val::F(y)) => {
            x == y || (x - y).abs() <= RELATIVE_TOLERANCE * x.abs().max(y.abs()).max(1.0)
        }
        _ => a == b,
    }
}

/// The value of `row` in an Arrow column of a type features have (int64,
/// float64, strings); panics on any other type.
pub fn cell(column: &dyn Array, row: usize) -> Val {
    if column.is_null(row) {
        return Val::Null;
    }
    match column.data_type() {
        DataType::Int64 => Val::I(column.as_primitive::<Int64Type>().value(row)),
        DataType::Float64 => Val::F(column.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Val::S(column.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Val::S(column.as_string::<i64>().value(row).to_string()),
        DataType::Utf8View => Val::S(column.as_string_view().value(row).to_string()),
        other => panic!("unexpected column type {other}"),
    }
}

/// The column names of `batch`, in order.
pub fn column_names(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|field| field.name().clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_is_relative_above_one_and_absolute_below() {
        assert!(close(&Val::F(1e12), &Val::F(1e12 + 100.0)));
        assert!(!close(&Val::F(1e12), &Val::F(1e12 + 10_000.0)));
        assert!(close(&Val::F(0.0), &Val::F(1e-12)));
        assert!(!close(&Val::F(0.0), &Val::F(1e-6)));
        assert!(!close(&Val::I(1), &Val::F(1.0)), "types must agree");
        assert!(same(&Val::F(f64::NAN), &Val::F(f64::NAN)));
        assert!(!same(&Val::F(0.1 + 0.2), &Val::F(0.3)));
        assert_eq!(Val::Null.or(Some(Val::F(-1.0))), Val::F(-1.0));
        assert_eq!(Val::I(0).or(Some(Val::F(-1.0))), Val::I(0));
    }
}
