//! [`VersionRef`]: how users name a version of a definition: `name` (the
//! version its bare name serves) or `name@vN` (that version).

use std::fmt;

/// A parsed `name` or `name@vN`.
///
/// ```
/// use freshet_sql::reference::VersionRef;
/// let pinned = VersionRef::parse("spend_7d@v2").unwrap();
/// assert_eq!((pinned.name.as_str(), pinned.version), ("spend_7d", Some(2)));
/// assert_eq!(pinned.to_string(), "spend_7d@v2");
/// assert_eq!(VersionRef::parse("spend_7d").unwrap().version, None);
/// assert!(VersionRef::parse("spend_7d@2").is_err());
/// assert!(VersionRef::parse("spend_7d@v0").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VersionRef {
    /// The definition's name.
    pub name: String,
    /// The version; `None` for a bare name.
    pub version: Option<u32>,
}

impl VersionRef {
    /// Parses `name` or `name@vN` (N from 1); the error says what was expected.
    pub fn parse(text: &str) -> Result<VersionRef, String> {
        match text.split_once('@') {
            None => Ok(VersionRef {
                name: text.to_string(),
                version: None,
            }),
            Some((name, version)) => version
                .strip_prefix('v')
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|v| *v > 0)
                .map(|v| VersionRef {
                    name: name.to_string(),
                    version: Some(v),
                })
                .ok_or_else(|| format!("'{text}' is not NAME or NAME@vN (N from 1)")),
        }
    }

    /// `name@vVERSION`.
    pub fn pinned(name: &str, version: u32) -> VersionRef {
        VersionRef {
            name: name.to_string(),
            version: Some(version),
        }
    }
}

impl fmt::Display for VersionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            None => f.write_str(&self.name),
            Some(version) => write!(f, "{}@v{version}", self.name),
        }
    }
}
