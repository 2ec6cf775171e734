//! [`Spill`]: a training-set build's feature events, split by entity-key
//! partition, held in memory up to a byte budget and appended to files on disk
//! beyond it, so a build scales past memory one partition at a time.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tracing::debug;

use crate::value::Value;
use crate::{EngineError, Result};

/// One input event of one feature: its entity key number, event time, place in
/// the replay (ties in event time go by it), and aggregated value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    /// The entity key's number ([`super::keys::KeyIds`]).
    pub key: u32,
    /// Event time, µs.
    pub time: i64,
    /// Order of arrival in the replay.
    pub seq: u64,
    /// The value the aggregate folds.
    pub value: Value,
}

impl EventRow {
    fn bytes(&self) -> usize {
        std::mem::size_of::<EventRow>()
            + match &self.value {
                Value::Str(s) => s.len(),
                _ => 0,
            }
    }
}

/// Numbers the spill directories of concurrent builds.
static BUILDS: AtomicU64 = AtomicU64::new(0);

/// One file of spilled chunks.
struct SpillFile {
    writer: BufWriter<File>,
    path: PathBuf,
    chunks: usize,
}

/// Feature events by (feature, partition), in memory and in spill files.
pub struct Spill {
    dir: PathBuf,
    partitions: usize,
    budget: usize,
    buffered: usize,
    memory: Vec<Vec<Vec<EventRow>>>,
    files: Vec<Vec<Option<SpillFile>>>,
    spilled: u64,
}

impl Spill {
    /// Buffers for `features` features in `partitions` partitions, spilling under
    /// `parent` once more than `budget` bytes are held.
    pub fn new(
        parent: &std::path::Path,
        features: usize,
        partitions: usize,
        budget: usize,
    ) -> Spill {
        let build = BUILDS.fetch_add(1, Ordering::Relaxed);
        Spill {
            dir: parent.join(format!("training-{}-{build}", std::process::id())),
            partitions: partitions.max(1),
            budget,
            buffered: 0,
            memory: vec![vec![Vec::new(); partitions.max(1)]; features],
            files: (0..features)
                .map(|_| (0..partitions.max(1)).map(|_| None).collect())
                .collect(),
            spilled: 0,
        }
    }

    /// The number of partitions.
    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// The partition of an entity key number.
    pub fn partition_of(&self, key: u32) -> usize {
        key as usize % self.partitions
    }

    /// Rows written to disk so far.
    pub fn spilled_rows(&self) -> u64 {
        self.spilled
    }

    /// Adds one event of feature `feature`; writes every buffer to disk when the
    /// budget is exceeded.
    pub fn push(&mut self, feature: usize, row: EventRow) -> Result<()> {
        self.buffered += row.bytes();
        let partition = self.partition_of(row.key);
        self.memory[feature][partition].push(row);
        if self.buffered > self.budget {
            self.spill_all()?;
        }
        Ok(())
    }

    fn spill_all(&mut self) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| spill_error(&self.dir, e))?;
        for (feature, partitions) in self.memory.iter_mut().enumerate() {
            for (partition, rows) in partitions.iter_mut().enumerate() {
                if rows.is_empty() {
                    continue;
                }
                let slot = &mut self.files[feature][partition];
                if slot.is_none() {
                    let path = self.dir.join(format!("f{feature}-p{partition}.bin"));
                    let created = File::create(&path).map_err(|e| spill_error(&path, e))?;
                    *slot = Some(SpillFile {
                        writer: BufWriter::new(created),
                        path,
                        chunks: 0,
                    });
                }
                let file = slot.as_mut().expect("created above");
                bincode::serialize_into(&mut file.writer, rows)
                    .map_err(|e| spill_error(&file.path, std::io::Error::other(e)))?;
                file.chunks += 1;
                self.spilled += rows.len() as u64;
                rows.clear();
            }
        }
        debug!(dir = %self.dir.display(), bytes = self.buffered, "spilled training events");
        self.buffered = 0;
        Ok(())
    }

    /// Takes every event of one feature's partition, from disk and memory.
    pub fn take(&mut self, feature: usize, partition: usize) -> Result<Vec<EventRow>> {
        let mut rows = Vec::new();
        if let Some(mut file) = self.files[feature][partition].take() {
            let path = file.path;
            file.writer.flush().map_err(|e| spill_error(&path, e))?;
            drop(file.writer);
            let mut reader = BufReader::new(File::open(&path).map_err(|e| spill_error(&path, e))?);
            for _ in 0..file.chunks {
                let chunk: Vec<EventRow> = bincode::deserialize_from(&mut reader)
                    .map_err(|e| spill_error(&path, std::io::Error::other(e)))?;
                rows.extend(chunk);
            }
            std::fs::remove_file(&path).map_err(|e| spill_error(&path, e))?;
        }
        let held = std::mem::take(&mut self.memory[feature][partition]);
        self.buffered = self
            .buffered
            .saturating_sub(held.iter().map(EventRow::bytes).sum());
        if rows.is_empty() {
            return Ok(held);
        }
        rows.extend(held);
        Ok(rows)
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        if self.dir.exists() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A spill file's I/O error, naming the file.
fn spill_error(path: &Path, source: std::io::Error) -> EngineError {
    EngineError::Spill {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: u32, seq: u64) -> EventRow {
        EventRow {
            key,
            time: seq as i64,
            seq,
            value: Value::Str(format!("v{seq}")),
        }
    }

    #[test]
    fn spilled_and_held_rows_come_back_whole_by_partition() {
        let dir = tempfile::tempdir().unwrap();
        let mut held = Spill::new(dir.path(), 2, 4, usize::MAX);
        let mut spilled = Spill::new(dir.path(), 2, 4, 0);
        for seq in 0..100u64 {
            let key = (seq * 7 % 13) as u32;
            let feature = (seq % 2) as usize;
            held.push(feature, row(key, seq)).unwrap();
            spilled.push(feature, row(key, seq)).unwrap();
        }
        assert_eq!(held.spilled_rows(), 0);
        assert_eq!(spilled.spilled_rows(), 100);
        let mut total = 0;
        for feature in 0..2 {
            for partition in 0..4 {
                let a = held.take(feature, partition).unwrap();
                let b = spilled.take(feature, partition).unwrap();
                assert_eq!(a, b);
                assert!(a.iter().all(|r| r.key as usize % 4 == partition));
                total += a.len();
            }
        }
        assert_eq!(total, 100);
        let dir_of_spilled = spilled.dir.clone();
        drop(spilled);
        assert!(!dir_of_spilled.exists());
    }
}
