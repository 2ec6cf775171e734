//! [`Catalog`]: what validation learns about every table (source or
//! transformation): its columns and its event-time column.

use std::collections::BTreeMap;

use crate::types::ColumnSchema;

/// What a table is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    /// A stream source on the event log.
    Stream,
    /// A file table.
    File,
    /// A transformation that runs row by row: a stream itself.
    Transformation,
    /// A GROUP BY transformation: a table keyed by its group key, kept current.
    View,
}

/// One table as validation resolved it.
#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    /// Stream, file or transformation.
    pub kind: RelationKind,
    /// Its columns, declared, inferred from the file, or planned from the SQL.
    pub schema: ColumnSchema,
    /// Its event-time column, if it has one.
    pub event_time: Option<String>,
}

/// Every table of a valid set of definitions, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    /// Tables by name.
    pub relations: BTreeMap<String, Relation>,
}
