//! [`Manifest`]: which of a partition's segments are archived, kept in the
//! partition's folder as `archive.json` and replaced atomically.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::super::partition::sync_dir;
use freshet_storage::{Result, StorageError};

const FILE: &str = "archive.json";

/// One archived segment: its rows and the bytes the archive must give back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedSegment {
    /// The offset of its first row.
    pub base: u64,
    /// The offset after its last row.
    pub end: u64,
    /// The object's size.
    pub bytes: u64,
    /// The CRC-32 of the object's bytes.
    pub crc32: u32,
}

/// The archived segments of a partition: contiguous from row 0, oldest first,
/// and the archive they went to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The archive's URI (`s3://…` or `file://…`); empty while nothing is archived.
    pub archive: String,
    /// The segments, oldest first.
    pub segments: Vec<ArchivedSegment>,
}

impl Manifest {
    /// The manifest in `dir`; empty when there is none.
    pub fn load(dir: &Path) -> Result<Manifest> {
        let path = dir.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
                path,
                byte_offset: 0,
                reason: format!("unreadable archive manifest: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(StorageError::io(path, e)),
        }
    }

    /// Writes the manifest to `dir` durably: a new file renamed over the old.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(FILE);
        let partial = dir.join(format!("{FILE}.partial"));
        let bytes = serde_json::to_vec(self).expect("a manifest serialises");
        std::fs::write(&partial, bytes).map_err(|e| StorageError::io(&partial, e))?;
        std::fs::File::open(&partial)
            .and_then(|file| file.sync_all())
            .map_err(|e| StorageError::io(&partial, e))?;
        std::fs::rename(&partial, &path).map_err(|e| StorageError::io(&path, e))?;
        sync_dir(dir)
    }

    /// The offset after the last archived row; 0 when nothing is archived.
    pub fn end(&self) -> u64 {
        self.segments.last().map_or(0, |segment| segment.end)
    }

    /// The archived segment holding row `offset`, and the one after it.
    pub fn covering(&self, offset: u64) -> Option<(ArchivedSegment, Option<ArchivedSegment>)> {
        let at = self
            .segments
            .partition_point(|segment| segment.end <= offset);
        let found = *self.segments.get(at)?;
        (found.base <= offset).then(|| (found, self.segments.get(at + 1).copied()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(base: u64, end: u64) -> ArchivedSegment {
        ArchivedSegment {
            base,
            end,
            bytes: 1,
            crc32: 0,
        }
    }

    #[test]
    fn covering_finds_the_segment_of_a_row_and_its_successor() {
        let manifest = Manifest {
            archive: "file:///a".into(),
            segments: vec![segment(0, 10), segment(10, 25)],
        };
        assert_eq!(manifest.end(), 25);
        assert_eq!(
            manifest.covering(0),
            Some((segment(0, 10), Some(segment(10, 25))))
        );
        assert_eq!(manifest.covering(9).unwrap().0, segment(0, 10));
        assert_eq!(manifest.covering(10), Some((segment(10, 25), None)));
        assert_eq!(manifest.covering(25), None);
    }

    #[test]
    fn saved_manifests_load_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), Manifest::default());
        let manifest = Manifest {
            archive: "s3://b/p".into(),
            segments: vec![segment(0, 7)],
        };
        manifest.save(dir.path()).unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), manifest);
    }
}
