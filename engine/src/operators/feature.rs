//! [`FeatureOperator`]: one feature version's keyed state, fed with the rows of
//! the table it aggregates (or with a view's changed values).

use std::collections::HashMap;

use arrow::array::Array;
use arrow::record_batch::RecordBatch;
use freshet_sql::resolved::ResolvedFeature;
use freshet_sql::validate::RelationKind;
use freshet_storage::state::{column_family::OPERATOR_STATE, StateStore};

use super::{Changes, FeatureStats, SkippedRows, StoredFeature};
use crate::aggregate::event_list::{self, NewEvents};
use crate::aggregate::{slice_width, Aggregation, KeyState, Retention, SlicedState};
use crate::state_keys::feature_state_key;
use crate::value::{timestamps, value_at, Value};
use crate::{EngineError, Result};

/// Where a feature's values come from.
#[derive(Debug, Clone)]
pub enum FeatureInput {
    /// Events of a stream or stateless transformation, aggregated per key.
    Events {
        /// The aggregate and its retention.
        aggregation: Aggregation,
        /// The event-time column.
        time_column: String,
        /// The aggregated column; `None` for `count(*)`.
        value_column: Option<String>,
    },
    /// A column of a GROUP BY view, read as it currently is.
    View {
        /// The view's output column.
        column: String,
    },
}

impl FeatureInput {
    /// How a feature's operator reads and aggregates; `lateness` is its stream
    /// source's allowed lateness in microseconds (how long state keeps events that a
    /// late event may still need).
    pub fn of(feature: &ResolvedFeature, lateness: i64) -> Result<FeatureInput> {
        if feature.relation_kind == RelationKind::View {
            return Ok(FeatureInput::View {
                column: feature.aggregate.column.clone().unwrap_or_default(),
            });
        }
        Ok(FeatureInput::Events {
            aggregation: Aggregation {
                function: feature.aggregate.function,
                integer_input: feature.integer_input(),
                retention: Retention {
                    window: feature.window_micros(),
                    lateness,
                },
            },
            time_column: feature.time_column.clone().ok_or_else(|| {
                EngineError::Unsupported(format!(
                    "feature '{}': its source has no event time",
                    feature.name()
                ))
            })?,
            value_column: feature.aggregate.column.clone(),
        })
    }
}

/// One feature version's operator.
///
/// A windowed feature appends each micro-batch's events to its keys' stored
/// lists ([`event_list`]) without reading them, unless it evaluates itself at
/// each event for value statistics; a lifetime feature (its folded events) and
/// a view's feature (the current value) rewrite each touched key's entry.
pub struct FeatureOperator {
    /// Its table: `name@vN`, the online-store table and state-key prefix.
    pub table: String,
    /// The relation (source, transformation or view) it reads.
    pub relation: String,
    /// The entity key column.
    pub key_column: String,
    /// How it gets values.
    pub input: FeatureInput,
    /// Whether value transforms need statistics of its values.
    pub track_stats: bool,
    working: HashMap<Vec<u8>, StoredFeature>,
    /// Windowed features: each touched key's new events.
    appended: HashMap<Vec<u8>, NewEvents>,
    /// Windowed features with statistics: each touched key's events, in
    /// slices, so evaluating at each event does not fold the whole window.
    windows: HashMap<Vec<u8>, SlicedState>,
    /// The largest event time seen, which sets what appends expire.
    watermark: i64,
    stats: Option<FeatureStats>,
    /// Rows skipped since the last flush.
    skipped: SkippedRows,
}

impl FeatureOperator {
    /// A new operator with nothing loaded.
    pub fn new(
        table: String,
        relation: String,
        key_column: String,
        input: FeatureInput,
        track_stats: bool,
    ) -> FeatureOperator {
        FeatureOperator {
            table,
            relation,
            key_column,
            input,
            track_stats,
            working: HashMap::new(),
            appended: HashMap::new(),
            windows: HashMap::new(),
            watermark: i64::MIN,
            stats: None,
            skipped: SkippedRows::default(),
        }
    }

