//! Archiving a partition: its sealed segments uploaded in order and verified,
//! then the local files past the retention removed.

use std::time::SystemTime;

use bytes::Bytes;
use object_store::{ObjectStoreExt, PutPayload};
use tracing::info;

use super::super::partition::{Partition, SealedSegment};
use super::{Archive, ArchivedSegment};
use freshet_storage::config::LocalRetention;
use freshet_storage::{Result, StorageError};

/// What one archiving pass over a partition did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    /// Segments uploaded and verified.
    pub uploaded: usize,
    /// Local segment files removed.
    pub removed: usize,
}

impl Archive {
    /// Uploads the partition's sealed segments that are not archived yet, in
    /// order, then removes the local ones past the retention. A failed upload
    /// stops the pass with the error; the segment stays local and the next
    /// pass tries again.
    pub async fn archive_partition(
        &self,
        topic: &str,
        number: u32,
        partition: &Partition,
    ) -> Result<PassReport> {
        let mut report = PassReport::default();
        let sealed = partition.sealed_segments()?;
        for segment in &sealed {
            let mut manifest = partition.archived();
            if segment.base < manifest.end() {
                continue;
            }
            if segment.base > manifest.end() {
                return Err(StorageError::Internal(format!(
                    "{topic}/{number}: segment at row {} would leave rows {}..{} out of the archive",
                    segment.base,
                    manifest.end(),
                    segment.base
                )));
            }
            let archived = self.upload(topic, number, segment).await?;
            if manifest.segments.is_empty() {
                manifest.archive = self.uri().to_string();
            }
            manifest.segments.push(archived);
            partition.set_archived(manifest)?;
            report.uploaded += 1;
        }
        report.removed = self.apply_retention(partition).await?;
        Ok(report)
    }

    /// Uploads one segment file and reads it back; the manifest entry when
    /// the archive holds exactly its bytes.
    async fn upload(
        &self,
        topic: &str,
        number: u32,
        segment: &SealedSegment,
    ) -> Result<ArchivedSegment> {
        let path = segment.path.clone();
        let bytes = tokio::task::spawn_blocking(move || {
            std::fs::read(&path).map_err(|e| StorageError::io(&path, e))
        })
        .await
        .map_err(|e| StorageError::Internal(format!("archive read task failed: {e}")))??;
        let archived = ArchivedSegment {
            base: segment.base,
            end: segment.end,
            bytes: bytes.len() as u64,
            crc32: crc32fast::hash(&bytes),
        };
        let name = Archive::object_name(topic, number, &archived);
        let key = self.at.key(&name);
        let failed = |what: &str, e: object_store::Error| StorageError::Archive {
            object: self.at.uri_of(&name),
            reason: match freshet_objects::explain_store_error(&e) {
                Some(explained) => format!("{what}: {explained}"),
                None => format!("{what}: {e}"),
            },
        };
        self.at
            .store
            .put(&key, PutPayload::from(Bytes::from(bytes)))
            .await
            .map_err(|e| failed("upload failed", e))?;
        let stored = self
            .at
            .store
            .get(&key)
            .await
            .map_err(|e| failed("reading back the upload failed", e))?
            .bytes()
            .await
            .map_err(|e| failed("reading back the upload failed", e))?;
        if stored.len() as u64 != archived.bytes || crc32fast::hash(&stored) != archived.crc32 {
            return Err(StorageError::Archive {
                object: self.at.uri_of(&name),
                reason: "the uploaded object does not read back as the segment's bytes".into(),
            });
        }
        info!(object = %self.at.uri_of(&name), rows = archived.end - archived.base, bytes = archived.bytes, "archived a log segment");
        Ok(archived)
    }

    /// Removes the oldest local segments that are archived and past the
    /// retention; how many.
    async fn apply_retention(&self, partition: &Partition) -> Result<usize> {
        let Some(retention) = self.retention else {
            return Ok(0);
        };
        let mut removed = 0;
        loop {
            let archived_end = partition.archived().end();
            let Some(oldest) = partition.sealed_segments()?.into_iter().next() else {
                return Ok(removed);
            };
            let past = match retention {
                LocalRetention::Age(age) => SystemTime::now()
                    .duration_since(oldest.modified)
                    .is_ok_and(|elapsed| elapsed >= age),
                LocalRetention::Bytes(bytes) => partition.local_bytes()? > bytes,
            };
            if oldest.end > archived_end
                || !past
                || !partition.remove_oldest_segment(oldest.base)?
            {
                return Ok(removed);
            }
            removed += 1;
        }
    }
}
