//! Operator state seen as an online store ([`StateOnline`], what a single
//! process serves from) passes the `OnlineStore` conformance suite.

use std::path::Path;
use std::sync::Arc;

use freshet_backends::embedded::RocksStateStore;
use freshet_engine::serving::StateOnline;
use freshet_storage::online::OnlineStore;
use freshet_testkit::conformance::InTempDir;

fn open_state_online(dir: &Path) -> Arc<dyn OnlineStore> {
    let state = RocksStateStore::open(dir).expect("open state store");
    Arc::new(StateOnline::new(Arc::new(state)))
}

freshet_testkit::online_store_conformance!(InTempDir(open_state_online));