    fn load(&mut self, store: &dyn StateStore, key: &[u8]) -> Result<&mut StoredFeature> {
        if !self.working.contains_key(key) {
            let stored = match store.get(OPERATOR_STATE, &feature_state_key(&self.table, key))? {
                Some(bytes) => StoredFeature::decode(&bytes)?,
                None => match self.input {
                    FeatureInput::Events { .. } => StoredFeature::Events(KeyState::default()),
                    FeatureInput::View { .. } => StoredFeature::Current(None),
                },
            };
            self.working.insert(key.to_vec(), stored);
        }
        Ok(self.working.get_mut(key).expect("loaded above"))
    }

    fn load_window(
        &mut self,
        store: &dyn StateStore,
        key: &[u8],
        aggregation: &Aggregation,
    ) -> Result<&mut SlicedState> {
        if !self.windows.contains_key(key) {
            let state = match store.get(OPERATOR_STATE, &feature_state_key(&self.table, key))? {
                Some(bytes) => event_list::sliced_state(&bytes, aggregation)?,
                None => SlicedState::new(aggregation.retention.window.map_or(1, slice_width)),
            };
            self.windows.insert(key.to_vec(), state);
        }
        Ok(self.windows.get_mut(key).expect("loaded above"))
    }

    fn stats(&mut self, store: &dyn StateStore) -> Result<&mut FeatureStats> {
        if self.stats.is_none() {
            let loaded = store
                .get(OPERATOR_STATE, &feature_state_key(&self.table, b""))?
                .map(|bytes| FeatureStats::decode(&bytes))
                .unwrap_or_default();
            self.stats = Some(loaded);
        }
        Ok(self.stats.as_mut().expect("loaded above"))
    }

    /// Folds the rows of one micro-batch. Rows are taken in event-time order (ties
    /// in arrival order); `watermark` is the lane's largest event time (over all partitions) before
    /// this batch. Rows without a key or an event time are skipped and counted
    /// (committed with the state at the next flush); returns those counts.
    pub fn apply_rows(
        &mut self,
        store: &dyn StateStore,
        batches: &[RecordBatch],
        watermark: i64,
    ) -> Result<SkippedRows> {
        let FeatureInput::Events {
            aggregation,
            time_column,
            value_column,
        } = self.input.clone()
        else {
            return Ok(SkippedRows::default());
        };
        let mut rows: Vec<(i64, Value, Option<Value>)> = Vec::new();
        let mut skipped = SkippedRows::default();
        for batch in batches {
            let column = |name: &str| {
                batch.column_by_name(name).cloned().ok_or_else(|| {
                    EngineError::Unsupported(format!("'{}' has no column '{name}'", self.relation))
                })
            };
            let keys = column(&self.key_column)?;
            let times = timestamps(&column(&time_column)?)?;
            let values = value_column.as_deref().map(column).transpose()?;
            for row in 0..batch.num_rows() {
                let Some(key) = value_at(&keys, row)? else {
                    skipped.no_key += 1;
                    continue;
                };
                if times.is_null(row) {
                    skipped.no_event_time += 1;
                    continue;
                }
                let value = match &values {
                    None => Some(Value::Bool(true)),
                    Some(values) => value_at(values, row)?,
                };
                rows.push((times.value(row), key, value));
            }
        }
        self.skipped.add(skipped);
        let windowed = aggregation.retention.window.is_some();
        let track = self.track_stats;
        if windowed && !track {
            self.append_rows(rows, watermark);
            return Ok(skipped);
        }
        rows.sort_by_key(|(t, _, _)| *t);
        let mut high = watermark;
        for (event_time, key, value) in rows {
            high = high.max(event_time);
            let Some(value) = value else { continue };
            let key = key.key_bytes();
            if windowed {
                self.appended
                    .entry(key.clone())
                    .or_default()
                    .push(event_time, &value);
            }
            let seen = if windowed {
                let state = self.load_window(store, &key, &aggregation)?;
                state.insert(&aggregation, high, event_time, value);
                track.then(|| state.evaluate(&aggregation, event_time))
            } else {
                let events = match self.load(store, &key)? {
                    StoredFeature::Events(events) => events,
                    StoredFeature::Current(_) => {
                        return Err(EngineError::Corrupt(format!(
                            "feature '{}' holds a view value",
                            self.table
                        )))
                    }
                };
                events.insert(&aggregation, high, event_time, value);
                track.then(|| events.evaluate(&aggregation, event_time))
            };
            if let Some(v) = seen.flatten().and_then(|v| v.as_f64()) {
                self.stats(store)?.observe(v);
            }
        }
        self.watermark = self.watermark.max(high);
        Ok(skipped)
    }

