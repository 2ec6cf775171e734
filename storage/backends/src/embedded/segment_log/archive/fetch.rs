//! Reading archived rows: the objects fetched and checked whole, kept in a
//! small cache, the next one of a partition prefetched while the current one
//! is folded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt, Shared};
use object_store::ObjectStoreExt;

use super::super::frame::{self, scan_frames, ScannedFrame, HEADER_LEN};
use super::super::partition::Partition;
use super::{Archive, ArchivedSegment};
use freshet_storage::{Result, StorageError};

/// Archived objects held at once (fetched or being fetched), over all
/// partitions: the one each reader folds and the one prefetched after it.
const CACHED_OBJECTS: usize = 4;

/// An archived segment fetched and checked: its bytes and its frames.
struct Fetched {
    bytes: Bytes,
    frames: Vec<ScannedFrame>,
}

type Fetch = Shared<BoxFuture<'static, std::result::Result<Arc<Fetched>, String>>>;

/// The archived objects fetched lately, by name, newest last.
#[derive(Default)]
pub(super) struct ObjectCache {
    entries: Mutex<VecDeque<(String, Fetch)>>,
}

impl ObjectCache {
    /// The fetch of `name`, started (in the background) when not cached.
    fn get_or_start(&self, name: &str, start: impl FnOnce() -> Fetch) -> Fetch {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = entries.iter().position(|(cached, _)| cached == name) {
            let entry = entries.remove(at).expect("position is in range");
            let fetch = entry.1.clone();
            entries.push_back(entry);
            return fetch;
        }
        let fetch = start();
        entries.push_back((name.to_string(), fetch.clone()));
        while entries.len() > CACHED_OBJECTS {
            entries.pop_front();
        }
        fetch
    }

    /// Forgets `name` (a failed fetch is tried again on the next read).
    fn forget(&self, name: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|(cached, _)| cached != name);
    }
}

impl Archive {
    /// Reads archived rows of a partition from `from` on, up to `max_rows`
    /// (at least one frame) and at most to the end of the archived segment
    /// holding `from`. Starts fetching the next archived segment when it is
    /// not local.
    pub async fn read(
        self: &Arc<Self>,
        topic: &str,
        number: u32,
        partition: &Partition,
        from: u64,
        max_rows: usize,
    ) -> Result<Vec<(u64, RecordBatch)>> {
        let manifest = partition.archived();
        let Some((segment, next)) = manifest.covering(from) else {
            return Err(StorageError::Internal(format!(
                "row {from} of {topic}/{number} is neither local nor archived"
            )));
        };
        let name = Archive::object_name(topic, number, &segment);
        let fetch = self.fetch(&name, segment);
        if let Some(next) = next.filter(|next| next.base < partition.local_start()) {
            let next_name = Archive::object_name(topic, number, &next);
            // Started in the background; its result waits in the cache.
            let _prefetch = self.fetch(&next_name, next);
        }
        // A fetch that failed earlier (a prefetch, say) is tried once more
        // before the read fails.
        let fetched = match fetch.await {
            Ok(fetched) => fetched,
            Err(_) => {
                self.cache.forget(&name);
                match self.fetch(&name, segment).await {
                    Ok(fetched) => fetched,
                    Err(reason) => {
                        self.cache.forget(&name);
                        return Err(StorageError::Archive {
                            object: self.at.uri_of(&name),
                            reason,
                        });
                    }
                }
            }
        };
        let start = fetched
            .frames
            .partition_point(|f| f.base_offset + u64::from(f.rows) <= from);
        let mut rows = 0;
        let mut out = Vec::new();
        for found in &fetched.frames[start..] {
            if rows >= max_rows.max(1) {
                break;
            }
            let payload_at = found.pos as usize + HEADER_LEN;
            let batch = frame::decode_payload(
                &fetched.bytes[payload_at..payload_at + found.payload_len as usize],
            )?;
            let skip = from.saturating_sub(found.base_offset) as usize;
            rows += batch.num_rows() - skip;
            out.push((
                found.base_offset + skip as u64,
                batch.slice(skip, batch.num_rows() - skip),
            ));
        }
        Ok(out)
    }

    /// The fetch of one archived segment, shared by every reader of it.
    fn fetch(self: &Arc<Self>, name: &str, segment: ArchivedSegment) -> Fetch {
        self.cache.get_or_start(name, || {
            let archive = self.clone();
            let name = name.to_string();
            let task = tokio::spawn(async move { archive.fetch_checked(&name, segment).await });
            async move {
                task.await
                    .map_err(|e| format!("fetch task failed: {e}"))?
                    .map(Arc::new)
            }
            .boxed()
            .shared()
        })
    }

    /// Gets one archived segment and checks it against its manifest entry and
    /// its frames' checksums; why not, in words naming what is wrong.
    async fn fetch_checked(
        &self,
        name: &str,
        segment: ArchivedSegment,
    ) -> std::result::Result<Fetched, String> {
        let explain = |e: object_store::Error| {
            freshet_objects::explain_store_error(&e).unwrap_or_else(|| e.to_string())
        };
        let bytes = self
            .at
            .store
            .get(&self.at.key(name))
            .await
            .map_err(explain)?
            .bytes()
            .await
            .map_err(explain)?;
        if bytes.len() as u64 != segment.bytes {
            return Err(format!(
                "corrupt: {} bytes, the manifest says {}",
                bytes.len(),
                segment.bytes
            ));
        }
        if crc32fast::hash(&bytes) != segment.crc32 {
            return Err("corrupt: its checksum does not match the manifest's".into());
        }
        let scan = scan_frames(&bytes[..], segment.base).map_err(|e| e.to_string())?;
        if scan.stop.is_some() || scan.end_offset != segment.end {
            return Err(format!(
                "corrupt: its frames hold rows {}..{}, the manifest says {}..{}",
                segment.base, scan.end_offset, segment.base, segment.end
            ));
        }
        Ok(Fetched {
            bytes,
            frames: scan.frames,
        })
    }
}
