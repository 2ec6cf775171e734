//! [`StoredFeature`]: what is stored per (feature version, entity key) for a
//! lifetime aggregate or a view's feature, in operator state and, identically,
//! in an online store (a windowed aggregate stores an event list instead,
//! [`crate::aggregate::event_list`]).

use serde::{Deserialize, Serialize};

use crate::aggregate::KeyState;
use crate::value::Value;
use crate::{EngineError, Result};

/// One entity's stored state for one feature version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StoredFeature {
    /// A lifetime aggregate's folded and recent events, evaluated at read time.
    Events(KeyState),
    /// The current value of a view's column.
    Current(Option<Value>),
}

impl StoredFeature {
    /// Encodes for storage.
    pub fn encode(&self) -> Vec<u8> {
        bincode::serialize(self).expect("feature state serializes")
    }

    /// Decodes stored bytes.
    pub fn decode(bytes: &[u8]) -> Result<StoredFeature> {
        bincode::deserialize(bytes)
            .map_err(|error| EngineError::Corrupt(format!("feature state: {error}")))
    }
}
