//! Replaying a stream source's retained log through its pipelines, the same
//! DataFusion plans the engine runs on micro-batches, and collecting what a
//! training set needs: each feature's input events (into a [`Spill`]) — for a
//! feature over a GROUP BY view, the values its group took, folded in event-time
//! order — and the label rows when the label reads a stream.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;
use freshet_sql::resolved::StreamSource;
use freshet_sql::streaming::ViewPlan;
use freshet_storage::log::EventLog;
use tokio::sync::mpsc;

use super::keys::KeyIds;
use super::log_chunks::LogChunks;
use super::pipelines::LATEST;
use super::spill::{EventRow, Spill};
use crate::operators::ViewOperator;
use crate::pipeline::{BatchRows, Pipeline, VIEW_TIME};
use crate::value::{timestamps, value_at, Value};
use crate::{EngineError, Result};

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

/// One replay worker's pipelines, each with its index ([`super::plan`]).
pub type PipelineSet = Vec<(usize, Pipeline)>;

/// Replays every partition of `source`'s topic, up to the rows acknowledged when
/// the replay starts, through each pipeline into `collector`. The log is read
/// once, in chunks of `chunk_rows` rows; each worker (one pipeline set each,
/// all planned from the same definitions) runs the chunks handed to it, so
/// several chunks go through the SQL at once, while the collector takes their
/// rows strictly in log order: what it gathers (key numbers, the order of
/// events, label and view rows) is the same whatever the number of workers.
pub async fn replay(
    log: &dyn EventLog,
    source: &StreamSource,
    workers: Vec<PipelineSet>,
    chunk_rows: usize,
    collector: &mut Collector<'_>,
) -> Result<()> {
    let views: Vec<(usize, BTreeMap<String, ViewPlan>)> = workers
        .first()
        .into_iter()
        .flatten()
        .map(|(index, pipeline)| (*index, pipeline.views().clone()))
        .collect();
    let (results_to, mut results) = mpsc::unbounded_channel();
    let mut inputs: Vec<mpsc::UnboundedSender<Chunk>> = Vec::with_capacity(workers.len());
    for pipelines in workers {
        // The SQL's own runtime on the worker's thread.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| EngineError::Internal(format!("a replay worker's runtime: {e}")))?;
        let (to, from) = mpsc::unbounded_channel();
        let results_to = results_to.clone();
        std::thread::spawn(move || work(runtime, pipelines, from, results_to));
        inputs.push(to);
    }
    drop(results_to);
    if inputs.is_empty() {
        return Ok(());
    }
    // Chunks handed out and not yet collected; bounds the rows in flight.
    let in_flight = 2 * inputs.len() as u64;
    let mut chunks = LogChunks::start(log, source, chunk_rows).await?;
    let (mut sent, mut collected, mut read_all) = (0u64, 0u64, false);
    let mut ready: BTreeMap<u64, Ran> = BTreeMap::new();
    loop {
        while !read_all && sent - collected < in_flight {
            match chunks.next(log).await? {
                Some(parts) => {
                    let worker = &inputs[(sent % inputs.len() as u64) as usize];
                    worker
                        .send(Chunk {
                            number: sent,
                            parts,
                        })
                        .map_err(|_| stopped())?;
                    sent += 1;
                }
                None => read_all = true,
            }
        }
        if collected == sent {
            break;
        }
        let ran = loop {
            if let Some(ran) = ready.remove(&collected) {
                break ran;
            }
            let (number, ran) = results.recv().await.ok_or_else(stopped)?;
            ready.insert(number, ran?);
        };
        collector.events += ran.events;
        for (index, rows) in &ran.rows {
            collector.absorb(*index, rows)?;
        }
        collected += 1;
    }
    for (index, views) in &views {
        collector.fold_views(*index, views)?;
    }
    Ok(())
}

fn stopped() -> EngineError {
    EngineError::Internal("a training replay worker stopped".into())
}

/// Frames of the log to run through the pipelines as one batch, numbered in
/// log order.
struct Chunk {
    number: u64,
    parts: Vec<RecordBatch>,
}

/// What the pipelines made of one chunk.
struct Ran {
    events: u64,
    rows: Vec<(usize, BatchRows)>,
}

/// A worker: on a thread of its own (tasks on the server's runtime would share
/// the collector's thread), runs each chunk it is handed through its pipelines
/// and sends the rows back with the chunk's number. A panic in the SQL is sent
/// back as an error for its chunk (the collector would otherwise wait for
/// it), and the worker stops.
fn work(
    runtime: tokio::runtime::Runtime,
    mut pipelines: PipelineSet,
    mut chunks: mpsc::UnboundedReceiver<Chunk>,
    results: mpsc::UnboundedSender<(u64, Result<Ran>)>,
) {
    while let Some(chunk) = chunks.blocking_recv() {
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
            runtime.block_on(run(&mut pipelines, chunk.parts))
        }));
        let (ran, panicked) = match ran {
            Ok(ran) => (ran, false),
            Err(_) => (Err(stopped()), true),
        };
        if results.send((chunk.number, ran)).is_err() || panicked {
            return;
        }
    }
}

