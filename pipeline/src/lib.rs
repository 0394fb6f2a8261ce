//! What the producer and the worker share, one module per boundary they cross:
//!
//! ```text
//! producer ──► storage (S3: sealed captures, at-rest sealing of what we keep)
//!          ──► queue   (AMQP: the job message, topology, retries, dead letters)
//!          ──► db      (PostgreSQL: tenants, transactions, sessions, origins, reports,
//!                       housekeeping; schema in migrations/)
//! worker   ◄── queue, ──► storage, db; verdict renders what db holds in the contract's shapes
//! ```
//!
//! Beside them: `config` (environment, parsed once), `retention` (purges that span storage
//! and db), `pseudonym` (keyed pseudonyms a purge leaves) and `telemetry`.

pub mod config;
pub mod db;
pub mod pseudonym;
pub mod queue;
pub mod retention;
pub mod storage;
pub mod telemetry;
pub mod verdict;

pub use config::{env_or, ConfigError};
