//! Runs of computed feature values: for one entity and one key partition, the
//! values of the entity's features by label row number, written to a file as
//! soon as the partition is evaluated, then merged back by row number into
//! output batches in label order ([`RunMerge`]). A build so holds one
//! partition's values at a time, not a column per feature for every label row.
//!
//! A run file is an Arrow IPC file of batches of at most [`RUN_ROWS`] rows: a
//! `row` column (u32, ascending) and one column per feature, typed as the
//! training set's output.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use arrow::compute::interleave;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt32Type};
use arrow::record_batch::RecordBatch;
use arrow_ipc::reader::FileReader;
use arrow_ipc::writer::FileWriter;

use super::spill_error;
use crate::{EngineError, Result};

/// Rows per batch of a run file: what a merge holds of each run at a time.
pub const RUN_ROWS: usize = 16_384;

/// The schema of a run with one column per type in `types`.
pub fn run_schema(types: &[DataType]) -> SchemaRef {
    let mut fields = vec![Field::new("row", DataType::UInt32, false)];
    fields.extend(
        types
            .iter()
            .enumerate()
            .map(|(i, data_type)| Field::new(format!("v{i}"), data_type.clone(), true)),
    );
    Arc::new(Schema::new(fields))
}

/// Writes one run file.
pub struct RunWriter {
    path: PathBuf,
    schema: SchemaRef,
    writer: FileWriter<BufWriter<File>>,
}

impl RunWriter {
    /// Creates the run file at `path`, with the schema of [`run_schema`].
    pub fn create(path: PathBuf, schema: SchemaRef) -> Result<RunWriter> {
        let file = File::create(&path).map_err(|e| spill_error(&path, e))?;
        let writer = FileWriter::try_new(BufWriter::new(file), &schema)
            .map_err(|e| spill_error(&path, std::io::Error::other(e)))?;
        Ok(RunWriter {
            path,
            schema,
            writer,
        })
    }

    /// Appends rows `rows` (ascending, above every row written before) with
    /// their values, one array per feature.
    pub fn write(&mut self, rows: Vec<u32>, values: Vec<ArrayRef>) -> Result<()> {
        let mut columns: Vec<ArrayRef> = vec![Arc::new(UInt32Array::from(rows))];
        columns.extend(values);
        let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
        self.writer
            .write(&batch)
            .map_err(|e| spill_error(&self.path, std::io::Error::other(e)))
    }

    /// Ends the file; returns its path.
    pub fn finish(mut self) -> Result<PathBuf> {
        self.writer
            .finish()
            .map_err(|e| spill_error(&self.path, std::io::Error::other(e)))?;
        self.writer
            .get_mut()
            .flush()
            .map_err(|e| spill_error(&self.path, e))?;
        Ok(self.path)
    }
}

/// Runs being read back together: each label row is in exactly one of them,
/// and each run's rows ascend, so the rows of a range of label rows are a
/// stretch at the front of each run.
pub struct RunMerge {
    cursors: Vec<Cursor>,
    columns: usize,
}

struct Cursor {
    path: PathBuf,
    reader: FileReader<BufReader<File>>,
    batch: Option<RecordBatch>,
    offset: usize,
}

impl Cursor {
    /// The batch holding the run's next row (reading on when the current one
    /// is used up); `None` once the run is read.
    fn current(&mut self) -> Result<Option<&RecordBatch>> {
        if self
            .batch
            .as_ref()
            .is_none_or(|batch| self.offset >= batch.num_rows())
        {
            self.batch = self
                .reader
                .next()
                .transpose()
                .map_err(|e| spill_error(&self.path, std::io::Error::other(e)))?;
            self.offset = 0;
        }
        Ok(self.batch.as_ref())
    }
}

impl RunMerge {
    /// Opens the runs at `paths`, each with `columns` value columns.
    pub fn open(paths: Vec<PathBuf>, columns: usize) -> Result<RunMerge> {
        let cursors = paths
            .into_iter()
            .map(|path| {
                let file = File::open(&path).map_err(|e| spill_error(&path, e))?;
                let reader = FileReader::try_new(BufReader::new(file), None)
                    .map_err(|e| spill_error(&path, std::io::Error::other(e)))?;
                if reader.schema().fields().len() != columns + 1 {
                    return Err(corrupt(&path, "a different number of columns"));
                }
                Ok(Cursor {
                    path,
                    reader,
                    batch: None,
                    offset: 0,
                })
            })
            .collect::<Result<_>>()?;
        Ok(RunMerge { cursors, columns })
    }

    /// The values of label rows `start..end`, one array per column, in row
    /// order. Rows must be asked for in order, each once.
    pub fn take(&mut self, start: u32, end: u32) -> Result<Vec<ArrayRef>> {
        let len = end.saturating_sub(start) as usize;
        let mut picks = vec![(usize::MAX, 0usize); len];
        let mut in_play: Vec<RecordBatch> = Vec::new();
        for cursor in &mut self.cursors {
            while let Some(batch) = cursor.current()? {
                let batch = batch.clone();
                let rows = batch
                    .column(0)
                    .as_primitive_opt::<UInt32Type>()
                    .ok_or_else(|| corrupt(&cursor.path, "no row numbers"))?;
                let used = cursor.offset;
                while cursor.offset < rows.len() && rows.value(cursor.offset) < end {
                    let row = rows.value(cursor.offset);
                    let pick = row
                        .checked_sub(start)
                        .and_then(|at| picks.get_mut(at as usize))
                        .filter(|pick| pick.0 == usize::MAX)
                        .ok_or_else(|| corrupt(&cursor.path, "rows out of order"))?;
                    *pick = (in_play.len(), cursor.offset);
                    cursor.offset += 1;
                }
                let rest = cursor.offset < rows.len();
                if cursor.offset > used {
                    in_play.push(batch);
                }
                if rest {
                    break;
                }
            }
        }
        if let Some(missing) = picks.iter().position(|pick| pick.0 == usize::MAX) {
            return Err(EngineError::Internal(format!(
                "training set: label row {} has no computed feature values",
                start as usize + missing
            )));
        }
        (1..=self.columns)
            .map(|column| {
                let arrays: Vec<&dyn Array> =
                    in_play.iter().map(|b| b.column(column).as_ref()).collect();
                Ok(interleave(&arrays, &picks)?)
            })
            .collect()
    }
}

