//! The wire contract of the Liveness Plus API that every component shares: the rejection codes
//! 700-715 with their messages, the request errors, and the JSON shapes of every request and
//! answer (the OpenAPI document is generated from these types).

pub mod api;
mod codes;
mod errors;
mod response;
pub mod webhooks;

pub use errors::{ErrorBody, ErrorCode};

pub use codes::{Problem, RejectionCode};
pub use response::{ApiResponse, CaptureLiveness, ErrorDetails, FaceLiveness, VerdictBody};
