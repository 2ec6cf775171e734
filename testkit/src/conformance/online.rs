//! The [`OnlineStore`] conformance suite; [`crate::online_store_conformance!`]
//! runs every case.

use freshet_storage::online::{OnlineRow, OnlineStore};

use super::{open_fresh, patterned_bytes, Opener};

/// Runs every case of the [`OnlineStore`] suite (see [`crate::conformance`]) as
/// a `#[tokio::test]` in a module `online`, each with the opener `$opener`
/// evaluates to (an `impl Opener<dyn OnlineStore>`).
#[macro_export]
macro_rules! online_store_conformance {
    ($opener:expr) => {
        $crate::__conformance_cases!(
            online,
            $opener,
            [
                multi_get_in_request_order,
                durable_across_reopen,
                empty_key_holds_table_statistics,
                values_are_stored_exactly,
                drop_table_removes_only_that_table,
            ]
        );
    };
}

fn row(table: &str, key: &str, value: &str) -> OnlineRow {
    OnlineRow {
        table: table.into(),
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

/// Multi-get answers in the order asked, with `None` for missing keys; tables are
/// separate namespaces even when one name is a prefix of another; a later put wins.
pub async fn multi_get_in_request_order(opener: &impl Opener<dyn OnlineStore>) {
    let (_namespace, store) = open_fresh(opener).await;
    store
        .put(vec![
            row("spend@v1", "1", "a"),
            row("spend@v1", "2", "b"),
            row("spend@v10", "1", "other table"),
            row("spend@v1", "1", "a2"),
        ])
        .await
        .unwrap();
    let keys: Vec<Vec<u8>> = ["2", "9", "1"]
        .iter()
        .map(|k| k.as_bytes().to_vec())
        .collect();
    let values = store.multi_get("spend@v1", &keys).await.unwrap();
    assert_eq!(
        values,
        vec![Some(b"b".to_vec()), None, Some(b"a2".to_vec())]
    );
    let values = store.multi_get("spend@v10", &keys).await.unwrap();
    assert_eq!(values, vec![None, None, Some(b"other table".to_vec())]);
    assert!(store.multi_get("spend@v1", &[]).await.unwrap().is_empty());
}

/// Values survive close and reopen.
pub async fn durable_across_reopen(opener: &impl Opener<dyn OnlineStore>) {
    let namespace = opener.fresh().await;
    {
        let store = opener.open(&namespace).await;
        let rows = (0..1000)
            .map(|i| row("count@v1", &i.to_string(), &(i * 2).to_string()))
            .collect();
        store.put(rows).await.unwrap();
    }
    let store = opener.open(&namespace).await;
    let keys: Vec<Vec<u8>> = (0..1000).map(|i: i32| i.to_string().into_bytes()).collect();
    let values = store.multi_get("count@v1", &keys).await.unwrap();
    for (i, value) in values.into_iter().enumerate() {
        assert_eq!(value, Some((i * 2).to_string().into_bytes()));
    }
}

/// The empty key is a key like any other: the engine keeps each table's
/// statistics row there, written in the same put as the values, read back with
/// them and not confused with another table's.
pub async fn empty_key_holds_table_statistics(opener: &impl Opener<dyn OnlineStore>) {
    let (_namespace, store) = open_fresh(opener).await;
    store
        .put(vec![
            row("spend@v1", "1", "value"),
            row("spend@v1", "", "stats v1"),
            row("spend@v10", "", "stats v10"),
        ])
        .await
        .unwrap();
    let keys = vec![Vec::new(), b"1".to_vec()];
    assert_eq!(
        store.multi_get("spend@v1", &keys).await.unwrap(),
        vec![Some(b"stats v1".to_vec()), Some(b"value".to_vec())]
    );
    assert_eq!(
        store.multi_get("spend@v10", &keys).await.unwrap(),
        vec![Some(b"stats v10".to_vec()), None]
    );
    assert_eq!(
        store.multi_get("count@v1", &keys[..1]).await.unwrap(),
        vec![None],
        "a table never written has no statistics row"
    );
}

/// Values are opaque bytes (the engine's bincode `StoredFeature`s) and come back
/// byte for byte: empty, zero and 0xff bytes, a megabyte; keys likewise.
pub async fn values_are_stored_exactly(opener: &impl Opener<dyn OnlineStore>) {
    let (_namespace, store) = open_fresh(opener).await;
    let large = patterned_bytes(1 << 20);
    let rows = [
        (vec![0x00], Vec::new()),
        (vec![0xff, 0x00], vec![0x00, 0xff, 0x00, 0x00]),
        (0i64.to_be_bytes().to_vec(), large),
    ];
    store
        .put(
            rows.iter()
                .map(|(key, value)| OnlineRow {
                    table: "bytes@v1".into(),
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
        )
        .await
        .unwrap();
    let keys: Vec<Vec<u8>> = rows.iter().map(|(key, _)| key.clone()).collect();
    let values = store.multi_get("bytes@v1", &keys).await.unwrap();
    for ((key, value), stored) in rows.iter().zip(values) {
        assert_eq!(stored.as_ref(), Some(value), "key {key:?}");
    }
}

/// Dropping a table removes all its rows, its statistics row included, durably,
/// and nothing of any other table (not even one whose name it prefixes).
pub async fn drop_table_removes_only_that_table(opener: &impl Opener<dyn OnlineStore>) {
    let namespace = opener.fresh().await;
    let keys: Vec<Vec<u8>> = ["", "1", "2"]
        .iter()
        .map(|k| k.as_bytes().to_vec())
        .collect();
    {
        let store = opener.open(&namespace).await;
        let mut rows = Vec::new();
        for table in ["spend@v1", "spend@v10", "spend@v2"] {
            rows.extend(["", "1", "2"].iter().map(|key| row(table, key, table)));
        }
        store.put(rows).await.unwrap();
        store.drop_table("spend@v1").await.unwrap();
        assert_eq!(
            store.multi_get("spend@v1", &keys).await.unwrap(),
            vec![None, None, None]
        );
    }
    let store = opener.open(&namespace).await;
    assert_eq!(
        store.multi_get("spend@v1", &keys).await.unwrap(),
        vec![None, None, None],
        "the drop is durable"
    );
    for table in ["spend@v10", "spend@v2"] {
        let expected = Some(table.as_bytes().to_vec());
        assert_eq!(
            store.multi_get(table, &keys).await.unwrap(),
            vec![expected.clone(), expected.clone(), expected],
            "{table} is untouched"
        );
    }
    store.drop_table("never_written@v1").await.unwrap();
}
