//! The [`StateStore`] conformance suite; [`crate::state_store_conformance!`]
//! runs every case.

use freshet_storage::state::{column_family as cf, StateStore, WriteBatch};
use freshet_storage::timed_list::{self, TimedList};

use super::{open_fresh, patterned_bytes, Opener};

/// Runs every case of the [`StateStore`] suite (see [`crate::conformance`]) as a
/// `#[tokio::test]` in a module `state`, each with the opener `$opener` evaluates
/// to (an `impl Opener<dyn StateStore>`).
#[macro_export]
macro_rules! state_store_conformance {
    ($opener:expr) => {
        $crate::__conformance_cases!(
            state,
            $opener,
            [
                batch_spans_column_families,
                failed_batch_writes_nothing,
                durable_across_reopen,
                commits_are_visible_at_once_and_durable_after_a_write,
                scan_prefix_in_order,
                multi_get_answers_in_key_order,
                bytes_are_stored_exactly,
                timed_appends_merge_in_order,
                ops_take_effect_in_batch_order,
            ]
        );
    };
}

/// A batch spanning operator state and source positions is applied whole; a later
/// op wins on the same key; deletes remove.
pub async fn batch_spans_column_families(opener: &impl Opener<dyn StateStore>) {
    let (_namespace, store) = open_fresh(opener).await;
    let mut batch = WriteBatch::new();
    batch.put(cf::OPERATOR_STATE, b"user/1".to_vec(), b"10".to_vec());
    batch.put(cf::OPERATOR_STATE, b"user/2".to_vec(), b"20".to_vec());
    batch.put(
        cf::SOURCE_POSITIONS,
        b"purchases/0".to_vec(),
        b"0:2".to_vec(),
    );
    batch.put(cf::OPERATOR_STATE, b"user/1".to_vec(), b"11".to_vec());
    store.write(batch).unwrap();
    assert_eq!(
        store.get(cf::OPERATOR_STATE, b"user/1").unwrap(),
        Some(b"11".to_vec())
    );
    assert_eq!(
        store.get(cf::SOURCE_POSITIONS, b"purchases/0").unwrap(),
        Some(b"0:2".to_vec())
    );
    assert_eq!(
        store.get(cf::REGISTRY, b"user/1").unwrap(),
        None,
        "column families are separate"
    );
    let mut batch = WriteBatch::new();
    batch.delete(cf::OPERATOR_STATE, b"user/2".to_vec());
    store.write(batch).unwrap();
    assert_eq!(store.get(cf::OPERATOR_STATE, b"user/2").unwrap(), None);
}

/// A batch that cannot be applied (here: one op names an unknown column family)
/// leaves nothing of itself behind.
pub async fn failed_batch_writes_nothing(opener: &impl Opener<dyn StateStore>) {
    let (_namespace, store) = open_fresh(opener).await;
    let mut batch = WriteBatch::new();
    batch.put(cf::OPERATOR_STATE, b"k".to_vec(), b"v".to_vec());
    batch.put("no_such_family", b"k".to_vec(), b"v".to_vec());
    let error = store.write(batch).unwrap_err();
    assert!(error.to_string().contains("no_such_family"), "{error}");
    assert_eq!(store.get(cf::OPERATOR_STATE, b"k").unwrap(), None);
}

/// Round `round` of a lane's commits: one state entry of its own and the
/// source position, overwritten each round.
fn round_batch(round: u32) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.put(
        cf::OPERATOR_STATE,
        format!("state/{round:03}").into_bytes(),
        round.to_be_bytes().to_vec(),
    );
    batch.put(
        cf::SOURCE_POSITIONS,
        b"purchases/0".to_vec(),
        round.to_be_bytes().to_vec(),
    );
    batch
}

/// Asserts that all 50 rounds of [`round_batch`] are in `store`, the position
/// at the last.
fn assert_fifty_rounds(store: &dyn StateStore) {
    let state = store.scan_prefix(cf::OPERATOR_STATE, b"state/").unwrap();
    assert_eq!(state.len(), 50);
    assert_eq!(
        store.get(cf::SOURCE_POSITIONS, b"purchases/0").unwrap(),
        Some(49u32.to_be_bytes().to_vec())
    );
}

