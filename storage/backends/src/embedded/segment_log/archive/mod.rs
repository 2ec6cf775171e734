//! The log archive: sealed segments uploaded to an object store (S3, or a
//! local folder) so that retention is infinite while local disk stays bounded.
//!
//! An archived segment is the segment file itself, byte for byte, at
//! `PREFIX/TOPIC/PARTITION/BASE-END.seg` (offsets zero-padded to 20 digits):
//! self-describing, since every frame carries its first row's offset, its row
//! count and a checksum over both and its Arrow IPC payload. Each partition's
//! [`Manifest`] records the archived segments with their size and CRC-32;
//! an upload enters it only once the object was read back and matched. Local
//! segments are removed only when sealed, in the manifest and past the local
//! retention ([`LocalRetention`]), oldest first, so the local segments always
//! continue the archived range. Reads before the first local segment fetch
//! the archived object (and prefetch the next one); a missing or corrupt
//! object fails the read with its URI.

mod fetch;
mod manifest;
mod upload;

use std::sync::Arc;

use freshet_objects::StoreAt;
use freshet_storage::config::LocalRetention;

pub use manifest::{ArchivedSegment, Manifest};

use fetch::ObjectCache;

/// Where a log's sealed segments go, and how much stays local.
pub struct Archive {
    at: StoreAt,
    retention: Option<LocalRetention>,
    cache: ObjectCache,
}

impl Archive {
    /// An archive at `at` keeping `retention` of each partition locally
    /// (everything when `None`).
    pub fn new(at: StoreAt, retention: Option<LocalRetention>) -> Arc<Archive> {
        Arc::new(Archive {
            at,
            retention,
            cache: ObjectCache::default(),
        })
    }

    /// The archive's URI.
    pub fn uri(&self) -> &str {
        &self.at.uri
    }

    /// The name of an archived segment's object under the archive's prefix.
    fn object_name(topic: &str, partition: u32, segment: &ArchivedSegment) -> String {
        format!(
            "{topic}/{partition}/{:020}-{:020}.seg",
            segment.base, segment.end
        )
    }
}