    /// A windowed feature without statistics: adds each key's events of `rows`
    /// (event time, key, value) to its appends. Grouped by key first (a sort,
    /// which keeps arrival order among a key's equal times), so each key's
    /// appends are looked up once per batch rather than once per row. Two keys
    /// compare equal under [`Value::total_cmp`] exactly when their
    /// [`Value::key_bytes`] are equal (floats by bits), so a group is one key.
    fn append_rows(&mut self, mut rows: Vec<(i64, Value, Option<Value>)>, watermark: i64) {
        let high = rows.iter().map(|(t, _, _)| *t).fold(watermark, i64::max);
        rows.sort_by(|(t, key, _), (u, other, _)| key.total_cmp(other).then(t.cmp(u)));
        for group in rows.chunk_by(|(_, key, _), (_, other, _)| key.total_cmp(other).is_eq()) {
            let events = self.appended.entry(group[0].1.key_bytes()).or_default();
            for (event_time, _, value) in group {
                if let Some(value) = value {
                    events.push(*event_time, value);
                }
            }
        }
        self.watermark = self.watermark.max(high);
    }

    /// Sets the current value for one key (features over a view).
    pub fn set_current(
        &mut self,
        store: &dyn StateStore,
        key: &[u8],
        value: Option<Value>,
    ) -> Result<()> {
        if self.track_stats {
            if let Some(v) = value.as_ref().and_then(Value::as_f64) {
                self.stats(store)?.observe(v);
            }
        }
        *self.load(store, key)? = StoredFeature::Current(value);
        Ok(())
    }

    /// Moves what changed into `changes`: each touched key's entry (for a
    /// windowed feature, the append of its new events) and the statistics
    /// (what serving reads, from state or from the copy a commit makes of
    /// them), and the running count of skipped rows.
    pub fn flush(&mut self, store: &dyn StateStore, changes: &mut Changes) -> Result<()> {
        if !self.skipped.is_empty() {
            let mut total = SkippedRows::load(store, &self.table)?;
            total.add(self.skipped);
            total.write(&self.table, &mut changes.state);
            changes
                .skipped
                .push((self.table.clone(), std::mem::take(&mut self.skipped)));
        }
        if let FeatureInput::Events { aggregation, .. } = &self.input {
            // In key order: RocksDB then inserts each append into its memtable
            // next to the one before instead of searching from the top.
            let mut appended: Vec<_> = self.appended.drain().collect();
            appended.sort_unstable_by(|(key, _), (other, _)| key.cmp(other));
            for (key, events) in appended {
                changes.state.append_timed(
                    OPERATOR_STATE,
                    feature_state_key(&self.table, &key),
                    events.encode(&aggregation.retention, self.watermark),
                );
            }
        }
        self.windows.clear();
        for (key, stored) in self.working.drain() {
            changes.state.put(
                OPERATOR_STATE,
                feature_state_key(&self.table, &key),
                stored.encode(),
            );
        }
        if let Some(stats) = self.stats.take() {
            changes.state.put(
                OPERATOR_STATE,
                feature_state_key(&self.table, b""),
                stats.encode(),
            );
        }
        Ok(())
    }
}
