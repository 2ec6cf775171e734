//! [`Applied`]: when and by whom each version was applied, and its metadata
//! last changed in place. Stored beside the definition, at
//! `applied/KIND/NAME/VERSION`, in the same write as the apply.

use freshet_sql::model::Kind;
use freshet_storage::state::column_family::REGISTRY;
use serde::{Deserialize, Serialize};

use crate::{Registry, RegistryError, Result};

/// One moment of a version's history: when (µs since the Unix epoch, UTC)
/// and who, as the caller named themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// When, in microseconds since the Unix epoch, UTC.
    pub at_micros: i64,
    /// Who: the caller's name for themselves (`ana@laptop`), or what the
    /// server knows of them when they gave none.
    pub by: String,
}

/// A version's history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// When the version was made; `None` for versions applied before the
    /// registry kept this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<Stamp>,
    /// When its description, owner or tags last changed in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_updated: Option<Stamp>,
}

pub(crate) fn applied_key(kind: Kind, name: &str, version: u32) -> Vec<u8> {
    format!("applied/{}/{}/{:010}", kind.name(), name, version).into_bytes()
}

impl Registry {
    /// The history of `name@vN` of `kind` (empty when none was recorded).
    pub fn applied(&self, kind: Kind, name: &str, version: u32) -> Result<Applied> {
        let key = applied_key(kind, name, version);
        match self.store.get(REGISTRY, &key)? {
            None => Ok(Applied::default()),
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| RegistryError::CorruptRecord {
                    key: String::from_utf8_lossy(&key).into_owned(),
                    reason: e.to_string(),
                })
            }
        }
    }
}
