//! Replaying a stream source's retained log through its pipelines, the same
//! DataFusion plans the engine runs on micro-batches, and collecting what a
//! training set needs: each feature's input events (into a [`Spill`]) — for a
//! feature over a GROUP BY view, the values its group took, folded in event-time
//! order — and the label rows when the label reads a stream.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;
use freshet_sql::resolved::StreamSource;
use freshet_sql::streaming::ViewPlan;
use freshet_storage::log::{EventLog, Position};
use tracing::info;

use super::keys::KeyIds;
use super::pipelines::LATEST;
use super::spill::{EventRow, Spill};
use crate::operators::ViewOperator;
use crate::pipeline::{BatchRows, Pipeline, VIEW_TIME};
use crate::value::{timestamps, value_at, Value};
use crate::{EngineError, Result};

/// Rows read from the log per call while replaying.
const READ_ROWS: usize = 1 << 20;

/// Where one feature's input events come from; features with equal feeds share
/// their events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureFeed {
    /// The pipeline whose rows it reads ([`super::plan`]).
    pub pipeline: usize,
    /// The source or transformation it aggregates.
    pub relation: String,
    /// Its entity key column.
    pub key_column: String,
    /// Its event-time column.
    pub time_column: String,
    /// The aggregated column; `None` for `count(*)`.
    pub value_column: Option<String>,
    /// Whether `relation` is a GROUP BY view: its events are then the values
    /// its groups took (`key_column` and `value_column` name view outputs),
    /// one per view input row, made by [`Collector::fold_views`].
    pub from_view: bool,
}

/// What the replay fills: feature events by partition, the key numbers, and the
/// label relation's rows.
pub struct Collector<'a> {
    /// The distinct feeds of the requested features.
    pub feeds: &'a [FeatureFeed],
    /// Entity key numbers.
    pub keys: &'a mut KeyIds,
    /// Feature events.
    pub spill: &'a mut Spill,
    /// The relation whose rows are the labels, when it is a stream's.
    pub label_relation: Option<&'a str>,
    /// Its rows, in log order.
    pub label_rows: Vec<RecordBatch>,
    /// Source events read.
    pub events: u64,
    seq: u64,
    /// The per-batch rows of the views that feeds read, by (pipeline, view),
    /// in log order, until the replay of their source ends.
    view_rows: HashMap<(usize, String), Vec<RecordBatch>>,
}

impl<'a> Collector<'a> {
    /// A collector with nothing read yet.
    pub fn new(
        feeds: &'a [FeatureFeed],
        keys: &'a mut KeyIds,
        spill: &'a mut Spill,
        label_relation: Option<&'a str>,
    ) -> Self {
        Collector {
            feeds,
            keys,
            spill,
            label_relation,
            label_rows: Vec::new(),
            events: 0,
            seq: 0,
            view_rows: HashMap::new(),
        }
    }

    /// Takes what one micro-batch produced in pipeline `pipeline`: the label
    /// rows from the latest pipeline, each feed's events from its own.
    fn absorb(&mut self, pipeline: usize, rows: &BatchRows) -> Result<()> {
        if pipeline == LATEST {
            if let Some(batches) = self.label_relation.and_then(|r| rows.get(r)) {
                self.label_rows.extend(batches.iter().cloned());
            }
        }
        let feeds = self.feeds;
        // Key numbers of each batch's rows by (relation, key column), numbered
        // once and shared by every feed over the same rows.
        let mut numbered: HashMap<(&str, &str), Vec<Vec<Option<u32>>>> = HashMap::new();
        for (feature, feed) in feeds.iter().enumerate() {
            if feed.pipeline != pipeline {
                continue;
            }
            let batches = rows.get(&feed.relation).into_iter().flatten();
            if feed.from_view {
                let held = self
                    .view_rows
                    .entry((pipeline, feed.relation.clone()))
                    .or_default();
                // Feeds over one view share its rows.
                if !self.feeds[..feature]
                    .iter()
                    .any(|f| f.from_view && f.pipeline == pipeline && f.relation == feed.relation)
                {
                    held.extend(batches.cloned());
                }
                continue;
            }
            let batches: Vec<&RecordBatch> = batches.collect();
            let numbers = numbered
                .entry((feed.relation.as_str(), feed.key_column.as_str()))
                .or_insert_with(|| batches.iter().map(|b| vec![None; b.num_rows()]).collect());
            for (batch, numbers) in batches.into_iter().zip(numbers) {
                self.absorb_batch(feature, feed, batch, numbers)?;
            }
        }
        Ok(())
    }

