//! One partition of the segment log: its segment files, the in-memory frame index,
//! the single writer and the group commit that makes appends durable, and the
//! manifest of the segments archived (whose local files may be gone).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::SystemTime;

use arrow::record_batch::RecordBatch;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::archive::Manifest;
use super::frame::{self, scan_frames, FrameHeader, ScanStop, HEADER_LEN};
use freshet_storage::{Result, StorageError};

/// One segment file of the partition.
struct Segment {
    base: u64,
    path: PathBuf,
    file: Arc<File>,
}

/// A sealed (no longer appended to) segment file: what can be archived.
#[derive(Debug, Clone)]
pub struct SealedSegment {
    /// The offset of its first row.
    pub base: u64,
    /// The offset after its last row.
    pub end: u64,
    /// Its file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// When it was last written.
    pub modified: SystemTime,
}

/// Where one frame sits: the rows it holds and its place on disk.
#[derive(Clone, Copy)]
struct FrameEntry {
    base_offset: u64,
    rows: u32,
    /// The segment's number since the partition was opened (see
    /// [`FrameIndex::dropped`]).
    segment: usize,
    file_pos: u64,
    payload_len: u32,
}

impl FrameEntry {
    fn end_offset(&self) -> u64 {
        self.base_offset + u64::from(self.rows)
    }
}

/// Everything a reader needs to find a row: the local segments and their
/// frames in offset order. Segments leave from the front once archived.
#[derive(Default)]
struct FrameIndex {
    segments: VecDeque<Segment>,
    frames: VecDeque<FrameEntry>,
    /// How many segments were removed from the front since opening: segment
    /// number `n` is `segments[n - dropped]`.
    dropped: usize,
}

impl FrameIndex {
    fn segment(&self, number: usize) -> &Segment {
        &self.segments[number - self.dropped]
    }
}

/// The append side, behind one lock: appends to a partition are serialised.
struct Writer {
    /// Number (see [`FrameIndex::dropped`]) of the segment being appended to.
    active_segment: usize,
    active_file: Arc<File>,
    active_path: PathBuf,
    active_len: u64,
    /// Offset the next appended row gets.
    next_offset: u64,
}

/// Group-commit bookkeeping: how far the partition is known durable.
struct SyncState {
    synced_offset: u64,
    syncing: bool,
}

/// A frame located for reading, detached from the index lock.
struct FrameRead {
    entry: FrameEntry,
    file: Arc<File>,
    path: PathBuf,
}

/// One partition's files and the machinery to append to and read them.
pub struct Partition {
    dir: PathBuf,
    segment_bytes: u64,
    writer: Mutex<Writer>,
    index: RwLock<FrameIndex>,
    archived: RwLock<Manifest>,
    sync: Mutex<SyncState>,
    synced: Condvar,
    durable_head: watch::Sender<u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn segment_path(dir: &Path, base_offset: u64) -> PathBuf {
    dir.join(format!("{base_offset:020}.seg"))
}

fn open_segment_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| StorageError::io(path, e))
}

/// Makes a directory's entries (new files) durable.
pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io(dir, e))
}

