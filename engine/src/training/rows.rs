//! [`TrainingRows`]: a built training set's rows, put together in label order
//! [`OUTPUT_ROWS`](super::OUTPUT_ROWS) at a time as they are read: the label
//! columns, then each feature's values, merged back by label row number from
//! the runs its partitions were written to (or sliced from the column a
//! feature with statistics is held in).

use arrow::array::ArrayRef;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::spill::{RunMerge, Spill};
use crate::Result;

/// Where a feature's output column comes from.
#[derive(Debug, Clone)]
pub enum FeatureColumn {
    /// A column held whole (features whose transforms need statistics, which
    /// are finished in label-time order after every partition).
    Held(ArrayRef),
    /// Value column `column` of the runs of entity `entity`.
    Run {
        /// The entity, by its place among the label's key columns.
        entity: usize,
        /// The feature's place among that entity's run columns.
        column: usize,
    },
}

/// The rows of a training set, read in label order; an iterator of output
/// batches. The runs stay on disk until it is dropped.
pub struct TrainingRows {
    schema: SchemaRef,
    labels: RecordBatch,
    features: Vec<FeatureColumn>,
    merges: Vec<Option<RunMerge>>,
    batch_rows: usize,
    next: usize,
    _files: Spill,
}

impl std::fmt::Debug for TrainingRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainingRows")
            .field("rows", &self.labels.num_rows())
            .field("next", &self.next)
            .finish()
    }
}

impl TrainingRows {
    /// Rows of `schema`: the columns of `labels`, then one per feature, from
    /// `features`, whose runs `merges` reads (per entity, `None` when no
    /// feature of it was written to runs), `batch_rows` rows a batch. `files`
    /// holds the runs' directory.
    pub fn new(
        schema: SchemaRef,
        labels: RecordBatch,
        features: Vec<FeatureColumn>,
        merges: Vec<Option<RunMerge>>,
        batch_rows: usize,
        files: Spill,
    ) -> TrainingRows {
        TrainingRows {
            schema,
            labels,
            features,
            merges,
            batch_rows: batch_rows.max(1),
            next: 0,
            _files: files,
        }
    }

    /// All label rows.
    pub fn total(&self) -> usize {
        self.labels.num_rows()
    }

    fn batch(&mut self, start: usize, len: usize) -> Result<RecordBatch> {
        let end = start + len;
        let mut taken: Vec<Option<Vec<ArrayRef>>> = Vec::with_capacity(self.merges.len());
        for merge in &mut self.merges {
            taken.push(match merge {
                Some(merge) => Some(merge.take(start as u32, end as u32)?),
                None => None,
            });
        }
        let mut columns = self.labels.slice(start, len).columns().to_vec();
        for feature in &self.features {
            columns.push(match feature {
                FeatureColumn::Held(array) => array.slice(start, len),
                FeatureColumn::Run { entity, column } => taken[*entity]
                    .as_ref()
                    .and_then(|arrays| arrays.get(*column))
                    .cloned()
                    .ok_or_else(|| {
                        crate::EngineError::Internal(format!(
                            "training set: no runs hold column {column} of entity #{entity}"
                        ))
                    })?,
            });
        }
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

impl Iterator for TrainingRows {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        let total = self.labels.num_rows();
        if self.next >= total {
            return None;
        }
        let start = self.next;
        let len = self.batch_rows.min(total - start);
        self.next = total.min(start + len);
        let batch = self.batch(start, len);
        if batch.is_err() {
            // An error ends the rows.
            self.next = total;
        }
        Some(batch)
    }
}
