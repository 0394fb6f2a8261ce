pub mod health;
pub mod liveness;
pub mod origins;
pub mod sessions;
pub mod token;
pub mod webhooks;
