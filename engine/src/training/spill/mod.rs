//! [`Spill`]: a training-set build's feature events, split by entity-key
//! partition, held in memory up to a byte budget and appended to files on disk
//! beyond it, so a build scales past memory one partition at a time. A spill
//! file is a run of Arrow IPC streams of [`columns`] chunks, LZ4-compressed, one
//! stream appended per spill, so no file stays open between spills (a build
//! with many features and partitions does not run out of file handles).

mod columns;
mod runs;

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::{IpcWriteOptions, StreamWriter};
use arrow_ipc::CompressionType;
use tracing::debug;

use crate::value::Value;
use crate::{EngineError, Result};

pub use runs::{run_schema, write_batches, BatchFile, RunMerge, RunWriter, RUN_ROWS};

/// One input event of one feature: its entity key number, event time, place in
/// the replay (ties in event time go by it), and aggregated value.
#[derive(Debug, Clone, PartialEq)]
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

/// One file of spilled chunks: where it is and how many events it holds.
struct SpillFile {
    path: PathBuf,
    rows: usize,
}

/// One feature's events of one partition, taken out of a [`Spill`] to be read
/// back on any thread: the spill file, if the events were spilled, and the
/// events still held in memory.
#[derive(Debug)]
pub struct Detached {
    file: Option<(PathBuf, usize)>,
    held: Vec<EventRow>,
}

impl Detached {
    /// Every event, from the file (which is then removed) and from memory, in
    /// the order they were pushed.
    pub fn read(self) -> Result<Vec<EventRow>> {
        let Some((path, rows)) = self.file else {
            return Ok(self.held);
        };
        let mut events = Vec::with_capacity(rows + self.held.len());
        let mut file = BufReader::new(File::open(&path).map_err(|e| spill_error(&path, e))?);
        // One stream per spill, back to back.
        while !file
            .fill_buf()
            .map_err(|e| spill_error(&path, e))?
            .is_empty()
        {
            let stream = StreamReader::try_new(&mut file, None)
                .map_err(|e| spill_error(&path, std::io::Error::other(e)))?;
            for chunk in stream {
                let chunk = chunk.map_err(|e| spill_error(&path, std::io::Error::other(e)))?;
                columns::decode(&chunk, &mut events)
                    .map_err(|reason| spill_error(&path, std::io::Error::other(reason)))?;
            }
        }
        if events.len() != rows {
            return Err(spill_error(
                &path,
                std::io::Error::other(format!(
                    "holds {} events, {rows} were written",
                    events.len()
                )),
            ));
        }
        std::fs::remove_file(&path).map_err(|e| spill_error(&path, e))?;
        events.extend(self.held);
        Ok(events)
    }
}

/// Feature events by (feature, partition), in memory and in spill files.
///
/// Spill files are written on a thread of their own while pushes go on: a
/// spill hands the held buffers to the writer once the one before it is
/// written, so the pushes wait only when the disk falls behind. A third of
/// the budget fills while another third is written, which leaves room for
/// the buffers' growth: memory stays within the budget. (Spilling at half
/// the budget measured 2.10 GB peak RSS at training_bench B, at a third
/// 1.82 GB, and no slower.)
pub struct Spill {
    dir: PathBuf,
    partitions: usize,
    budget: usize,
    buffered: usize,
    memory: Vec<Vec<Vec<EventRow>>>,
    files: Vec<Vec<Option<SpillFile>>>,
    spilled: u64,
    writing: Option<Writing>,
}

/// A spill being written: the buffers come back emptied, for reuse.
type Writing = std::thread::JoinHandle<Result<Vec<Written>>>;

