//! Webhooks: where a tenant wants verdict events (endpoints and their `whsec_` secrets), how
//! each request is signed (the Standard Webhooks scheme, through its official crate), and the
//! dispatcher that drains the outbox the worker fills in the verdict's own transaction.

pub mod config;
pub mod deliver;
pub mod dispatcher;
pub mod endpoints;
pub mod guard;
pub mod outbox;
pub mod schedule;
pub mod secrets;
pub mod signing;

pub use config::DispatcherConfig;
pub use dispatcher::Dispatcher;
pub use reqwest::Url;