    /// Folds the rows held for the views of pipeline `pipeline` (`views`, its
    /// view plans) in event-time order (log order among equal times), the
    /// fold the view operator makes online, and makes each row's outcome an
    /// event of every feed over the view: at the row's time, the group's
    /// value of the feed's column for the group's entity key. A feature's
    /// value as of `t` is then the last of these at or before `t`.
    pub fn fold_views(
        &mut self,
        pipeline: usize,
        views: &BTreeMap<String, ViewPlan>,
    ) -> Result<()> {
        for (name, plan) in views {
            let Some(batches) = self.view_rows.remove(&(pipeline, name.clone())) else {
                continue;
            };
            let mut order: Vec<(i64, usize, usize)> = Vec::new();
            for (index, batch) in batches.iter().enumerate() {
                let times = batch.column_by_name(VIEW_TIME).ok_or_else(|| {
                    EngineError::Unsupported(format!(
                        "view '{name}': its rows carry no event time ('{}' has none)",
                        plan.stream
                    ))
                })?;
                let times = timestamps(times)?;
                for row in 0..batch.num_rows() {
                    if times.is_null(row) {
                        return Err(EngineError::Corrupt(format!(
                            "view '{name}': a row of '{}' without an event time",
                            plan.stream
                        )));
                    }
                    order.push((times.value(row), index, row));
                }
            }
            order.sort_unstable();
            let mut view = ViewOperator::new(name.clone(), name.clone(), plan.clone());
            let feeds: Vec<(usize, FeatureFeed)> = self
                .feeds
                .iter()
                .enumerate()
                .filter(|(_, f)| f.from_view && f.pipeline == pipeline && f.relation == *name)
                .map(|(i, f)| (i, f.clone()))
                .collect();
            for (time, index, row) in order {
                let group = view.fold_row(&batches[index], row, |_| Ok(None))?;
                let outputs = view.output_of(&group);
                let output = |column: &str| {
                    outputs
                        .iter()
                        .find(|(name, _)| name == column)
                        .and_then(|(_, value)| value.clone())
                };
                for (feature, feed) in &feeds {
                    let (Some(key), Some(value)) = (
                        output(&feed.key_column),
                        feed.value_column.as_deref().and_then(output),
                    ) else {
                        continue;
                    };
                    self.seq += 1;
                    self.spill.push(
                        *feature,
                        EventRow {
                            key: self.keys.intern(&key),
                            time,
                            seq: self.seq,
                            value,
                        },
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Appends a batch's rows as events of `feature`; rows without a key, an event
    /// time or a value are left out, as the online operator leaves them out.
    /// `numbers` holds the key numbers of rows an earlier feed over the batch
    /// numbered, and takes those this one numbers.
    fn absorb_batch(
        &mut self,
        feature: usize,
        feed: &FeatureFeed,
        batch: &RecordBatch,
        numbers: &mut [Option<u32>],
    ) -> Result<()> {
        let column = |name: &str| -> Result<ArrayRef> {
            batch.column_by_name(name).cloned().ok_or_else(|| {
                EngineError::Unsupported(format!("'{}' has no column '{name}'", feed.relation))
            })
        };
        let keys = column(&feed.key_column)?;
        let times = timestamps(&column(&feed.time_column)?)?;
        let values = feed.value_column.as_deref().map(column).transpose()?;
        let int_keys =
            (keys.data_type() == &DataType::Int64).then(|| keys.as_primitive::<Int64Type>());
        for (row, number) in numbers.iter_mut().enumerate() {
            if keys.is_null(row) || times.is_null(row) {
                continue;
            }
            let value = match &values {
                None => Value::Bool(true),
                Some(values) => match read_value(values, row)? {
                    Some(value) => value,
                    None => continue,
                },
            };
            let key = match (*number, int_keys) {
                (Some(number), _) => number,
                (None, Some(ints)) => self.keys.intern_int(ints.value(row)),
                (None, None) => match value_at(&keys, row)? {
                    Some(key) => self.keys.intern(&key),
                    None => continue,
                },
            };
            *number = Some(key);
            self.seq += 1;
            self.spill.push(
                feature,
                EventRow {
                    key,
                    time: times.value(row),
                    seq: self.seq,
                    value,
                },
            )?;
        }
        Ok(())
    }
}

/// [`value_at`] with the common float and integer columns read directly.
fn read_value(array: &ArrayRef, row: usize) -> Result<Option<Value>> {
    if array.is_null(row) {
        return Ok(None);
    }
    Ok(Some(match array.data_type() {
        DataType::Float64 => Value::Float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Int64 => Value::Int(array.as_primitive::<Int64Type>().value(row)),
        _ => return value_at(array, row),
    }))
}

/// Replays every partition of `source`'s topic, up to the rows acknowledged when
/// the replay starts, through each of `pipelines` (with their indices) into
/// `collector`: the log is read once, each batch run through every pipeline.
pub async fn replay(
    log: &dyn EventLog,
    source: &StreamSource,
    pipelines: &mut [(usize, Pipeline)],
    collector: &mut Collector<'_>,
) -> Result<()> {
    let topic = &source.topic;
    let partitions = log.partitions(topic).await?;
    for partition in 0..partitions {
        let total = log.row_count(topic, partition).await?;
        let mut done = 0u64;
        let mut from = Position::START;
        while done < total {
            let read = log.read(topic, partition, from, READ_ROWS).await?;
            let Some(last) = read.last() else { break };
            from = last.next;
            let mut parts = Vec::with_capacity(read.len());
            for item in read {
                let left = (total - done) as usize;
                if left == 0 {
                    break;
                }
                let batch = if item.batch.num_rows() > left {
                    item.batch.slice(0, left)
                } else {
                    item.batch
                };
                done += batch.num_rows() as u64;
                parts.push(batch);
            }
            let batch = concat_batches(&parts[0].schema(), &parts)?;
            collector.events += batch.num_rows() as u64;
            for (index, pipeline) in pipelines.iter_mut() {
                let rows = pipeline.run(batch.clone()).await?;
                collector.absorb(*index, &rows)?;
            }
        }
        info!(source = %source.name, partition, rows = done, "replayed for a training set");
    }
    for (index, pipeline) in pipelines.iter() {
        collector.fold_views(*index, pipeline.views())?;
    }
    Ok(())
}