/// One buffer handed to the writer: its (feature, partition), file and rows.
type Written = (usize, usize, PathBuf, Vec<EventRow>);

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
            writing: None,
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

    /// Where the build's file `name` goes, beside the spilled events (and
    /// removed with them).
    pub fn path_for(&self, name: &str) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.dir).map_err(|e| spill_error(&self.dir, e))?;
        Ok(self.dir.join(name))
    }

    /// Rows written to disk so far.
    pub fn spilled_rows(&self) -> u64 {
        self.spilled
    }

    /// Adds one event of feature `feature`; hands every buffer to the writer
    /// when a third of the budget is held.
    pub fn push(&mut self, feature: usize, row: EventRow) -> Result<()> {
        self.buffered += row.bytes();
        let partition = self.partition_of(row.key);
        self.memory[feature][partition].push(row);
        if self.buffered > self.budget / 3 {
            self.spill_all()?;
        }
        Ok(())
    }

    fn spill_all(&mut self) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| spill_error(&self.dir, e))?;
        let mut emptied = self.finish_writing()?;
        let mut handed: Vec<Written> = Vec::new();
        for (feature, partitions) in self.memory.iter_mut().enumerate() {
            for (partition, rows) in partitions.iter_mut().enumerate() {
                if rows.is_empty() {
                    continue;
                }
                let file = self.files[feature][partition].get_or_insert_with(|| SpillFile {
                    path: self.dir.join(format!("f{feature}-p{partition}.arrow")),
                    rows: 0,
                });
                file.rows += rows.len();
                self.spilled += rows.len() as u64;
                // The buffer this one held two spills ago takes its place.
                let reused = emptied
                    .iter()
                    .position(|(f, p, _, _)| (*f, *p) == (feature, partition))
                    .map(|at| emptied.swap_remove(at).3)
                    .unwrap_or_default();
                let rows = std::mem::replace(rows, reused);
                handed.push((feature, partition, file.path.clone(), rows));
            }
        }
        debug!(dir = %self.dir.display(), bytes = self.buffered, "spilling training events");
        self.buffered = 0;
        self.writing = Some(std::thread::spawn(move || {
            for (_, _, path, rows) in handed.iter_mut() {
                append_stream(path, rows)?;
                rows.clear();
            }
            Ok(handed)
        }));
        Ok(())
    }

    /// Waits for the spill being written, if any; returns its emptied buffers.
    fn finish_writing(&mut self) -> Result<Vec<Written>> {
        match self.writing.take() {
            None => Ok(Vec::new()),
            Some(writing) => writing.join().map_err(|_| {
                EngineError::Internal("writing training events to disk stopped".into())
            })?,
        }
    }

    /// Ends the pushes. Once anything was spilled, what is still held is
    /// spilled too, so that reading partitions back one at a time holds only
    /// those partitions, not the whole budget beside them.
    pub fn seal(&mut self) -> Result<()> {
        if self.spilled == 0 {
            return Ok(());
        }
        if self.buffered > 0 {
            self.spill_all()?;
        }
        self.finish_writing()?;
        // The buffers' room goes back to the allocator, also when the last
        // push spilled and left them empty but grown.
        for rows in self.memory.iter_mut().flatten() {
            *rows = Vec::new();
        }
        Ok(())
    }

    /// Takes every event of one feature's partition out, to be read back with
    /// [`Detached::read`] (on another thread, while other work goes on), once
    /// what is being written is on disk.
    pub fn detach(&mut self, feature: usize, partition: usize) -> Result<Detached> {
        self.finish_writing()?;
        let file = self.files[feature][partition]
            .take()
            .map(|file| (file.path, file.rows));
        let held = std::mem::take(&mut self.memory[feature][partition]);
        self.buffered = self
            .buffered
            .saturating_sub(held.iter().map(EventRow::bytes).sum());
        Ok(Detached { file, held })
    }
}

/// Appends one LZ4-compressed IPC stream holding `rows` to the file at `path`.
fn append_stream(path: &Path, rows: &[EventRow]) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| spill_error(path, e))?;
    let mut out = BufWriter::new(file);
    IpcWriteOptions::default()
        .try_with_compression(Some(CompressionType::LZ4_FRAME))
        .and_then(|options| {
            let mut stream =
                StreamWriter::try_new_with_options(&mut out, &columns::schema(), options)?;
            stream.write(&columns::encode(rows)?)?;
            stream.finish()
        })
        .map_err(|e| spill_error(path, std::io::Error::other(e)))?;
    out.flush().map_err(|e| spill_error(path, e))
}

impl Drop for Spill {
    fn drop(&mut self) {
        // Its files are removed below; what is being written is not needed.
        let _ = self.finish_writing();
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
        let value = match seq % 5 {
            0 => Value::Str(format!("v{seq}")),
            1 => Value::Int(-(seq as i64)),
            2 => Value::Float(seq as f64 / 3.0),
            3 => Value::Bool(seq.is_multiple_of(2)),
            _ => Value::Timestamp(seq as i64 * 1_000_000),
        };
        EventRow {
            key,
            time: seq as i64,
            seq,
            value,
        }
    }

    fn take(spill: &mut Spill, feature: usize, partition: usize) -> Vec<EventRow> {
        spill.detach(feature, partition).unwrap().read().unwrap()
    }

    #[test]
    fn spilled_and_held_rows_come_back_whole_by_partition() {
        let dir = tempfile::tempdir().unwrap();
        let mut held = Spill::new(dir.path(), 2, 4, usize::MAX);
        let mut spilled = Spill::new(dir.path(), 2, 4, 0);
        // Spilled on every push but the last few, so a partition comes back
        // from its file and from memory.
        let mut partly = Spill::new(dir.path(), 2, 4, 32 * std::mem::size_of::<EventRow>());
        let mut expected: Vec<Vec<Vec<EventRow>>> = vec![vec![Vec::new(); 4]; 2];
        for seq in 0..100u64 {
            let key = (seq * 7 % 13) as u32;
            let feature = (seq % 2) as usize;
            expected[feature][key as usize % 4].push(row(key, seq));
            held.push(feature, row(key, seq)).unwrap();
            spilled.push(feature, row(key, seq)).unwrap();
            partly.push(feature, row(key, seq)).unwrap();
        }
        assert_eq!(held.spilled_rows(), 0);
        assert_eq!(spilled.spilled_rows(), 100);
        assert!(partly.spilled_rows() > 0 && partly.spilled_rows() < 100);
        for (feature, partitions) in expected.iter().enumerate() {
            for (partition, want) in partitions.iter().enumerate() {
                assert_eq!(&take(&mut held, feature, partition), want);
                assert_eq!(&take(&mut spilled, feature, partition), want);
                assert_eq!(&take(&mut partly, feature, partition), want);
            }
        }
        let dir_of_spilled = spilled.dir.clone();
        assert!(
            std::fs::read_dir(&dir_of_spilled).unwrap().next().is_none(),
            "a read-back file is removed"
        );
        drop(spilled);
        assert!(!dir_of_spilled.exists());
    }