impl Partition {
    /// Opens (or creates) the partition in `dir`, scanning every segment. A torn
    /// frame at the end of the last segment (a crash mid-append) is cut off; any
    /// other bad frame is reported as corruption. Rows before the first local
    /// segment must be in the archive manifest.
    pub fn open(dir: &Path, segment_bytes: u64) -> Result<Partition> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let mut bases = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))? {
            let entry = entry.map_err(|e| StorageError::io(dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(base) = name
                .strip_suffix(".seg")
                .and_then(|b| b.parse::<u64>().ok())
            {
                bases.push(base);
            }
        }
        bases.sort_unstable();
        let archived = Manifest::load(dir)?;
        if bases.is_empty() {
            let base = archived.end();
            open_segment_file(&segment_path(dir, base))?;
            sync_dir(dir)?;
            bases.push(base);
        }
        if archived.end() < bases[0] {
            return Err(StorageError::Corrupt {
                path: segment_path(dir, bases[0]),
                byte_offset: 0,
                reason: format!(
                    "rows {}..{} are neither in a local segment nor in the archive manifest",
                    archived.end(),
                    bases[0]
                ),
            });
        }

        let mut index = FrameIndex::default();
        let mut expected_offset = bases[0];
        let mut active_len = 0;
        let last = bases.len() - 1;
        for (number, base) in bases.iter().copied().enumerate() {
            let path = segment_path(dir, base);
            if base != expected_offset {
                return Err(StorageError::Corrupt {
                    path,
                    byte_offset: 0,
                    reason: format!("segment starts at row {base}, expected {expected_offset}"),
                });
            }
            let file = open_segment_file(&path)?;
            let scan = scan_frames(&file, base).map_err(|e| StorageError::io(&path, e))?;
            index
                .frames
                .extend(scan.frames.iter().map(|found| FrameEntry {
                    base_offset: found.base_offset,
                    rows: found.rows,
                    segment: number,
                    file_pos: found.pos,
                    payload_len: found.payload_len,
                }));
            match scan.stop {
                Some(ScanStop::Corrupt(reason)) => {
                    return Err(StorageError::Corrupt {
                        path,
                        byte_offset: scan.good_len,
                        reason,
                    })
                }
                Some(ScanStop::Torn(reason)) if number != last => {
                    return Err(StorageError::Corrupt {
                        path,
                        byte_offset: scan.good_len,
                        reason,
                    })
                }
                Some(ScanStop::Torn(reason)) => {
                    warn!(path = %path.display(), byte_offset = scan.good_len, %reason, "truncating torn tail of the log");
                    file.set_len(scan.good_len)
                        .map_err(|e| StorageError::io(&path, e))?;
                    file.sync_all().map_err(|e| StorageError::io(&path, e))?;
                }
                None => {}
            }
            expected_offset = scan.end_offset;
            active_len = scan.good_len;
            index.segments.push_back(Segment {
                base,
                path,
                file: Arc::new(file),
            });
        }

        let active_file = index.segments[last].file.clone();
        let active_path = index.segments[last].path.clone();
        debug!(dir = %dir.display(), head = expected_offset, segments = bases.len(), "opened partition");
        Ok(Partition {
            dir: dir.to_path_buf(),
            segment_bytes,
            writer: Mutex::new(Writer {
                active_segment: last,
                active_file,
                active_path,
                active_len,
                next_offset: expected_offset,
            }),
            index: RwLock::new(index),
            archived: RwLock::new(archived),
            sync: Mutex::new(SyncState {
                synced_offset: expected_offset,
                syncing: false,
            }),
            synced: Condvar::new(),
            durable_head: watch::Sender::new(expected_offset),
        })
    }

    /// The offset of the first row on local disk: rows before it are only in
    /// the archive.
    pub fn local_start(&self) -> u64 {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        index.segments.front().map_or(0, |segment| segment.base)
    }

    /// The archive manifest: which segments are archived.
    pub fn archived(&self) -> Manifest {
        self.archived
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the archive manifest, durably, before the change is seen.
    pub fn set_archived(&self, manifest: Manifest) -> Result<()> {
        manifest.save(&self.dir)?;
        *self.archived.write().unwrap_or_else(|p| p.into_inner()) = manifest;
        Ok(())
    }

    /// The segments no longer appended to, oldest first.
    pub fn sealed_segments(&self) -> Result<Vec<SealedSegment>> {
        let active = lock(&self.writer).active_segment;
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        let mut sealed = Vec::new();
        for (at, segment) in index.segments.iter().enumerate() {
            if at + index.dropped >= active {
                break;
            }
            let meta = segment
                .file
                .metadata()
                .map_err(|e| StorageError::io(&segment.path, e))?;
            sealed.push(SealedSegment {
                base: segment.base,
                end: index.segments[at + 1].base,
                path: segment.path.clone(),
                bytes: meta.len(),
                modified: meta
                    .modified()
                    .map_err(|e| StorageError::io(&segment.path, e))?,
            });
        }
        Ok(sealed)
    }

    /// Bytes of every local segment, the active one included.
    pub fn local_bytes(&self) -> Result<u64> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        index.segments.iter().try_fold(0, |total, segment| {
            let meta = segment
                .file
                .metadata()
                .map_err(|e| StorageError::io(&segment.path, e))?;
            Ok(total + meta.len())
        })
    }

    /// Removes the oldest local segment, which must start at `base`, be
    /// sealed and be in the archive manifest; its rows are then read from the
    /// archive. Returns false (and removes nothing) otherwise.
    pub fn remove_oldest_segment(&self, base: u64) -> Result<bool> {
        let writer = lock(&self.writer);
        let archived = self.archived();
        let path = {
            let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
            let dropped = index.dropped;
            let Some(oldest) = index.segments.front() else {
                return Ok(false);
            };
            let end = match index.segments.get(1) {
                Some(next) if dropped < writer.active_segment => next.base,
                _ => return Ok(false),
            };
            if oldest.base != base || archived.end() < end {
                return Ok(false);
            }
            let path = oldest.path.clone();
            index.segments.pop_front();
            while index.frames.front().is_some_and(|f| f.segment == dropped) {
                index.frames.pop_front();
            }
            index.dropped += 1;
            path
        };
        drop(writer);
        // Readers that located frames of the segment before keep reading
        // them through their open handle.
        std::fs::remove_file(&path).map_err(|e| StorageError::io(&path, e))?;
        sync_dir(&self.dir)?;
        info!(path = %path.display(), "removed an archived segment from local disk");
        Ok(true)
    }

    /// The offset after the last durable row.
    pub fn head(&self) -> u64 {
        *self.durable_head.borrow()
    }

    /// A receiver that sees the durable head move.
    pub fn watch_head(&self) -> watch::Receiver<u64> {
        self.durable_head.subscribe()
    }

    /// Appends a batch and blocks until it is durable; returns its first offset and
    /// the offset after it.
    pub fn append(&self, batch: &RecordBatch) -> Result<(u64, u64)> {
        let rows = u32::try_from(batch.num_rows()).map_err(|_| {
            StorageError::InvalidArgument("a batch holds at most 2^32-1 rows".into())
        })?;
        if rows == 0 {
            return Err(StorageError::InvalidArgument(
                "cannot append an empty batch".into(),
            ));
        }
        let payload = frame::encode_payload(batch)?;
        let payload_len = u32::try_from(payload.len()).map_err(|_| {
            StorageError::InvalidArgument("a batch encodes to at most 4 GiB".into())
        })?;
        let (first, end) = {
            let mut writer = lock(&self.writer);
            if writer.active_len >= self.segment_bytes {
                self.roll(&mut writer)?;
            }
            let first = writer.next_offset;
            let bytes = frame::encode_frame(first, rows, &payload);
            if let Err(error) = (&*writer.active_file).write_all(&bytes) {
                // Cut off whatever part of the frame reached the file so the next append
                // does not land after garbage.
                let _ = writer.active_file.set_len(writer.active_len);
                return Err(StorageError::io(&writer.active_path, error));
            }
            self.index
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .frames
                .push_back(FrameEntry {
                    base_offset: first,
                    rows,
                    segment: writer.active_segment,
                    file_pos: writer.active_len,
                    payload_len,
                });
            writer.active_len += bytes.len() as u64;
            writer.next_offset += u64::from(rows);
            (first, writer.next_offset)
        };
        self.wait_durable(end)?;
        Ok((first, end))
    }

    /// Closes the active segment (made durable first) and starts a new one.
    fn roll(&self, writer: &mut Writer) -> Result<()> {
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        let old = index.segment(writer.active_segment);
        old.file
            .sync_data()
            .map_err(|e| StorageError::io(&old.path, e))?;
        let path = segment_path(&self.dir, writer.next_offset);
        let file = Arc::new(open_segment_file(&path)?);
        sync_dir(&self.dir)?;
        debug!(path = %path.display(), "rolled to a new segment");
        index.segments.push_back(Segment {
            base: writer.next_offset,
            path: path.clone(),
            file: file.clone(),
        });
        writer.active_path = path;
        writer.active_segment = index.dropped + index.segments.len() - 1;
        writer.active_file = file;
        writer.active_len = 0;
        Ok(())
    }

    /// Group commit: blocks until every row before `end` is on disk. One waiter at a
    /// time runs the fsync, covering all rows written before it started; the others
    /// wait for it and return if it covered them.
    fn wait_durable(&self, end: u64) -> Result<()> {
        let mut state = lock(&self.sync);
        loop {
            if state.synced_offset >= end {
                return Ok(());
            }
            if state.syncing {
                state = self.synced.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            state.syncing = true;
            drop(state);
            let (file, covered) = {
                let writer = lock(&self.writer);
                (writer.active_file.clone(), writer.next_offset)
            };
            let outcome = file.sync_data();
            state = lock(&self.sync);
            state.syncing = false;
            self.synced.notify_all();
            if let Err(error) = outcome {
                return Err(StorageError::io(&self.dir, error));
            }
            state.synced_offset = state.synced_offset.max(covered);
            let durable = state.synced_offset;
            self.durable_head.send_if_modified(|head| {
                let moved = *head < durable;
                *head = durable.max(*head);
                moved
            });
        }
    }

    /// Reads rows from `from` on, up to the durable head, stopping after the frame
    /// that brings the count to `max_rows`. Returns `(first offset, batch)` pairs,
    /// or `None` when `from` is before the local segments (archived rows).
    pub fn read(&self, from: u64, max_rows: usize) -> Result<Option<Vec<(u64, RecordBatch)>>> {
        let durable = self.head();
        let located: Vec<FrameRead> = {
            let index = self.index.read().unwrap_or_else(|p| p.into_inner());
            if index
                .segments
                .front()
                .is_some_and(|first| from < first.base)
            {
                return Ok(None);
            }
            let start = index.frames.partition_point(|f| f.end_offset() <= from);
            let mut rows = 0usize;
            let mut located = Vec::new();
            for entry in index.frames.range(start..) {
                if entry.base_offset >= durable || rows >= max_rows.max(1) {
                    break;
                }
                rows += (entry.end_offset() - from.max(entry.base_offset)) as usize;
                let segment = index.segment(entry.segment);
                located.push(FrameRead {
                    entry: *entry,
                    file: segment.file.clone(),
                    path: segment.path.clone(),
                });
            }
            located
        };
        located
            .into_iter()
            .map(|frame| {
                let batch = read_frame(&frame)?;
                let skip = from.saturating_sub(frame.entry.base_offset) as usize;
                let first = frame.entry.base_offset + skip as u64;
                Ok((first, batch.slice(skip, batch.num_rows() - skip)))
            })
            .collect::<Result<_>>()
            .map(Some)
    }
}

fn read_frame(frame: &FrameRead) -> Result<RecordBatch> {
    let mut bytes = vec![0u8; HEADER_LEN + frame.entry.payload_len as usize];
    frame
        .file
        .read_exact_at(&mut bytes, frame.entry.file_pos)
        .map_err(|e| StorageError::io(&frame.path, e))?;
    let header = FrameHeader::parse(bytes[..HEADER_LEN].try_into().expect("header length"));
    let payload = &bytes[HEADER_LEN..];
    if !header.checks(payload) || header.base_offset != frame.entry.base_offset {
        return Err(StorageError::Corrupt {
            path: frame.path.clone(),
            byte_offset: frame.entry.file_pos,
            reason: "checksum mismatch on read".into(),
        });
    }
    frame::decode_payload(payload)
}
