//! Arrow IPC streams: [`write_stream`] writes one batch as a stream, and
//! [`read_stream`] reads a caller's (ingest payloads, inline label rows) after
//! [`check_stream`] has walked it message by message, checking that every
//! length the stream states fits in the bytes given.
//! Arrow's reader sizes its buffers from those lengths, so without this a few
//! bytes claiming a 2 GB message would make the server zero 2 GB, and a buffer
//! placed past its message's body would make it panic (both found by fuzzing
//! the ingest decoder).

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;

/// `batch` as the bytes of an Arrow IPC stream.
pub fn write_stream(batch: &RecordBatch) -> std::result::Result<Vec<u8>, ArrowError> {
    let mut bytes = Vec::new();
    let mut writer = StreamWriter::try_new(&mut bytes, &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    drop(writer);
    Ok(bytes)
}

/// The schema and batches of a caller's Arrow IPC stream, after
/// [`check_stream`]. Arrow's reader still panics on some damaged streams (a
/// validity bitmap shorter than its rows); such a panic is caught here and
/// said as the stream being unreadable, so bad input is an error, never a
/// crash.
pub fn read_stream(data: &[u8]) -> std::result::Result<(SchemaRef, Vec<RecordBatch>), String> {
    check_stream(data)?;
    let read = || -> std::result::Result<(SchemaRef, Vec<RecordBatch>), String> {
        let reader =
            StreamReader::try_new(std::io::Cursor::new(data), None).map_err(|e| e.to_string())?;
        let schema = reader.schema();
        let batches = reader
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        Ok((schema, batches))
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
        .unwrap_or_else(|_| Err("its buffers do not fit the rows it states".into()))
}

/// Checks that each message of `data` (a continuation marker, a metadata
/// length, the metadata, a body) fits in what remains of it; the error says
/// where it does not.
pub fn check_stream(data: &[u8]) -> std::result::Result<(), String> {
    let mut at = 0usize;
    while at < data.len() {
        let rest = &data[at..];
        // The continuation marker is absent in streams of the legacy format.
        let marker = if rest.starts_with(&[0xff; 4]) { 4 } else { 0 };
        let Some(length) = rest.get(marker..marker + 4) else {
            return Err(format!("the message at byte {at} is cut off in its length"));
        };
        let length = i32::from_le_bytes([length[0], length[1], length[2], length[3]]);
        if length == 0 {
            return Ok(());
        }
        let metadata_at = marker + 4;
        let length = usize::try_from(length)
            .map_err(|_| format!("the message at byte {at} states a negative length"))?;
        let Some(metadata) = rest.get(metadata_at..metadata_at + length) else {
            return Err(format!(
                "the message at byte {at} states {length} bytes of metadata; {} remain",
                rest.len() - metadata_at
            ));
        };
        let message = arrow::ipc::root_as_message(metadata)
            .map_err(|e| format!("the message at byte {at} is unreadable: {e}"))?;
        let body_at = metadata_at + length;
        let body = usize::try_from(message.bodyLength())
            .ok()
            .filter(|body| *body <= rest.len() - body_at)
            .ok_or_else(|| {
                format!(
                    "the message at byte {at} states a body of {} bytes; {} remain",
                    message.bodyLength(),
                    rest.len() - body_at
                )
            })?;
        // Arrow slices each buffer out of the body at the offset the message
        // states, and panics when it runs past the end.
        let buffers = message
            .header_as_record_batch()
            .or_else(|| message.header_as_dictionary_batch().and_then(|d| d.data()))
            .and_then(|batch| batch.buffers());
        for (i, buffer) in buffers.iter().flatten().enumerate() {
            let end = u64::try_from(buffer.offset())
                .ok()
                .zip(u64::try_from(buffer.length()).ok())
                .and_then(|(offset, length)| offset.checked_add(length));
            if end.is_none_or(|end| end > body as u64) {
                return Err(format!(
                    "the message at byte {at} places buffer #{i} at {}..+{}, \
                     outside its {body}-byte body",
                    buffer.offset(),
                    buffer.length()
                ));
            }
        }
        at += body_at + body;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn stream() -> Vec<u8> {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2]))])
                .unwrap();
        write_stream(&batch).unwrap()
    }

    #[test]
    fn a_whole_stream_passes_and_its_truncations_are_refused_where_they_are_cut() {
        let whole = stream();
        assert_eq!(check_stream(&whole), Ok(()));
        // Without its end-of-stream marker (8 bytes) it is still whole messages.
        assert_eq!(check_stream(&whole[..whole.len() - 8]), Ok(()));
        for cut in 1..whole.len() - 8 {
            if check_stream(&whole[..cut]).is_ok() {
                // Only at a message boundary.
                assert!(check_stream(&whole[cut..]).is_ok(), "cut at {cut}");
            }
        }
        assert!(check_stream(&whole[..5]).unwrap_err().contains("byte 0"));
    }

    #[test]
    fn a_stated_length_beyond_the_bytes_is_refused_before_anything_is_sized() {
        // A continuation marker and 0x7fffffff bytes of metadata, in 8 bytes.
        let claim = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert_eq!(
            check_stream(&claim),
            Err("the message at byte 0 states 2147483647 bytes of metadata; 0 remain".into())
        );
        assert!(check_stream(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x80])
            .unwrap_err()
            .contains("negative"));
    }
}