    #[test]
    fn sealing_writes_out_what_is_held_only_once_something_was_spilled() {
        let dir = tempfile::tempdir().unwrap();
        let mut small = Spill::new(dir.path(), 1, 2, usize::MAX);
        let mut large = Spill::new(dir.path(), 1, 2, 10 * std::mem::size_of::<EventRow>());
        for seq in 0..23 {
            small.push(0, row(seq as u32, seq)).unwrap();
            large.push(0, row(seq as u32, seq)).unwrap();
        }
        assert!(large.spilled_rows() < 23, "some rows are still held");
        small.seal().unwrap();
        large.seal().unwrap();
        assert_eq!(small.spilled_rows(), 0, "a build that fits stays in memory");
        assert_eq!(large.spilled_rows(), 23);
        for partition in 0..2 {
            let detached = large.detach(0, partition).unwrap();
            assert!(detached.held.is_empty());
            let want: Vec<EventRow> = (0..23u64)
                .filter(|seq| *seq as usize % 2 == partition)
                .map(|seq| row(seq as u32, seq))
                .collect();
            assert_eq!(detached.read().unwrap(), want);
        }
    }

    #[test]
    fn sealing_frees_the_buffers_even_when_the_last_push_spilled() {
        let dir = tempfile::tempdir().unwrap();
        // Every push spills, so nothing is held when the pushes end; the
        // buffer comes back from the writer emptied but grown.
        let mut spill = Spill::new(dir.path(), 1, 1, 0);
        for seq in 0..100u64 {
            spill.push(0, row(seq as u32, seq)).unwrap();
        }
        assert!(spill.memory[0][0].is_empty() && spill.memory[0][0].capacity() > 0);
        spill.seal().unwrap();
        assert_eq!(spill.memory[0][0].capacity(), 0);
        let want: Vec<EventRow> = (0..100u64).map(|seq| row(seq as u32, seq)).collect();
        assert_eq!(take(&mut spill, 0, 0), want);
    }

    #[test]
    fn no_spill_file_stays_open_between_spills() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path(), 8, 64, 0);
        for seq in 0..2000u64 {
            spill
                .push((seq % 8) as usize, row(seq as u32, seq))
                .unwrap();
        }
        assert_eq!(spill.spilled_rows(), 2000);
        // Once the writer is done, it holds no file either.
        spill.seal().unwrap();
        let open_in_dir = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|fd| std::fs::read_link(fd.unwrap().path()).ok())
            .filter(|target| target.starts_with(dir.path()))
            .count();
        assert_eq!(open_in_dir, 0, "spill files held open");
    }

    #[test]
    fn a_spill_file_is_compressed_columns() {
        let dir = tempfile::tempdir().unwrap();
        // Spilled in chunks of 5,000 events (a third of the budget), each its own stream.
        let mut spill = Spill::new(dir.path(), 1, 1, 15_000 * std::mem::size_of::<EventRow>());
        // A typical feature: one key's float amounts, a second apart.
        let rows = 100_000u64;
        for seq in 0..rows {
            spill
                .push(
                    0,
                    EventRow {
                        key: (seq % 100) as u32,
                        time: 1_700_000_000_000_000 + seq as i64 * 1_000_000,
                        seq,
                        value: Value::Float((seq % 250) as f64 * 0.5),
                    },
                )
                .unwrap();
        }
        spill.seal().unwrap();
        let detached = spill.detach(0, 0).unwrap();
        let (path, _) = detached.file.clone().unwrap();
        let bytes = std::fs::metadata(&path).unwrap().len();
        // Uncompressed, a row is 4 + 8 + 8 + 1 + 8 + 4 (text offset) = 33 bytes.
        assert!(
            bytes < rows * 33 / 2,
            "{bytes} bytes for {rows} rows: not compressed"
        );
        assert_eq!(detached.read().unwrap().len(), rows as usize);
    }

    #[test]
    fn a_damaged_spill_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path(), 1, 1, 0);
        for seq in 0..1000 {
            spill.push(0, row(1, seq)).unwrap();
        }
        let detached = spill.detach(0, 0).unwrap();
        let (path, _) = detached.file.clone().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let error = detached.read().unwrap_err().to_string();
        assert!(
            error.contains(&path.display().to_string()),
            "error does not name the file: {error}"
        );
    }
}
