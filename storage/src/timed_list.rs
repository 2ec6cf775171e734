//! Timed lists: a value that is a list of records ordered by time, which a
//! [`WriteBatch::append_timed`](crate::state::WriteBatch::append_timed) extends
//! without reading it. The store merges appends into the stored list (on
//! RocksDB, a merge operator), so a writer hands over only what is new.
//!
//! Encoding (all integers little-endian):
//!
//! ```text
//! list   := expire_through: i64, record*
//! record := time: i64, length: LEB128 varint, payload: [u8; length]
//! ```
//!
//! Records are ordered by time; equal times keep the order they were appended
//! in. A record with `time <= expire_through` is dropped. Merging lists `a`
//! then `b` gives the records of both, `a`'s first among equal times, with
//! `expire_through` the larger of the two and what it expires removed. The
//! merge is associative, so the store may combine appends in any grouping and
//! still end with the same bytes.
//!
//! ```
//! # use freshet_storage::timed_list::{self, TimedList};
//! let mut older = TimedList::default();
//! older.push(10, b"a");
//! older.push(30, b"c");
//! let mut newer = TimedList::default();
//! newer.push(30, b"d");
//! newer.push(20, b"b");
//! let (older, newer) = (older.encode(i64::MIN), newer.encode(15));
//! let merged = timed_list::merge([older.as_slice(), newer.as_slice()]).unwrap();
//! let decoded = timed_list::decode(&merged).unwrap();
//! assert_eq!(decoded.expire_through, 15);
//! // 10 expired; 30 keeps the older record first.
//! assert_eq!(decoded.records, vec![(20, &b"b"[..]), (30, &b"c"[..]), (30, &b"d"[..])]);
//! ```

use crate::{Result, StorageError};

/// A timed list being built: records pushed in arrival order, encoded ordered
/// by time.
#[derive(Debug, Clone, Default)]
pub struct TimedList {
    records: Vec<(i64, usize, usize)>,
    payloads: Vec<u8>,
}

impl TimedList {
    /// Adds a record after those already pushed.
    pub fn push(&mut self, time: i64, payload: &[u8]) {
        let start = self.payloads.len();
        self.payloads.extend_from_slice(payload);
        self.records.push((time, start, payload.len()));
    }

    /// Adds a record whose payload `write` appends to the buffer it is given.
    pub fn push_with(&mut self, time: i64, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.payloads.len();
        write(&mut self.payloads);
        self.records
            .push((time, start, self.payloads.len() - start));
    }

    /// Whether no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The encoded list that expires records with `time <= expire_through`
    /// (`i64::MIN` expires nothing): records by time (pushed order among equal
    /// times), expired ones left out.
    pub fn encode(mut self, expire_through: i64) -> Vec<u8> {
        self.records.sort_by_key(|(time, _, _)| *time);
        let mut out = Vec::with_capacity(8 + self.payloads.len() + 10 * self.records.len());
        out.extend_from_slice(&expire_through.to_le_bytes());
        for (time, start, len) in self.records {
            if time > expire_through {
                write_record(&mut out, time, &self.payloads[start..start + len]);
            }
        }
        out
    }
}

/// A decoded list, borrowing its payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// Records with a time at or before this are expired.
    pub expire_through: i64,
    /// The records, by time.
    pub records: Vec<(i64, &'a [u8])>,
}

/// Decodes an encoded list; an error names what is malformed.
pub fn decode(list: &[u8]) -> Result<Decoded<'_>> {
    let Some((head, mut rest)) = list.split_first_chunk::<8>() else {
        return Err(corrupt(format!(
            "{} bytes, shorter than its 8-byte header",
            list.len()
        )));
    };
    let expire_through = i64::from_le_bytes(*head);
    let mut records = Vec::new();
    while !rest.is_empty() {
        let at = list.len() - rest.len();
        let Some((time, after)) = rest.split_first_chunk::<8>() else {
            return Err(corrupt(format!("record at byte {at}: truncated time")));
        };
        let (len, after) = read_varint(after)
            .ok_or_else(|| corrupt(format!("record at byte {at}: truncated length")))?;
        if (after.len() as u64) < len {
            return Err(corrupt(format!(
                "record at byte {at}: payload of {len} bytes, {} left",
                after.len()
            )));
        }
        let (payload, after) = after.split_at(len as usize);
        records.push((i64::from_le_bytes(*time), payload));
        rest = after;
    }
    Ok(Decoded {
        expire_through,
        records,
    })
}

