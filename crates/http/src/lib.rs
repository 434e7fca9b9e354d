//! Inbound HTTP, written once for every HTTP Lambda and the dev server: the JSON error
//! envelope, request ids, caller identity (API Gateway claims, Cognito tokens, dev tokens),
//! JSON body extraction with size and type limits, path parameters, response views, and the
//! router assembly both hosts mount. It depends on the core only; what runs behind the ports
//! is decided by the composition root (`oms-app`).

pub mod app;
pub mod cognito;
pub mod error;
pub mod identity;
pub mod json;
pub mod path;
pub mod request_id;
pub mod views;

pub use app::{AppState, mount};
pub use error::ApiError;
pub use identity::{Admin, Caller, Claims};
pub use json::{JsonBody, RawBody};
pub use path::PathParam;
pub use request_id::RequestId;