/// Writes survive close and reopen, all of a batch together.
pub async fn durable_across_reopen(opener: &impl Opener<dyn StateStore>) {
    let namespace = opener.fresh().await;
    {
        let store = opener.open(&namespace).await;
        for round in 0..50u32 {
            store.write(round_batch(round)).unwrap();
        }
    }
    let store = opener.open(&namespace).await;
    assert_fifty_rounds(store.as_ref());
}

/// Commits are visible as soon as they return, each whole; once a later
/// `write` returns, every commit before it survives close and reopen.
pub async fn commits_are_visible_at_once_and_durable_after_a_write(
    opener: &impl Opener<dyn StateStore>,
) {
    let namespace = opener.fresh().await;
    {
        let store = opener.open(&namespace).await;
        for round in 0..50u32 {
            store.commit(round_batch(round)).unwrap();
            assert_eq!(
                store.get(cf::SOURCE_POSITIONS, b"purchases/0").unwrap(),
                Some(round.to_be_bytes().to_vec())
            );
        }
        let mut batch = WriteBatch::new();
        batch.put(cf::REGISTRY, b"applied".to_vec(), b"yes".to_vec());
        store.write(batch).unwrap();
    }
    let store = opener.open(&namespace).await;
    assert_fifty_rounds(store.as_ref());
    assert_eq!(
        store.get(cf::REGISTRY, b"applied").unwrap(),
        Some(b"yes".to_vec())
    );
}

/// Prefix scans return exactly the matching keys, in key order.
pub async fn scan_prefix_in_order(opener: &impl Opener<dyn StateStore>) {
    let (_namespace, store) = open_fresh(opener).await;
    let mut batch = WriteBatch::new();
    for key in ["b/2", "a/1", "b/10", "b/1", "c/1", "b"] {
        batch.put(
            cf::REGISTRY,
            key.as_bytes().to_vec(),
            key.as_bytes().to_vec(),
        );
    }
    store.write(batch).unwrap();
    let keys: Vec<String> = store
        .scan_prefix(cf::REGISTRY, b"b/")
        .unwrap()
        .into_iter()
        .map(|(k, _)| String::from_utf8(k).unwrap())
        .collect();
    assert_eq!(keys, vec!["b/1", "b/10", "b/2"]);
    // A bounded scan gives the first entries of the full one.
    let keys: Vec<String> = store
        .scan_prefix_limit(cf::REGISTRY, b"b/", 2)
        .unwrap()
        .into_iter()
        .map(|(k, _)| String::from_utf8(k).unwrap())
        .collect();
    assert_eq!(keys, vec!["b/1", "b/10"]);
    assert!(store
        .scan_prefix_limit(cf::REGISTRY, b"b/", 0)
        .unwrap()
        .is_empty());
}

/// A multi-get answers in the order of its keys, `None` for a missing key,
/// repeated keys included, and never reads another column family.
pub async fn multi_get_answers_in_key_order(opener: &impl Opener<dyn StateStore>) {
    let (_namespace, store) = open_fresh(opener).await;
    let mut batch = WriteBatch::new();
    batch.put(cf::OPERATOR_STATE, b"f/a\x002".to_vec(), b"two".to_vec());
    batch.put(cf::OPERATOR_STATE, b"f/a\x001".to_vec(), b"one".to_vec());
    batch.put(cf::COUNTERS, b"f/a\x003".to_vec(), b"three".to_vec());
    store.write(batch).unwrap();
    let keys: Vec<Vec<u8>> = ["f/a\x002", "f/a\x003", "f/a\x001", "f/a\x002"]
        .map(|key| key.as_bytes().to_vec())
        .to_vec();
    let values = store.multi_get(cf::OPERATOR_STATE, &keys).unwrap();
    assert_eq!(
        values,
        vec![
            Some(b"two".to_vec()),
            None,
            Some(b"one".to_vec()),
            Some(b"two".to_vec())
        ]
    );
    assert!(store.multi_get(cf::OPERATOR_STATE, &[]).unwrap().is_empty());
}

