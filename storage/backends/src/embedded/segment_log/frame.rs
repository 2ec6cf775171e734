//! The on-disk frame of the segment log: one appended batch, length-framed and
//! checksummed, its rows as an Arrow IPC stream.
//!
//! ```text
//! | payload_len u32 | crc32 u32 | base_offset u64 | rows u32 | payload (Arrow IPC stream) |
//! ```
//! The checksum covers `base_offset`, `rows` and the payload, so a frame whose header
//! was torn or whose bytes rotted is recognised when the segment is scanned.

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
