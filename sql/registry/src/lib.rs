//! The registry: every applied version of every definition, stored in the state
//! store's `registry` column family.
//!
//! Keys: `def/KIND/NAME/VERSION` (version zero-padded) holds the object as JSON;
//! `active/KIND/NAME` holds the newest applied ("latest") version number;
//! `applied/KIND/NAME/VERSION` when and by whom it was applied ([`Applied`]). Versions
//! are immutable in what they compute: applying an unchanged object is a no-op, a
//! changed one becomes version n+1, a change of description, owner or tags alone
//! is written over the same version ([`Change::MetadataUpdated`]), and one apply is
//! one atomic write ([`Registry::apply`]). A new version of a
//! transformation makes new versions of everything that reads it
//! ([`freshet_sql::lineage`]).
//!
//! A feature's bare name reads its *serving* version ([`Registry::serving_version`]), which the
//! engine moves once a new version's backfill has caught up; "latest" and
//! "serving" differ while that backfill runs.
//!
//! The crate sits between `sql` (the model and its validation, which cannot see
//! storage) and `engine`; it sees the storage traits, never a backend.

mod applied;
mod apply;
mod error;
mod lifecycle;

use std::sync::Arc;

use freshet_sql::model::{Definitions, Kind, Object};
use freshet_sql::reference::VersionRef;
use freshet_storage::state::{column_family::REGISTRY, StateStore};

pub use applied::{Applied, Stamp};
pub use apply::{Change, Plan, PlannedChange};
pub use error::{RegistryError, Result};
pub use lifecycle::{Frozen, Retirement};

/// One stored version of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The version number, from 1.
    pub version: u32,
    /// The definition as applied (file URIs absolute).
    pub object: T,
}

/// The versioned definitions registry.
pub struct Registry {
    store: Arc<dyn StateStore>,
    apply_lock: tokio::sync::Mutex<()>,
}

pub(crate) fn def_key(kind: Kind, name: &str, version: u32) -> Vec<u8> {
    format!("def/{}/{}/{:010}", kind.name(), name, version).into_bytes()
}

pub(crate) fn active_key(kind: Kind, name: &str) -> Vec<u8> {
    format!("active/{}/{}", kind.name(), name).into_bytes()
}

impl Registry {
    /// A registry over `store`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Registry {
            store,
            apply_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The latest (newest applied) version number of an object, if it exists; not
    /// necessarily the one its bare name serves (see `serving_version`).
    pub fn latest_version(&self, kind: Kind, name: &str) -> Result<Option<u32>> {
        let Some(bytes) = self.store.get(REGISTRY, &active_key(kind, name))? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        text.parse::<u32>()
            .map(Some)
            .map_err(|e| RegistryError::CorruptRecord {
                key: String::from_utf8_lossy(&active_key(kind, name)).into_owned(),
                reason: e.to_string(),
            })
    }

    /// Every version number of an object, ascending.
    pub fn versions(&self, kind: Kind, name: &str) -> Result<Vec<u32>> {
        let prefix = format!("def/{}/{}/", kind.name(), name);
        self.store
            .scan_prefix(REGISTRY, prefix.as_bytes())?
            .into_iter()
            .map(|(key, _)| {
                let text = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                text.parse::<u32>()
                    .map_err(|e| RegistryError::CorruptRecord {
                        key: String::from_utf8_lossy(&key).into_owned(),
                        reason: e.to_string(),
                    })
            })
            .collect()
    }

    /// Resolves `name` (the serving version, else the latest) or `name@vN` (that version).
    pub fn resolve<T: Object>(&self, reference: &str) -> Result<Versioned<T>> {
        let not_found = |hint: String| RegistryError::NotFound {
            kind: T::KIND.name(),
            reference: reference.to_string(),
            hint,
        };
        let VersionRef { name, version } =
            VersionRef::parse(reference).map_err(|m| not_found(format!(": {m}")))?;
        let name = name.as_str();
        let version = match version {
            Some(version) => version,
            None => match self.serving_version(T::KIND, name)? {
                Some(version) => version,
                None => self
                    .latest_version(T::KIND, name)?
                    .ok_or_else(|| not_found(String::new()))?,
            },
        };
        let key = def_key(T::KIND, name, version);
        let bytes = self.store.get(REGISTRY, &key)?.ok_or_else(|| {
            let known = self.versions(T::KIND, name).unwrap_or_default();
            not_found(match known.is_empty() {
                true => String::new(),
                false => format!(
                    " (versions: {})",
                    known
                        .iter()
                        .map(|v| format!("v{v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
        })?;
        let object = serde_json::from_slice(&bytes).map_err(|e| RegistryError::CorruptRecord {
            key: String::from_utf8_lossy(&key).into_owned(),
            reason: e.to_string(),
        })?;
        Ok(Versioned { version, object })
    }

    /// The latest version of every object of kind `T`, with its version number.
    pub fn latest_versions<T: Object>(&self) -> Result<Vec<Versioned<T>>> {
        let prefix = format!("active/{}/", T::KIND.name());
        self.store
            .scan_prefix(REGISTRY, prefix.as_bytes())?
            .into_iter()
            .map(|(key, _)| {
                let name = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                self.resolve::<T>(&name)
            })
            .collect()
    }

    /// Every stored version of every object of kind `T`, by name then version.
    pub fn all_versions<T: Object>(&self) -> Result<Vec<Versioned<T>>> {
        let prefix = format!("def/{}/", T::KIND.name());
        self.store
            .scan_prefix(REGISTRY, prefix.as_bytes())?
            .into_iter()
            .map(|(key, bytes)| {
                let corrupt = |reason: String| RegistryError::CorruptRecord {
                    key: String::from_utf8_lossy(&key).into_owned(),
                    reason,
                };
                let text = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                let version = text
                    .rsplit_once('/')
                    .and_then(|(_, v)| v.parse::<u32>().ok())
                    .ok_or_else(|| corrupt("no version".into()))?;
                let object = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
                Ok(Versioned { version, object })
            })
            .collect()
    }

    fn latest_of<T: Object>(&self) -> Result<Vec<T>> {
        Ok(self
            .latest_versions::<T>()?
            .into_iter()
            .map(|v| v.object)
            .collect())
    }

    /// The latest version of every object.
    pub fn latest_definitions(&self) -> Result<Definitions> {
        Ok(Definitions {
            sources: self.latest_of()?,
            transformations: self.latest_of()?,
            entities: self.latest_of()?,
            features: self.latest_of()?,
            labels: self.latest_of()?,
            training_sets: self.latest_of()?,
        })
    }

    /// Version `version` of `name`.
    pub fn resolve_version<T: Object>(&self, name: &str, version: u32) -> Result<Versioned<T>> {
        self.resolve::<T>(&format!("{name}@v{version}"))
    }
}