/// Keys and values come back byte for byte: empty values, zero and 0xff bytes,
/// and values of a megabyte (the engine stores bincode, the registry JSON).
pub async fn bytes_are_stored_exactly(opener: &impl Opener<dyn StateStore>) {
    let (_namespace, store) = open_fresh(opener).await;
    let large = patterned_bytes(1 << 20);
    let entries: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"f/spend@v1\0".to_vec(), b"stats".to_vec()),
        (b"f/spend@v1\0\0".to_vec(), Vec::new()),
        (vec![0xff, 0x00, 0xff], vec![0x00, 0xff, 0x00, 0x00]),
        (b"large".to_vec(), large),
    ];
    let mut batch = WriteBatch::new();
    for (key, value) in &entries {
        batch.put(cf::OPERATOR_STATE, key.clone(), value.clone());
    }
    store.write(batch).unwrap();
    for (key, value) in &entries {
        assert_eq!(
            store.get(cf::OPERATOR_STATE, key).unwrap().as_ref(),
            Some(value),
            "key {key:?}"
        );
    }
    let scanned = store
        .scan_prefix(cf::OPERATOR_STATE, b"f/spend@v1\0")
        .unwrap();
    assert_eq!(scanned, entries[..2].to_vec());
}

/// An encoded timed list of one-byte payloads.
fn timed(expire_through: i64, records: &[(i64, u8)]) -> Vec<u8> {
    let mut list = TimedList::default();
    for (time, payload) in records {
        list.push(*time, &[*payload]);
    }
    list.encode(expire_through)
}

/// A stored timed list's expiry and (time, payload) records.
fn stored_timed(store: &dyn StateStore, key: &[u8]) -> Option<(i64, Vec<(i64, u8)>)> {
    let bytes = store.get(cf::OPERATOR_STATE, key).unwrap()?;
    let decoded = timed_list::decode(&bytes).unwrap();
    let records = decoded.records.iter().map(|(t, p)| (*t, p[0])).collect();
    Some((decoded.expire_through, records))
}

/// Timed-list appends merge into the stored list in the order they were
/// written, by commits and writes, within one batch and across batches and a
/// reopen: records by time, earlier appends first among equal times, the
/// largest expiry dropping what it covers. A put replaces the list; after a
/// delete, appends start from an empty one. Reads, multi-gets and scans all
/// see the merged list.
pub async fn timed_appends_merge_in_order(opener: &impl Opener<dyn StateStore>) {
    let namespace = opener.fresh().await;
    {
        let store = opener.open(&namespace).await;
        let mut batch = WriteBatch::new();
        batch.append_timed(
            cf::OPERATOR_STATE,
            b"f/t\x00a".to_vec(),
            timed(i64::MIN, &[(20, 1), (10, 2)]),
        );
        batch.append_timed(
            cf::OPERATOR_STATE,
            b"f/t\x00a".to_vec(),
            timed(i64::MIN, &[(20, 3)]),
        );
        batch.put(
            cf::OPERATOR_STATE,
            b"f/t\x00b".to_vec(),
            timed(0, &[(5, 9)]),
        );
        store.commit(batch).unwrap();
        let mut batch = WriteBatch::new();
        batch.append_timed(
            cf::OPERATOR_STATE,
            b"f/t\x00a".to_vec(),
            timed(10, &[(15, 4), (30, 5)]),
        );
        batch.append_timed(
            cf::OPERATOR_STATE,
            b"f/t\x00b".to_vec(),
            timed(i64::MIN, &[(0, 8), (6, 2)]),
        );
        batch.delete(cf::OPERATOR_STATE, b"f/t\x00c".to_vec());
        batch.append_timed(
            cf::OPERATOR_STATE,
            b"f/t\x00c".to_vec(),
            timed(i64::MIN, &[(7, 7)]),
        );
        store.write(batch).unwrap();
        assert_eq!(
            stored_timed(store.as_ref(), b"f/t\x00a"),
            Some((10, vec![(15, 4), (20, 1), (20, 3), (30, 5)]))
        );
        let mut batch = WriteBatch::new();
        batch.delete(cf::OPERATOR_STATE, b"f/t\x00c".to_vec());
        batch.append_timed(
            cf::OPERATOR_STATE,
            b"f/t\x00c".to_vec(),
            timed(i64::MIN, &[(8, 6)]),
        );
        store.write(batch).unwrap();
    }
    let store = opener.open(&namespace).await;
    let a = (10, vec![(15, 4), (20, 1), (20, 3), (30, 5)]);
    // The put's expiry (0) drops the appended record at 0.
    let b = (0, vec![(5, 9), (6, 2)]);
    let c = (i64::MIN, vec![(8, 6)]);
    assert_eq!(stored_timed(store.as_ref(), b"f/t\x00a"), Some(a.clone()));
    assert_eq!(stored_timed(store.as_ref(), b"f/t\x00b"), Some(b.clone()));
    assert_eq!(stored_timed(store.as_ref(), b"f/t\x00c"), Some(c.clone()));
    let keys = [b"f/t\x00c".to_vec(), b"f/t\x00a".to_vec()];
    let got = store.multi_get(cf::OPERATOR_STATE, &keys).unwrap();
    assert_eq!(got[0], Some(timed(c.0, &c.1)));
    assert_eq!(got[1], Some(timed(a.0, &a.1)));
    let scanned: Vec<Vec<u8>> = store
        .scan_prefix(cf::OPERATOR_STATE, b"f/t\x00")
        .unwrap()
        .into_iter()
        .map(|(_, value)| value)
        .collect();
    assert_eq!(
        scanned,
        vec![timed(a.0, &a.1), timed(b.0, &b.1), timed(c.0, &c.1)]
    );
}