/// Merges encoded lists given oldest first (see the [module docs](self)).
pub fn merge<'a>(lists: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>> {
    let mut expire_through = i64::MIN;
    let mut records = Vec::new();
    for list in lists {
        let decoded = decode(list)?;
        expire_through = expire_through.max(decoded.expire_through);
        records.extend(decoded.records);
    }
    records.sort_by_key(|(time, _)| *time);
    let bytes: usize = records.iter().map(|(_, payload)| payload.len() + 10).sum();
    let mut out = Vec::with_capacity(8 + bytes);
    out.extend_from_slice(&expire_through.to_le_bytes());
    for (time, payload) in records {
        if time > expire_through {
            write_record(&mut out, time, payload);
        }
    }
    Ok(out)
}

fn write_record(out: &mut Vec<u8>, time: i64, payload: &[u8]) {
    out.extend_from_slice(&time.to_le_bytes());
    let mut len = payload.len() as u64;
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(payload);
}

fn read_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

fn corrupt(reason: String) -> StorageError {
    StorageError::CorruptValue(format!("timed list: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(expire_through: i64, records: &[(i64, u8)]) -> Vec<u8> {
        let mut list = TimedList::default();
        for (time, payload) in records {
            list.push(*time, &[*payload]);
        }
        list.encode(expire_through)
    }

    /// The reference: every record of every list in order, tagged with its
    /// arrival number, kept if after the largest expiry, ordered by (time,
    /// arrival).
    fn reference(lists: &[(i64, Vec<(i64, u8)>)]) -> (i64, Vec<(i64, u8)>) {
        let expire = lists.iter().map(|(e, _)| *e).max().unwrap_or(i64::MIN);
        let mut all: Vec<(i64, usize, u8)> = lists
            .iter()
            .flat_map(|(_, records)| records.iter())
            .enumerate()
            .map(|(arrival, (time, payload))| (*time, arrival, *payload))
            .filter(|(time, _, _)| *time > expire)
            .collect();
        all.sort();
        (expire, all.into_iter().map(|(t, _, p)| (t, p)).collect())
    }

    fn records(bytes: &[u8]) -> (i64, Vec<(i64, u8)>) {
        let decoded = decode(bytes).unwrap();
        let records = decoded
            .records
            .iter()
            .map(|(time, payload)| (*time, payload[0]))
            .collect();
        (decoded.expire_through, records)
    }

    #[test]
    fn long_payloads_round_trip() {
        let payload = vec![7u8; 300];
        let mut built = TimedList::default();
        built.push(5, &payload);
        built.push_with(5, |out| out.extend_from_slice(b"x"));
        let bytes = built.encode(-1);
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.records, vec![(5, &payload[..]), (5, &b"x"[..])]);
    }

    #[test]
    fn malformed_lists_are_refused_naming_the_byte() {
        let error = decode(&[1, 2, 3]).unwrap_err().to_string();
        assert!(error.contains("shorter than its 8-byte header"), "{error}");
        let mut bytes = list(0, &[(1, 9)]);
        bytes.pop();
        let error = decode(&bytes).unwrap_err().to_string();
        assert!(error.contains("record at byte 8"), "{error}");
        assert!(merge([bytes.as_slice()]).is_err());
    }

    proptest! {
        /// Merging lists one at a time, all at once, or in any split into two
        /// groups gives the reference's records, byte for byte the same.
        #[test]
        fn merges_in_any_grouping_equal_the_reference(
            lists in prop::collection::vec(
                (prop::sample::select(vec![i64::MIN, 0, 3, 6]),
                 prop::collection::vec((0i64..10, any::<u8>()), 0..8)),
                1..6),
            split in 0usize..6,
        ) {
            let encoded: Vec<Vec<u8>> = lists.iter().map(|(e, r)| list(*e, r)).collect();
            let all_at_once = merge(encoded.iter().map(Vec::as_slice)).unwrap();
            prop_assert_eq!(records(&all_at_once), reference(&lists));
            let mut one_at_a_time = encoded[0].clone();
            for next in &encoded[1..] {
                one_at_a_time = merge([one_at_a_time.as_slice(), next.as_slice()]).unwrap();
            }
            prop_assert_eq!(&one_at_a_time, &all_at_once);
            let split = split.min(encoded.len());
            let left = merge(encoded[..split].iter().map(Vec::as_slice)).unwrap();
            let right = merge(encoded[split..].iter().map(Vec::as_slice)).unwrap();
            let grouped = merge([left.as_slice(), right.as_slice()]).unwrap();
            prop_assert_eq!(&grouped, &all_at_once);
        }
    }
}
