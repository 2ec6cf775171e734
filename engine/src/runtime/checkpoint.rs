//! [`Checkpoint`]: where a source's processing stands, committed in the same write
//! batch as the operator state it reflects.

use freshet_storage::log::Position;
use freshet_storage::state::{column_family::SOURCE_POSITIONS, StateStore, WriteBatch};
use serde::{Deserialize, Serialize};

use crate::{EngineError, Result};

/// A source's committed progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Per partition, the position to read next (as its 16 ordered bytes).
    positions: Vec<[u8; 16]>,
    /// Per partition, how many rows have been processed.
    pub processed: Vec<u64>,
    /// The largest event time processed (µs), `i64::MIN` before any.
    pub watermark: i64,
}

fn key(source: &str) -> Vec<u8> {
    format!("source/{source}").into_bytes()
}

impl Checkpoint {
    /// The committed checkpoint of `source`, or the start of every partition.
    pub fn load(store: &dyn StateStore, source: &str, partitions: u32) -> Result<Checkpoint> {
        let mut checkpoint = match store.get(SOURCE_POSITIONS, &key(source))? {
            Some(bytes) => bincode::deserialize(&bytes)
                .map_err(|e| EngineError::Corrupt(format!("checkpoint of '{source}': {e}")))?,
            None => Checkpoint {
                positions: Vec::new(),
                processed: Vec::new(),
                watermark: i64::MIN,
            },
        };
        let partitions = partitions as usize;
        checkpoint
            .positions
            .resize(partitions, Position::START.to_bytes());
        checkpoint.processed.resize(partitions, 0);
        Ok(checkpoint)
    }

    /// Where partition `partition` resumes.
    pub fn position(&self, partition: u32) -> Position {
        Position::from_bytes(&self.positions[partition as usize]).unwrap_or(Position::START)
    }

    /// Records that partition `partition` was processed up to `next`.
    pub fn advance(&mut self, partition: u32, next: Position, rows: u64) {
        self.positions[partition as usize] = next.to_bytes();
        self.processed[partition as usize] += rows;
    }

    /// Every partition's resume position.
    pub fn positions(&self) -> Vec<Position> {
        (0..self.positions.len() as u32)
            .map(|p| self.position(p))
            .collect()
    }

    /// Adds the checkpoint to `batch`.
    pub fn write(&self, source: &str, batch: &mut WriteBatch) {
        batch.put(
            SOURCE_POSITIONS,
            key(source),
            bincode::serialize(self).expect("checkpoint serializes"),
        );
    }
}
