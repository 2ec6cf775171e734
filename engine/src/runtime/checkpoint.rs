//! [`Checkpoint`]: where a lane's processing stands, committed in the same write
//! batch as the operator state it reflects.

use freshet_storage::log::Position;
use serde::{Deserialize, Serialize};

/// A lane's committed progress through its source's partitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Per partition, the position to read next (as its 16 ordered bytes).
    positions: Vec<[u8; 16]>,
    /// Per partition, how many rows have been processed.
    pub processed: Vec<u64>,
    /// The largest event time processed (µs), `i64::MIN` before any.
    pub watermark: i64,
}

impl Checkpoint {
    /// The start of every one of `partitions` partitions.
    pub fn start(partitions: u32) -> Checkpoint {
        Checkpoint {
            positions: vec![Position::START.to_bytes(); partitions as usize],
            processed: vec![0; partitions as usize],
            watermark: i64::MIN,
        }
    }

    /// A checkpoint at the given positions, having processed `processed` rows of
    /// each partition (for a lane that starts at the head, with nothing to fold).
    pub fn at(positions: &[Position], processed: Vec<u64>) -> Checkpoint {
        Checkpoint {
            positions: positions.iter().map(|p| p.to_bytes()).collect(),
            processed,
            watermark: i64::MIN,
        }
    }

    /// Makes room for `partitions` partitions (a source's partition count only grows).
    pub fn resize(&mut self, partitions: u32) {
        let partitions = partitions as usize;
        self.positions
            .resize(partitions, Position::START.to_bytes());
        self.processed.resize(partitions, 0);
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

    /// Rows processed over all partitions.
    pub fn total_processed(&self) -> u64 {
        self.processed.iter().sum()
    }
}