/// Writes `batch` to a new Arrow IPC file at `path`, `rows` rows a batch (the
/// label columns of a training set, read back a batch at a time as the output
/// is put together: [`BatchFile`]).
pub fn write_batches(path: PathBuf, batch: &RecordBatch, rows: usize) -> Result<PathBuf> {
    let io = |path: &Path, e: arrow::error::ArrowError| spill_error(path, std::io::Error::other(e));
    let file = File::create(&path).map_err(|e| spill_error(&path, e))?;
    let mut writer =
        FileWriter::try_new(BufWriter::new(file), &batch.schema()).map_err(|e| io(&path, e))?;
    for start in (0..batch.num_rows()).step_by(rows.max(1)) {
        let len = rows.max(1).min(batch.num_rows() - start);
        writer
            .write(&batch.slice(start, len))
            .map_err(|e| io(&path, e))?;
    }
    writer.finish().map_err(|e| io(&path, e))?;
    writer
        .get_mut()
        .flush()
        .map_err(|e| spill_error(&path, e))?;
    Ok(path)
}

/// The batches of a file [`write_batches`] wrote, read in order.
pub struct BatchFile {
    path: PathBuf,
    reader: FileReader<BufReader<File>>,
}

impl BatchFile {
    /// Opens the file at `path`.
    pub fn open(path: PathBuf) -> Result<BatchFile> {
        let file = File::open(&path).map_err(|e| spill_error(&path, e))?;
        let reader = FileReader::try_new(BufReader::new(file), None)
            .map_err(|e| spill_error(&path, std::io::Error::other(e)))?;
        Ok(BatchFile { path, reader })
    }

    /// The next batch; `None` at the end.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        self.reader
            .next()
            .transpose()
            .map_err(|e| spill_error(&self.path, std::io::Error::other(e)))
    }
}

fn corrupt(path: &Path, why: &str) -> EngineError {
    spill_error(
        path,
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a run of feature values: {why}"),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, StringArray};

    /// Rows 0..n spread over `runs` runs by a scrambling rule, written in
    /// batches of `batch` rows; each row's values derive from its number.
    fn write_runs(dir: &Path, n: u32, runs: u32, batch: usize) -> Vec<PathBuf> {
        let schema = run_schema(&[DataType::Float64, DataType::Utf8]);
        (0..runs)
            .map(|run| {
                let rows: Vec<u32> = (0..n).filter(|r| (r * 7 + r / 3) % runs == run).collect();
                let mut writer =
                    RunWriter::create(dir.join(format!("r{run}.arrow")), schema.clone()).unwrap();
                for chunk in rows.chunks(batch) {
                    let floats: Float64Array = chunk
                        .iter()
                        .map(|r| (r % 5 != 0).then_some(*r as f64 / 2.0))
                        .collect();
                    let texts: StringArray = chunk.iter().map(|r| Some(format!("k{r}"))).collect();
                    writer
                        .write(chunk.to_vec(), vec![Arc::new(floats), Arc::new(texts)])
                        .unwrap();
                }
                writer.finish().unwrap()
            })
            .collect()
    }

    #[test]
    fn runs_merge_back_in_row_order_across_batch_and_range_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let n = 1_000;
        for (runs, batch, range) in [(1, 64, 100), (3, 7, 64), (5, 50, 333), (4, 1000, 1)] {
            let paths = write_runs(dir.path(), n, runs, batch);
            let mut merge = RunMerge::open(paths, 2).unwrap();
            let mut start = 0;
            while start < n {
                let end = (start + range).min(n);
                let columns = merge.take(start, end).unwrap();
                let floats = columns[0].as_primitive::<arrow::datatypes::Float64Type>();
                let texts = columns[1].as_string::<i32>();
                for (at, row) in (start..end).enumerate() {
                    assert_eq!(floats.is_null(at), row % 5 == 0, "row {row}");
                    if row % 5 != 0 {
                        assert_eq!(floats.value(at), row as f64 / 2.0);
                    }
                    assert_eq!(texts.value(at), format!("k{row}"));
                }
                start = end;
            }
        }
    }

    #[test]
    fn a_row_no_run_holds_or_two_runs_hold_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let schema = run_schema(&[DataType::Float64]);
        let write = |name: &str, rows: Vec<u32>| {
            let values: Float64Array = rows.iter().map(|r| Some(*r as f64)).collect();
            let mut writer = RunWriter::create(dir.path().join(name), schema.clone()).unwrap();
            writer.write(rows, vec![Arc::new(values)]).unwrap();
            writer.finish().unwrap()
        };
        let gap = write("gap.arrow", vec![0, 1, 3]);
        let error = RunMerge::open(vec![gap], 1)
            .unwrap()
            .take(0, 4)
            .unwrap_err()
            .to_string();
        assert!(error.contains("label row 2"), "{error}");
        let a = write("a.arrow", vec![0, 1]);
        let b = write("b.arrow", vec![1, 2]);
        let error = RunMerge::open(vec![a, b], 1)
            .unwrap()
            .take(0, 3)
            .unwrap_err()
            .to_string();
        assert!(error.contains("b.arrow"), "{error}");
    }
}