async fn run(pipelines: &mut PipelineSet, parts: Vec<RecordBatch>) -> Result<Ran> {
    let batch = concat_batches(&parts[0].schema(), &parts)?;
    let mut rows = Vec::with_capacity(pipelines.len());
    for (index, pipeline) in pipelines.iter_mut() {
        rows.push((*index, pipeline.run(batch.clone()).await?));
    }
    Ok(Ran {
        events: batch.num_rows() as u64,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, TimestampMicrosecondArray};
    use freshet_backends::embedded::SegmentLog;
    use freshet_sql::load::parse_definitions;
    use freshet_sql::validate::validate;

    use super::*;

    const DEFINITIONS: &str = "
sources:
  - name: clicks
    stream: { partitions: 3 }
    schema: { user_id: int64, amount: float64, ts: timestamp }
    event_time: ts
transformations:
  - { name: doubled, sql: 'SELECT user_id, amount * 2.0 AS a, ts FROM clicks' }
";

    fn feed(relation: &str, value: &str) -> FeatureFeed {
        FeatureFeed {
            pipeline: LATEST,
            relation: relation.into(),
            key_column: "user_id".into(),
            time_column: "ts".into(),
            value_column: Some(value.into()),
            from_view: false,
        }
    }

    /// The log's rows, by partition and in each partition in log order:
    /// (user, amount, time); times repeat, so ties go by log order.
    fn appended() -> Vec<Vec<(i64, f64, i64)>> {
        (0..3i64)
            .map(|partition| {
                (0..(5 + 4 * partition))
                    .map(|row| {
                        let user = (partition * 7 + row * 3) % 5;
                        (user, (partition * 100 + row) as f64, row / 2)
                    })
                    .collect()
            })
            .collect()
    }

    /// Replays the log with `workers` workers, chunks of 2 rows, and returns
    /// each feed's events as collected, in push order.
    async fn collect(dir: &std::path::Path, workers: usize) -> Vec<Vec<EventRow>> {
        let definitions = parse_definitions(DEFINITIONS, "d.yaml").unwrap();
        let resolved = validate(&definitions, "d.yaml", dir).await.unwrap();
        let source = &resolved.streams["clicks"];
        let log = SegmentLog::open(dir.join("log")).unwrap();
        let mut sets = Vec::new();
        for _ in 0..workers {
            let pipeline = Pipeline::build(&resolved.definitions, "clicks")
                .await
                .unwrap();
            sets.push(vec![(LATEST, pipeline)]);
        }
        let feeds = [feed("clicks", "amount"), feed("doubled", "a")];
        let mut keys = KeyIds::default();
        let mut spill = Spill::new(&dir.join("spill"), feeds.len(), 1, 1 << 30);
        let mut collector = Collector::new(&feeds, &mut keys, &mut spill, None);
        replay(&log, source, sets, 2, &mut collector).await.unwrap();
        assert_eq!(collector.events, 5 + 9 + 13);
        (0..feeds.len())
            .map(|f| spill.detach(f, 0).unwrap().read().unwrap())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn workers_collect_the_log_in_order_whatever_their_number() {
        let dir = tempfile::tempdir().unwrap();
        let log = SegmentLog::open(dir.path().join("log")).unwrap();
        log.ensure_topic("clicks", 3).await.unwrap();
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("user_id", DataType::Int64, true),
            arrow::datatypes::Field::new("amount", DataType::Float64, true),
            arrow::datatypes::Field::new(
                "ts",
                DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None),
                true,
            ),
        ]));
        let rows = appended();
        for (partition, rows) in rows.iter().enumerate() {
            // Frames of 3 rows: with chunks of 2 rows, each frame is a chunk.
            for frame in rows.chunks(3) {
                let batch = RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(Int64Array::from_iter_values(frame.iter().map(|r| r.0))),
                        Arc::new(Float64Array::from_iter_values(frame.iter().map(|r| r.1))),
                        Arc::new(TimestampMicrosecondArray::from_iter_values(
                            frame.iter().map(|r| r.2),
                        )),
                    ],
                )
                .unwrap();
                log.append("clicks", partition as u32, batch).await.unwrap();
            }
        }
        drop(log);
        // The reference: log order, keys numbered as first seen.
        let mut numbers: Vec<i64> = Vec::new();
        let mut expected: Vec<(u32, i64, f64)> = Vec::new();
        for (user, amount, time) in rows.iter().flatten() {
            if !numbers.contains(user) {
                numbers.push(*user);
            }
            let number = numbers.iter().position(|u| u == user).unwrap() as u32;
            expected.push((number, *time, *amount));
        }
        let one = collect(dir.path(), 1).await;
        for (feed, scale) in [(0, 1.0), (1, 2.0)] {
            let got: Vec<(u32, i64, f64)> = one[feed]
                .iter()
                .map(|e| match e.value {
                    Value::Float(v) => (e.key, e.time, v),
                    ref other => panic!("a float value, not {other:?}"),
                })
                .collect();
            let want: Vec<(u32, i64, f64)> = expected
                .iter()
                .map(|(k, t, v)| (*k, *t, v * scale))
                .collect();
            assert_eq!(got, want, "feed {feed}");
            assert!(one[feed].windows(2).all(|w| w[0].seq < w[1].seq));
        }
        for workers in [2, 3] {
            assert_eq!(collect(dir.path(), workers).await, one, "{workers} workers");
        }
    }
}
