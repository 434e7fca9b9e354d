//! HTTP plumbing shared by every HTTP Lambda and the dev server, written once: the JSON error
//! envelope, request ids, caller identity, JSON body extraction with size and type limits,
//! path parameters, response views, configuration, and the router assembly both hosts mount.

pub mod app;
pub mod cognito;
pub mod config;
pub mod error;
pub mod gate;
pub mod identity;
pub mod json;
pub mod lambda;
pub mod metrics;
pub mod path;
pub mod request_id;
pub mod views;
pub mod wiring;

pub use app::{AppState, mount};
pub use error::ApiError;
pub use identity::{Admin, Caller, Claims};
pub use json::{JsonBody, RawBody};
pub use path::PathParam;
pub use request_id::RequestId;
