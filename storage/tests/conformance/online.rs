//! The [`OnlineStore`] conformance suite.

use std::path::Path;
use std::sync::Arc;

use freshet_storage::online::{OnlineRow, OnlineStore};

/// Opens a backend on a directory.
pub type Open = fn(&Path) -> Arc<dyn OnlineStore>;

fn row(table: &str, key: &str, value: &str) -> OnlineRow {
    OnlineRow {
        table: table.into(),
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

/// Multi-get answers in the order asked, with `None` for missing keys; tables are
/// separate namespaces even when one name is a prefix of another; a later put wins.
pub async fn multi_get_in_request_order(open: Open, dir: &Path) {
    let store = open(dir);
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
pub async fn durable_across_reopen(open: Open, dir: &Path) {
    {
        let store = open(dir);
        let rows = (0..1000)
            .map(|i| row("count@v1", &i.to_string(), &(i * 2).to_string()))
            .collect();
        store.put(rows).await.unwrap();
    }
    let store = open(dir);
    let keys: Vec<Vec<u8>> = (0..1000).map(|i: i32| i.to_string().into_bytes()).collect();
    let values = store.multi_get("count@v1", &keys).await.unwrap();
    for (i, value) in values.into_iter().enumerate() {
        assert_eq!(value, Some((i * 2).to_string().into_bytes()));
    }
}
