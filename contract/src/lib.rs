//! The wire contract of the Liveness Plus API that every component shares: the rejection codes
//! 700-715 with their messages, and the JSON shapes of a verdict.

mod codes;
mod response;

pub use codes::{Problem, RejectionCode};
pub use response::{ApiResponse, CaptureLiveness, ErrorDetails, FaceLiveness, VerdictBody};
