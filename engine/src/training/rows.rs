//! [`TrainingRows`]: a built training set's rows, put together in label order
//! [`OUTPUT_ROWS`](super::OUTPUT_ROWS) at a time as they are read: the label
//! columns, read back from the file they were written to, then each feature's
//! values, merged back by label row number from the runs its partitions were
//! written to (or sliced from the column a feature with statistics is held in).

use arrow::array::ArrayRef;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::spill::{BatchFile, RunMerge, Spill};
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
    labels: BatchFile,
    total: usize,
    features: Vec<FeatureColumn>,
    merges: Vec<Option<RunMerge>>,
    next: usize,
    _files: Spill,
}

impl std::fmt::Debug for TrainingRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainingRows")
            .field("rows", &self.total)
            .field("next", &self.next)
            .finish()
    }
}

impl TrainingRows {
    /// Rows of `schema`: the `total` label rows `labels` holds (a batch of
    /// them per output batch), then one column per feature, from `features`,
    /// whose runs `merges` reads (per entity, `None` when no feature of it was
    /// written to runs). `files` holds the directory of those files.
    pub fn new(
        schema: SchemaRef,
        labels: BatchFile,
        total: usize,
        features: Vec<FeatureColumn>,
        merges: Vec<Option<RunMerge>>,
        files: Spill,
    ) -> TrainingRows {
        TrainingRows {
            schema,
            labels,
            total,
            features,
            merges,
            next: 0,
            _files: files,
        }
    }

    /// All label rows.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The output batch of the label rows in `labels`, which start at row
    /// `start`.
    fn batch(&mut self, start: usize, labels: RecordBatch) -> Result<RecordBatch> {
        let len = labels.num_rows();
        let end = start + len;
        let mut taken: Vec<Option<Vec<ArrayRef>>> = Vec::with_capacity(self.merges.len());
        for merge in &mut self.merges {
            taken.push(match merge {
                Some(merge) => Some(merge.take(start as u32, end as u32)?),
                None => None,
            });
        }
        let mut columns = labels.columns().to_vec();
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
        if self.next >= self.total {
            return None;
        }
        let start = self.next;
        let batch = match self.labels.next_batch() {
            Ok(Some(labels)) if labels.num_rows() > 0 => {
                self.next = start + labels.num_rows();
                self.batch(start, labels)
            }
            Ok(_) => Err(crate::EngineError::Internal(format!(
                "training set: the label rows end at row {start} of {}",
                self.total
            ))),
            Err(error) => Err(error),
        };
        if batch.is_err() {
            // An error ends the rows.
            self.next = self.total;
        }
        Some(batch)
    }
}
