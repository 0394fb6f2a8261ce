//! What the producer and the worker share: environment configuration, the database (schema
//! in migrations/ and its data access), the job message and queue topology, capture storage
//! in S3, and the rendering of verdicts in the contract's shapes.

pub mod at_rest;
pub mod config;
pub mod db;
pub mod housekeeping;
pub mod origins;
pub mod pseudonym;
pub mod queue;
pub mod reports;
pub mod retention;
pub mod sessions;
pub mod storage;
pub mod telemetry;
pub mod tenants;
pub mod transactions;
pub mod verdict;

pub use config::{env_or, ConfigError};
