//! Storage for Freshet: the event log, operator state and the online store.
//!
//! Each concern is a trait in its own module ([`log::EventLog`], [`state::StateStore`],
//! [`online::OnlineStore`]) that names no backend. Backends live apart, under
//! [`embedded`] (an append-only segment log and RocksDB). Nothing above this crate
//! needs to know which backend it talks to, except the code that builds the
//! configured one.

pub mod embedded;
pub mod error;
pub mod log;
pub mod online;
pub mod state;

pub use error::{Result, StorageError};