/// A batch means what its ops say in the order they were added, whatever order
/// a backend inserts them in: ops on one key apply one after another, and a
/// prefix deletion removes what the ops before it wrote and nothing the ops
/// after it write. The ops come out of key order, as a micro-batch's do.
pub async fn ops_take_effect_in_batch_order(opener: &impl Opener<dyn StateStore>) {
    let (_namespace, store) = open_fresh(opener).await;
    let mut batch = WriteBatch::new();
    batch.put(cf::OPERATOR_STATE, b"k/b".to_vec(), b"1".to_vec());
    batch.put(cf::OPERATOR_STATE, b"k/a".to_vec(), b"1".to_vec());
    batch.append_timed(
        cf::OPERATOR_STATE,
        b"f/t\x00z".to_vec(),
        timed(i64::MIN, &[(5, 1)]),
    );
    batch.put(cf::OPERATOR_STATE, b"k/b".to_vec(), b"2".to_vec());
    batch.put(cf::COUNTERS, b"k/a".to_vec(), b"7".to_vec());
    batch.delete(cf::OPERATOR_STATE, b"k/a".to_vec());
    batch.put(cf::OPERATOR_STATE, b"k/ab".to_vec(), b"3".to_vec());
    batch.delete_prefix(cf::OPERATOR_STATE, b"k/a".to_vec());
    batch.put(cf::OPERATOR_STATE, b"k/ac".to_vec(), b"4".to_vec());
    batch.append_timed(
        cf::OPERATOR_STATE,
        b"f/t\x00z".to_vec(),
        timed(i64::MIN, &[(5, 2)]),
    );
    batch.put(cf::OPERATOR_STATE, b"k/b".to_vec(), b"5".to_vec());
    batch.put(cf::OPERATOR_STATE, b"k/a".to_vec(), b"6".to_vec());
    batch.delete(cf::OPERATOR_STATE, b"k/b".to_vec());
    store.write(batch).unwrap();
    let get = |family, key: &[u8]| store.get(family, key).unwrap();
    assert_eq!(get(cf::OPERATOR_STATE, b"k/a"), Some(b"6".to_vec()));
    assert_eq!(
        get(cf::OPERATOR_STATE, b"k/ab"),
        None,
        "deleted by the prefix"
    );
    assert_eq!(get(cf::OPERATOR_STATE, b"k/ac"), Some(b"4".to_vec()));
    assert_eq!(
        get(cf::OPERATOR_STATE, b"k/b"),
        None,
        "the last op deletes it"
    );
    assert_eq!(
        get(cf::COUNTERS, b"k/a"),
        Some(b"7".to_vec()),
        "another family"
    );
    // Equal times keep the appends' order.
    assert_eq!(
        stored_timed(store.as_ref(), b"f/t\x00z"),
        Some((i64::MIN, vec![(5, 1), (5, 2)]))
    );
}
