//! [`Position`]: where a row sits in one partition of the event log.

use std::fmt;

/// The opaque, totally ordered place of a row in one partition.
///
/// A position is two unsigned numbers compared in order, so that every backend can
/// map its own ids onto it: the embedded log uses `(0, row offset)`; a Pulsar
/// `MessageId` maps to `(ledger id, entry id << 20 | batch index)`. Callers must not
/// do arithmetic on positions; they store them (see [`Position::to_bytes`]) and hand
/// them back to the log they came from.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    major: u64,
    minor: u64,
}

impl Position {
    /// The position before every row of a partition.
    pub const START: Position = Position { major: 0, minor: 0 };

    /// Builds a position from a backend's two numbers. For backends only.
    pub const fn from_parts(major: u64, minor: u64) -> Self {
        Position { major, minor }
    }

    /// The backend's two numbers. For backends only.
    pub const fn parts(self) -> (u64, u64) {
        (self.major, self.minor)
    }

    /// A 16-byte encoding whose byte order is the position order, for storing
    /// positions as keys or beside operator state.
    pub fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.major.to_be_bytes());
        out[8..].copy_from_slice(&self.minor.to_be_bytes());
        out
    }

    /// Decodes [`Position::to_bytes`]; `None` unless given exactly 16 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; 16] = bytes.try_into().ok()?;
        let (major, minor) = bytes.split_at(8);
        Some(Position {
            major: u64::from_be_bytes(major.try_into().ok()?),
            minor: u64::from_be_bytes(minor.try_into().ok()?),
        })
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

impl fmt::Debug for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Position({self})")
    }
}

impl std::str::FromStr for Position {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (major, minor) = text
            .split_once(':')
            .ok_or_else(|| format!("position '{text}' is not of the form MAJOR:MINOR"))?;
        let parse = |part: &str| {
            part.parse::<u64>()
                .map_err(|e| format!("position '{text}': {e}"))
        };
        Ok(Position::from_parts(parse(major)?, parse(minor)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_order_is_position_order() {
        let positions = [
            Position::from_parts(0, 0),
            Position::from_parts(0, 1),
            Position::from_parts(0, 256),
            Position::from_parts(1, 0),
            Position::from_parts(u64::MAX, u64::MAX),
        ];
        for pair in positions.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].to_bytes() < pair[1].to_bytes());
            assert_eq!(Position::from_bytes(&pair[1].to_bytes()), Some(pair[1]));
        }
        assert_eq!("3:7".parse::<Position>(), Ok(Position::from_parts(3, 7)));
        assert!("37".parse::<Position>().is_err());
    }
}
