//! The on-disk frame of the segment log: one appended batch, length-framed and
//! checksummed, its rows as an Arrow IPC stream.
//!
//! ```text
//! | payload_len u32 | crc32 u32 | base_offset u64 | rows u32 | payload (Arrow IPC stream) |
//! ```
//! The checksum covers `base_offset`, `rows` and the payload, so a frame whose header
//! was torn or whose bytes rotted is recognised when the segment is scanned.

use std::fs::File;
use std::os::unix::fs::FileExt;

use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;

use freshet_storage::Result;

/// Bytes before the payload.
pub const HEADER_LEN: usize = 20;

/// A frame header as read back from disk.
#[derive(Debug, Clone, Copy)]
pub struct FrameHeader {
    pub payload_len: u32,
    pub crc: u32,
    pub base_offset: u64,
    pub rows: u32,
}

impl FrameHeader {
    /// Parses the first [`HEADER_LEN`] bytes of a frame.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> FrameHeader {
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        FrameHeader {
            payload_len: u32_at(0),
            crc: u32_at(4),
            base_offset: u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")),
            rows: u32_at(16),
        }
    }

    /// Total bytes of the frame on disk.
    pub fn frame_len(&self) -> u64 {
        HEADER_LEN as u64 + u64::from(self.payload_len)
    }

    /// Whether `payload` is the one this header was written with.
    pub fn checks(&self, payload: &[u8]) -> bool {
        checksum(self.base_offset, self.rows, payload) == self.crc
    }
}

