//! [`ViewOperator`]: a GROUP BY view kept current: per group key, one accumulator
//! per aggregate, folded with the rows of each micro-batch's per-batch part.

use std::collections::{HashMap, HashSet};

use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use freshet_sql::streaming::{ViewPlan, ViewValue};
use freshet_storage::state::{column_family::OPERATOR_STATE, StateStore};
use serde::{Deserialize, Serialize};

use super::Changes;
use crate::aggregate::Accumulator;
use crate::state_keys::view_state_key;
use crate::value::{value_at, Value};
use crate::{EngineError, Result};

/// One group of a view: its key values and one accumulator per aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    keys: Vec<Option<Value>>,
    accumulators: Vec<Accumulator>,
}

/// A view row as output columns: (name, value), in SELECT order.
pub type ViewRow = Vec<(String, Option<Value>)>;

/// One view version's operator.
pub struct ViewOperator {
    /// Its table: `name@vN`, the state-key prefix.
    pub table: String,
    /// The view's name, as features name it.
    pub name: String,
    plan: ViewPlan,
    integer_arguments: Vec<bool>,
    working: HashMap<Vec<u8>, Group>,
}

impl ViewOperator {
    /// An operator for `plan`.
    pub fn new(table: String, name: String, plan: ViewPlan) -> ViewOperator {
        let schema = plan.pre.schema();
        let integer_arguments = plan
            .aggregates
            .iter()
            .map(|aggregate| {
                aggregate.argument.is_some_and(|i| {
                    matches!(
                        schema.field(i).data_type(),
                        DataType::Int32 | DataType::Int64
                    )
                })
            })
            .collect();
        ViewOperator {
            table,
            name,
            plan,
            integer_arguments,
            working: HashMap::new(),
        }
    }

    /// Folds the per-batch rows; returns the groups that changed, each as its
    /// output columns (name, value).
    pub fn apply_rows(
        &mut self,
        store: &dyn StateStore,
        batches: &[RecordBatch],
    ) -> Result<Vec<ViewRow>> {
        let table = self.table.clone();
        let mut touched = Vec::new();
        let mut seen = HashSet::new();
        for batch in batches {
            for row in 0..batch.num_rows() {
                let group_key = self.fold_row(batch, row, |key| {
                    store
                        .get(OPERATOR_STATE, &view_state_key(&table, key))?
                        .map(|bytes| {
                            bincode::deserialize(&bytes)
                                .map_err(|e| EngineError::Corrupt(format!("view '{table}': {e}")))
                        })
                        .transpose()
                })?;
                if seen.insert(group_key.clone()) {
                    touched.push(group_key);
                }
            }
        }
        Ok(touched.iter().map(|key| self.output_of(key)).collect())
    }

    /// Folds row `row` of a per-batch part into its group, which `load` gives
    /// (`None`: a new group) when the operator does not hold it yet; returns
    /// the group's key.
    pub fn fold_row(
        &mut self,
        batch: &RecordBatch,
        row: usize,
        load: impl FnOnce(&[u8]) -> Result<Option<Group>>,
    ) -> Result<Vec<u8>> {
        let mut keys = Vec::with_capacity(self.plan.keys);
        let mut group_key = Vec::new();
        for i in 0..self.plan.keys {
            let value = value_at(batch.column(i), row)?;
            match &value {
                Some(v) => {
                    let bytes = v.key_bytes();
                    group_key.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
                    group_key.extend_from_slice(&bytes);
                }
                None => group_key.extend_from_slice(&u32::MAX.to_be_bytes()),
            }
            keys.push(value);
        }
        let mut arguments = Vec::with_capacity(self.plan.aggregates.len());
        for aggregate in &self.plan.aggregates {
            arguments.push(match aggregate.argument {
                None => Some(Value::Bool(true)),
                Some(i) => value_at(batch.column(i), row)?,
            });
        }
        if !self.working.contains_key(&group_key) {
            let group = match load(&group_key)? {
                Some(group) => group,
                None => Group {
                    keys,
                    accumulators: self
                        .plan
                        .aggregates
                        .iter()
                        .zip(&self.integer_arguments)
                        .map(|(a, integer)| Accumulator::new(a.function, *integer))
                        .collect(),
                },
            };
            self.working.insert(group_key.clone(), group);
        }
        let group = self.working.get_mut(&group_key).expect("inserted above");
        for (accumulator, argument) in group.accumulators.iter_mut().zip(arguments) {
            if let Some(argument) = argument {
                accumulator.update(0, &argument);
            }
        }
        Ok(group_key)
    }

    /// The output columns of the group with key `key`, which a fold gave.
    pub fn output_of(&self, key: &[u8]) -> ViewRow {
        self.outputs(&self.working[key])
    }

    fn outputs(&self, group: &Group) -> ViewRow {
        self.plan
            .outputs
            .iter()
            .map(|output| {
                let value = match output.value {
                    ViewValue::Key(i) => group.keys[i].clone(),
                    ViewValue::Aggregate(i) => {
                        group.accumulators[i].finish(self.plan.aggregates[i].function)
                    }
                };
                (output.name.clone(), value)
            })
            .collect()
    }

    /// Moves what changed into `changes`.
    pub fn flush(&mut self, changes: &mut Changes) {
        for (key, group) in self.working.drain() {
            let bytes = bincode::serialize(&group).expect("view group serializes");
            changes
                .state
                .put(OPERATOR_STATE, view_state_key(&self.table, &key), bytes);
        }
    }
}
