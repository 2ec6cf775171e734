//! Feature aggregations as users write them (`sum(amount)`, `count(*)`), parsed and
//! typed.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::types::ColumnType;

/// The aggregation functions a feature can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateFunction {
    /// Number of events (`count(*)`) or of non-null values (`count(col)`).
    Count,
    /// Sum of the values.
    Sum,
    /// Arithmetic mean.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// The value with the latest event time.
    Last,
    /// The value with the earliest event time.
    First,
    /// Number of distinct non-null values.
    CountDistinct,
    /// Sample standard deviation.
    Stddev,
    /// Sample variance.
    Var,
}

impl AggregateFunction {
    /// Every function, in the order the docs list them.
    pub const ALL: [AggregateFunction; 10] = [
        AggregateFunction::Count,
        AggregateFunction::Sum,
        AggregateFunction::Avg,
        AggregateFunction::Min,
        AggregateFunction::Max,
        AggregateFunction::Last,
        AggregateFunction::First,
        AggregateFunction::CountDistinct,
        AggregateFunction::Stddev,
        AggregateFunction::Var,
    ];

    /// The name users write.
    pub fn name(self) -> &'static str {
        match self {
            AggregateFunction::Count => "count",
            AggregateFunction::Sum => "sum",
            AggregateFunction::Avg => "avg",
            AggregateFunction::Min => "min",
            AggregateFunction::Max => "max",
            AggregateFunction::Last => "last",
            AggregateFunction::First => "first",
            AggregateFunction::CountDistinct => "count_distinct",
            AggregateFunction::Stddev => "stddev",
            AggregateFunction::Var => "var",
        }
    }

    /// The type of the aggregate of a column of type `input`, or why the function
    /// cannot take such a column.
    pub fn output_type(self, input: ColumnType) -> Result<ColumnType, String> {
        use AggregateFunction::*;
        match self {
            Count | CountDistinct => Ok(ColumnType::Int64),
            Sum => match input {
                ColumnType::Int32 | ColumnType::Int64 => Ok(ColumnType::Int64),
                ColumnType::Float32 | ColumnType::Float64 => Ok(ColumnType::Float64),
                other => Err(format!("sum needs a numeric column, not {other}")),
            },
            Avg | Stddev | Var if input.is_numeric() => Ok(ColumnType::Float64),
            Avg | Stddev | Var => Err(format!(
                "{} needs a numeric column, not {input}",
                self.name()
            )),
            Min | Max if input == ColumnType::Bool => {
                Err(format!("{} needs an ordered column, not bool", self.name()))
            }
            Min | Max | First | Last => Ok(input),
        }
    }
}

impl fmt::Display for AggregateFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed aggregation: a function and the column it reads (`None` for `count(*)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    /// The function.
    pub function: AggregateFunction,
    /// The input column; `None` only for `count(*)`.
    pub column: Option<String>,
}

impl Aggregate {
    /// Parses `function(column)`; `count(*)` and `count()` count events.
    ///
    /// ```
    /// use freshet_sql::aggregate::{Aggregate, AggregateFunction};
    /// let parsed = Aggregate::parse("sum(amount)").unwrap();
    /// assert_eq!(parsed.function, AggregateFunction::Sum);
    /// assert_eq!(parsed.column.as_deref(), Some("amount"));
    /// assert!(Aggregate::parse("median(amount)").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Aggregate, String> {
        let text = text.trim();
        let (name, rest) = text.split_once('(').ok_or_else(|| {
            format!("aggregate '{text}' is not of the form function(column), as in sum(amount)")
        })?;
        let argument = rest
            .strip_suffix(')')
            .ok_or_else(|| format!("aggregate '{text}' lacks a closing parenthesis"))?
            .trim();
        let name = name.trim().to_ascii_lowercase();
        let function = AggregateFunction::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                let known: Vec<_> = AggregateFunction::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown aggregate function '{name}' (known: {})",
                    known.join(", ")
                )
            })?;
        let column = match argument {
            "*" | "" if function == AggregateFunction::Count => None,
            "*" | "" => return Err(format!("{name} needs a column, as in {name}(amount)")),
            column if column.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                Some(column.to_string())
            }
            column => {
                return Err(format!(
                    "aggregate argument '{column}' must be a single column name; compute expressions in a transformation"
                ))
            }
        };
        Ok(Aggregate { function, column })
    }
}
