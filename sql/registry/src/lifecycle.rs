//! What happened to feature versions after they were applied: which version a
//! bare name serves (`serving/KIND/NAME`), which versions were retired or failed
//! (`ended/KIND/NAME/VERSION`), and which features are frozen
//! (`frozen/KIND/NAME`). The engine and the service write these records in their
//! own atomic batches, so the writers are associated functions over a
//! [`WriteBatch`].

use freshet_storage::state::{column_family::REGISTRY, WriteBatch};
use serde::{Deserialize, Serialize};

use crate::Registry;
use crate::{RegistryError, Result};
use freshet_sql::model::Kind;

/// Why a version stopped being maintained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Retirement {
    /// Retired on request; its state is freed.
    Retired,
    /// Its backfill or processing failed.
    Failed {
        /// The error, as reported.
        cause: String,
    },
}

/// A frozen feature: reads return the values it had at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frozen {
    /// The version that was serving when it was frozen.
    pub version: u32,
    /// The instant of the freeze, in microseconds since the epoch.
    pub at: i64,
}

fn serving_key(kind: Kind, name: &str) -> Vec<u8> {
    format!("serving/{}/{}", kind.name(), name).into_bytes()
}

fn ended_key(kind: Kind, name: &str, version: u32) -> Vec<u8> {
    format!("ended/{}/{}/{:010}", kind.name(), name, version).into_bytes()
}

fn frozen_key(kind: Kind, name: &str) -> Vec<u8> {
    format!("frozen/{}/{}", kind.name(), name).into_bytes()
}

impl Registry {
    fn json<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        let Some(bytes) = self.store.get(REGISTRY, key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| RegistryError::CorruptRecord {
                key: String::from_utf8_lossy(key).into_owned(),
                reason: e.to_string(),
            })
    }

    /// The version a bare name of `kind` reads, once one has been made serving.
    pub fn serving_version(&self, kind: Kind, name: &str) -> Result<Option<u32>> {
        self.json(&serving_key(kind, name))
    }

    /// Adds to `batch`: `name@vVERSION` becomes the version its bare name reads.
    pub fn put_serving(batch: &mut WriteBatch, kind: Kind, name: &str, version: u32) {
        batch.put(REGISTRY, serving_key(kind, name), version.to_string());
    }

    /// Whether (and why) `name@vVERSION` is no longer maintained.
    pub fn retirement(&self, kind: Kind, name: &str, version: u32) -> Result<Option<Retirement>> {
        self.json(&ended_key(kind, name, version))
    }

    /// Adds to `batch` that `name@vVERSION` is no longer maintained.
    pub fn put_retirement(
        batch: &mut WriteBatch,
        kind: Kind,
        name: &str,
        version: u32,
        retirement: &Retirement,
    ) {
        let json = serde_json::to_vec(retirement).expect("a retirement serialises");
        batch.put(REGISTRY, ended_key(kind, name, version), json);
    }

    /// The freeze of feature `name`, if it is frozen.
    pub fn frozen(&self, name: &str) -> Result<Option<Frozen>> {
        self.json(&frozen_key(Kind::Feature, name))
    }

    /// Adds to `batch` the freeze of feature `name`, or its removal (`None`).
    pub fn put_frozen(batch: &mut WriteBatch, name: &str, frozen: Option<&Frozen>) {
        let key = frozen_key(Kind::Feature, name);
        match frozen {
            Some(frozen) => batch.put(
                REGISTRY,
                key,
                serde_json::to_vec(frozen).expect("a freeze serialises"),
            ),
            None => batch.delete(REGISTRY, key),
        }
    }
}
