//! One partition of the segment log: its segment files, the in-memory frame index,
//! the single writer and the group commit that makes appends durable.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

use arrow::record_batch::RecordBatch;
use tokio::sync::watch;
use tracing::{debug, warn};

use super::frame::{self, FrameHeader, HEADER_LEN};
use freshet_storage::{Result, StorageError};

/// One segment file of the partition.
struct Segment {
    path: PathBuf,
    file: Arc<File>,
}

/// Where one frame sits: the rows it holds and its place on disk.
#[derive(Clone, Copy)]
struct FrameEntry {
    base_offset: u64,
    rows: u32,
    segment: usize,
    file_pos: u64,
    payload_len: u32,
}

impl FrameEntry {
    fn end_offset(&self) -> u64 {
        self.base_offset + u64::from(self.rows)
    }
}

/// Everything a reader needs to find a row: segments and frames in offset order.
#[derive(Default)]
struct FrameIndex {
    segments: Vec<Segment>,
    frames: Vec<FrameEntry>,
}

/// The append side, behind one lock: appends to a partition are serialised.
struct Writer {
    /// Index into `FrameIndex::segments` of the segment being appended to.
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
    /// other bad frame is reported as corruption.
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
        if bases.is_empty() {
            open_segment_file(&segment_path(dir, 0))?;
            sync_dir(dir)?;
            bases.push(0);
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
            let (good_len, end_offset, bad) =
                scan_segment(&file, &path, number, base, &mut index.frames)?;
            if let Some(reason) = bad {
                if number != last {
                    return Err(StorageError::Corrupt {
                        path,
                        byte_offset: good_len,
                        reason,
                    });
                }
                warn!(path = %path.display(), byte_offset = good_len, %reason, "truncating torn tail of the log");
                file.set_len(good_len)
                    .map_err(|e| StorageError::io(&path, e))?;
                file.sync_all().map_err(|e| StorageError::io(&path, e))?;
            }
            expected_offset = end_offset;
            active_len = good_len;
            index.segments.push(Segment {
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
            sync: Mutex::new(SyncState {
                synced_offset: expected_offset,
                syncing: false,
            }),
            synced: Condvar::new(),
            durable_head: watch::Sender::new(expected_offset),
        })
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
                .push(FrameEntry {
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
        let old = &index.segments[writer.active_segment];
        old.file
            .sync_data()
            .map_err(|e| StorageError::io(&old.path, e))?;
        let path = segment_path(&self.dir, writer.next_offset);
        let file = Arc::new(open_segment_file(&path)?);
        sync_dir(&self.dir)?;
        debug!(path = %path.display(), "rolled to a new segment");
        index.segments.push(Segment {
            path: path.clone(),
            file: file.clone(),
        });
        writer.active_path = path;
        writer.active_segment = index.segments.len() - 1;
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
    /// that brings the count to `max_rows`. Returns `(first offset, batch)` pairs.
    pub fn read(&self, from: u64, max_rows: usize) -> Result<Vec<(u64, RecordBatch)>> {
        let durable = self.head();
        let located: Vec<FrameRead> = {
            let index = self.index.read().unwrap_or_else(|p| p.into_inner());
            let start = index.frames.partition_point(|f| f.end_offset() <= from);
            let mut rows = 0usize;
            let mut located = Vec::new();
            for entry in &index.frames[start..] {
                if entry.base_offset >= durable || rows >= max_rows.max(1) {
                    break;
                }
                rows += (entry.end_offset() - from.max(entry.base_offset)) as usize;
                let segment = &index.segments[entry.segment];
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
            .collect()
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

/// Scans one segment's frames into `frames`. Returns the length of its valid prefix,
/// the row offset after it, and why scanning stopped early, if it did.
fn scan_segment(
    file: &File,
    path: &Path,
    segment: usize,
    base_offset: u64,
    frames: &mut Vec<FrameEntry>,
) -> Result<(u64, u64, Option<String>)> {
    let len = file
        .metadata()
        .map_err(|e| StorageError::io(path, e))?
        .len();
    let mut pos = 0u64;
    let mut offset = base_offset;
    let mut header_bytes = [0u8; HEADER_LEN];
    let mut payload = Vec::new();
    while pos < len {
        if len - pos < HEADER_LEN as u64 {
            return Ok((
                pos,
                offset,
                Some(format!("{} stray bytes after the last frame", len - pos)),
            ));
        }
        file.read_exact_at(&mut header_bytes, pos)
            .map_err(|e| StorageError::io(path, e))?;
        let header = FrameHeader::parse(&header_bytes);
        if pos + header.frame_len() > len {
            return Ok((
                pos,
                offset,
                Some("frame runs past the end of the file".into()),
            ));
        }
        payload.resize(header.payload_len as usize, 0);
        file.read_exact_at(&mut payload, pos + HEADER_LEN as u64)
            .map_err(|e| StorageError::io(path, e))?;
        if !header.checks(&payload) {
            if pos + header.frame_len() < len {
                // Later bytes follow it, so this is not a write torn by a crash:
                // acknowledged data rotted.
                return Err(StorageError::Corrupt {
                    path: path.to_path_buf(),
                    byte_offset: pos,
                    reason: "frame checksum mismatch with frames after it".into(),
                });
            }
            return Ok((pos, offset, Some("frame checksum mismatch".into())));
        }
        if header.base_offset != offset || header.rows == 0 {
            return Ok((
                pos,
                offset,
                Some(format!(
                    "frame starts at row {}, expected {offset}",
                    header.base_offset
                )),
            ));
        }
        frames.push(FrameEntry {
            base_offset: offset,
            rows: header.rows,
            segment,
            file_pos: pos,
            payload_len: header.payload_len,
        });
        offset += u64::from(header.rows);
        pos += header.frame_len();
    }
    Ok((pos, offset, None))
}
