//! Conformance suites, written once per storage trait and run against every
//! backend: [`log`] for `EventLog`, [`state`] for `StateStore`, [`online`] for
//! `OnlineStore`.
//!
//! A case takes an [`Opener`]: something that makes a fresh namespace (a
//! temporary directory for an embedded backend; a keyspace, topic prefix or
//! database number for a remote one) and opens the backend on it, as often as the
//! case asks. Durability cases drop the first handle and open the same namespace
//! again. A backend crate runs every case of a suite with one macro line per
//! trait, in its `tests/`:
//!
//! ```text
//! freshet_testkit::event_log_conformance!(InTempDir(open_segment_log));
//! freshet_testkit::state_store_conformance!(InTempDir(open_rocks_state));
//! freshet_testkit::online_store_conformance!(InTempDir(open_rocks_online));
//! ```
//!
//! Each expands to one `#[tokio::test]` per case (multi-threaded, so concurrent
//! cases really run in parallel), in a module named after the suite; the caller
//! needs `tokio` among its dependencies. A case can also be run by hand:
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::path::Path;
//! use std::sync::Arc;
//!
//! use freshet_backends::embedded::RocksOnlineStore;
//! use freshet_storage::online::OnlineStore;
//! use freshet_testkit::conformance::{online, InTempDir};
//!
//! let opener = InTempDir(|dir: &Path| {
//!     Arc::new(RocksOnlineStore::open(dir).expect("open")) as Arc<dyn OnlineStore>
//! });
//! online::empty_key_holds_table_statistics(&opener).await;
//! # });
//! ```

pub mod log;
pub mod online;
pub mod state;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use async_trait::async_trait;

/// Opens one kind of backend (`B` is `dyn EventLog`, `dyn StateStore` or
/// `dyn OnlineStore`) for the conformance suites.
///
/// Contract: [`Opener::fresh`] returns a namespace no other case shares, empty;
/// [`Opener::open`] on a namespace whose earlier handles were all dropped sees
/// everything they acknowledged. A namespace may clean up when dropped.
#[async_trait]
pub trait Opener<B: ?Sized + Send + Sync>: Send + Sync {
    /// Names one namespace (and owns it, when dropping it deletes it).
    type Namespace: Send + Sync;

    /// Creates a new, empty namespace.
    async fn fresh(&self) -> Self::Namespace;

    /// Opens the backend on `namespace`, or reopens it.
    async fn open(&self, namespace: &Self::Namespace) -> Arc<B>;
}

/// A fresh namespace and the backend opened on it; keep the namespace for as
/// long as the backend is used (dropping it may delete it).
pub async fn open_fresh<B, O>(opener: &O) -> (O::Namespace, Arc<B>)
where
    B: ?Sized + Send + Sync,
    O: Opener<B>,
{
    let namespace = opener.fresh().await;
    let backend = opener.open(&namespace).await;
    (namespace, backend)
}

/// The [`Opener`] of an embedded backend: each namespace is a new temporary
/// directory (deleted when the case ends), opened with the function inside.
pub struct InTempDir<F>(pub F);

#[async_trait]
impl<B, F> Opener<B> for InTempDir<F>
where
    B: ?Sized + Send + Sync,
    F: Fn(&Path) -> Arc<B> + Send + Sync,
{
    type Namespace = tempfile::TempDir;

    async fn fresh(&self) -> tempfile::TempDir {
        tempfile::tempdir().expect("create a temporary directory")
    }

    async fn open(&self, namespace: &tempfile::TempDir) -> Arc<B> {
        (self.0)(namespace.path())
    }
}

/// Expands to one `#[tokio::test]` per listed case of a suite module, each given
/// the opener `$opener` evaluates to. Used by the per-trait macros.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($suite:ident, $opener:expr, [$($case:ident),* $(,)?]) => {
        #[allow(missing_docs)]
        mod $suite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    $crate::conformance::$suite::$case(&$opener).await;
                }
            )*
        }
    };
}

/// `len` bytes that take every value from 0 to 255 in no simple order: a large
/// value that a backend which re-encodes or truncates would not keep.
pub fn patterned_bytes(len: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

/// A batch of rows `n` for n in `range`, with a text column `n-<n>`.
pub fn numbered(range: std::ops::Range<i64>) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
    ]);
    let numbers: Vec<i64> = range.clone().collect();
    let texts: Vec<String> = range.map(|n| format!("n-{n}")).collect();
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Int64Array::from(numbers)),
            Arc::new(StringArray::from(texts)),
        ],
    )
    .expect("numbered batch")
}

/// The `n` column of [`numbered`] batches, concatenated; checks that each row's
/// text column still matches its number.
pub fn numbers<'a>(batches: impl IntoIterator<Item = &'a RecordBatch>) -> Vec<i64> {
    batches
        .into_iter()
        .flat_map(|batch| {
            let column = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("int64 n");
            let texts = batch
                .column(1)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("utf8 text");
            (0..batch.num_rows())
                .map(|i| {
                    assert_eq!(
                        texts.value(i),
                        format!("n-{}", column.value(i)),
                        "row content survives"
                    );
                    column.value(i)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}