fn checksum(base_offset: u64, rows: u32, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&base_offset.to_le_bytes());
    hasher.update(&rows.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Encodes a batch's rows as the payload of a frame.
pub fn encode_payload(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut writer = StreamWriter::try_new(Vec::new(), &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    Ok(writer.into_inner()?)
}

/// Builds the full frame: header then payload.
pub fn encode_frame(base_offset: u64, rows: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(HEADER_LEN + payload.len());
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&checksum(base_offset, rows, payload).to_le_bytes());
    frame.extend_from_slice(&base_offset.to_le_bytes());
    frame.extend_from_slice(&rows.to_le_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Decodes a payload back into the batch it was encoded from.
pub fn decode_payload(payload: &[u8]) -> Result<RecordBatch> {
    let mut reader = StreamReader::try_new(std::io::Cursor::new(payload), None)?;
    match reader.next() {
        Some(batch) => Ok(batch?),
        None => Err(arrow::error::ArrowError::IpcError("frame holds no batch".into()).into()),
    }
}

/// Bytes a frame scan reads: a segment file, or an archived segment in memory.
pub trait FrameBytes {
    /// How many bytes there are.
    fn byte_len(&self) -> std::io::Result<u64>;
    /// Fills `buf` from byte `pos` on.
    fn read_exact_at_pos(&self, buf: &mut [u8], pos: u64) -> std::io::Result<()>;
}

impl FrameBytes for File {
    fn byte_len(&self) -> std::io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn read_exact_at_pos(&self, buf: &mut [u8], pos: u64) -> std::io::Result<()> {
        self.read_exact_at(buf, pos)
    }
}

impl FrameBytes for [u8] {
    fn byte_len(&self) -> std::io::Result<u64> {
        Ok(self.len() as u64)
    }

    fn read_exact_at_pos(&self, buf: &mut [u8], pos: u64) -> std::io::Result<()> {
        let start = usize::try_from(pos).map_err(std::io::Error::other)?;
        let bytes = self
            .get(start..start + buf.len())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

/// One frame a scan found intact.
#[derive(Debug, Clone, Copy)]
pub struct ScannedFrame {
    /// The offset of its first row.
    pub base_offset: u64,
    /// Its rows.
    pub rows: u32,
    /// Where its header starts.
    pub pos: u64,
    /// Its payload's length.
    pub payload_len: u32,
}

/// Why a scan stopped before the end of the bytes.
#[derive(Debug, Clone)]
pub enum ScanStop {
    /// The last frame is incomplete or fails its checksum with nothing after
    /// it: a write torn by a crash, safe to cut off in an active segment.
    Torn(String),
    /// A frame fails its checksum with more bytes after it: acknowledged data
    /// rotted.
    Corrupt(String),
}

/// What a scan found: the intact frames in order, the length of their prefix,
/// the row offset after them, and why it stopped early, if it did.
#[derive(Debug)]
pub struct Scan {
    /// The intact frames.
    pub frames: Vec<ScannedFrame>,
    /// Bytes of the intact prefix.
    pub good_len: u64,
    /// The offset after the last intact frame's rows.
    pub end_offset: u64,
    /// Why the scan stopped before the end, if it did.
    pub stop: Option<ScanStop>,
}

/// Scans the frames of segment bytes whose first row is `base_offset`,
/// checking each frame's checksum and that offsets follow on.
pub fn scan_frames(bytes: &(impl FrameBytes + ?Sized), base_offset: u64) -> std::io::Result<Scan> {
    let len = bytes.byte_len()?;
    let mut scan = Scan {
        frames: Vec::new(),
        good_len: 0,
        end_offset: base_offset,
        stop: None,
    };
    let mut header_bytes = [0u8; HEADER_LEN];
    let mut payload = Vec::new();
    while scan.good_len < len {
        let pos = scan.good_len;
        if len - pos < HEADER_LEN as u64 {
            scan.stop = Some(ScanStop::Torn(format!(
                "{} stray bytes after the last frame",
                len - pos
            )));
            return Ok(scan);
        }
        bytes.read_exact_at_pos(&mut header_bytes, pos)?;
        let header = FrameHeader::parse(&header_bytes);
        if pos + header.frame_len() > len {
            scan.stop = Some(ScanStop::Torn("frame runs past the end of the file".into()));
            return Ok(scan);
        }
        payload.resize(header.payload_len as usize, 0);
        bytes.read_exact_at_pos(&mut payload, pos + HEADER_LEN as u64)?;
        if !header.checks(&payload) {
            scan.stop = Some(if pos + header.frame_len() < len {
                ScanStop::Corrupt(format!(
                    "frame at byte {pos} fails its checksum with frames after it"
                ))
            } else {
                ScanStop::Torn("frame checksum mismatch".into())
            });
            return Ok(scan);
        }
        if header.base_offset != scan.end_offset || header.rows == 0 {
            scan.stop = Some(ScanStop::Torn(format!(
                "frame starts at row {}, expected {}",
                header.base_offset, scan.end_offset
            )));
            return Ok(scan);
        }
        scan.frames.push(ScannedFrame {
            base_offset: header.base_offset,
            rows: header.rows,
            pos,
            payload_len: header.payload_len,
        });
        scan.end_offset += u64::from(header.rows);
        scan.good_len += header.frame_len();
    }
    Ok(scan)
}

#[cfg(test)]
mod fuzz {
    //! Frame scanning and recovery under arbitrary and damaged bytes: never a
    //! panic, and what a scan keeps is exactly the intact frames before the
    //! damage. Payloads reach `decode_payload` only once their checksum holds.

    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use proptest::prelude::*;

    use super::*;

    /// Cases per property: enough to reach odd corners, cheap at each.
    const CASES: u32 = 100_000;

    /// Three valid frames of 1, 2 and 3 rows from offset 10, and where each ends.
    fn frames() -> (Vec<u8>, Vec<u64>) {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        let mut offset = 10;
        for rows in 1..=3i64 {
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int64Array::from_iter_values(0..rows))],
            )
            .unwrap();
            let payload = encode_payload(&batch).unwrap();
            bytes.extend(encode_frame(offset, rows as u32, &payload));
            ends.push(bytes.len() as u64);
            offset += rows as u64;
        }
        (bytes, ends)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("FRESHET_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(CASES)
        ))]

        #[test]
        fn arbitrary_bytes_scan_without_panicking(
            bytes in proptest::collection::vec(any::<u8>(), 0..160),
            base in any::<u64>(),
        ) {
            let scan = scan_frames(&bytes[..], base).unwrap();
            prop_assert!(scan.good_len <= bytes.len() as u64);
            prop_assert_eq!(scan.stop.is_none(), scan.good_len == bytes.len() as u64);
        }

        #[test]
        fn a_damaged_log_keeps_exactly_the_intact_frames_before_the_damage(
            at in 0usize..1_000,
            byte in any::<u8>(),
            cut in any::<bool>(),
        ) {
            let (mut bytes, ends) = frames();
            let at = at % bytes.len();
            if cut {
                bytes.truncate(at);
            } else if bytes[at] == byte {
                return Ok(());
            } else {
                bytes[at] = byte;
            }
            let scan = scan_frames(&bytes[..], 10).unwrap();
            // The frames wholly before the damaged byte survive; the one
            // holding it does not (a checksum or a length catches it).
            let intact = ends.iter().filter(|end| **end <= at as u64).count();
            prop_assert_eq!(scan.frames.len(), intact);
            prop_assert_eq!(scan.good_len, if intact == 0 { 0 } else { ends[intact - 1] });
            prop_assert!(scan.stop.is_some() || (cut && at as u64 == scan.good_len));
        }
    }
}
