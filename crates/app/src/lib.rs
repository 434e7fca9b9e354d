//! The composition root: the one place that knows every adapter. It reads the configuration
//! ([`config`]), provides the system's primitives ([`system`]), wires the adapters behind the
//! ports into one [`Services`](oms_core::app::Services) ([`wiring`]), holds the production
//! gate ([`gate`]), the Lambdas' log format ([`logs`]) and the metrics collector ([`metrics`]),
//! starts a Lambda ([`lambda`]), and builds the in-memory service the dev server and the tests
//! run on ([`local`]).
//!
//! The dependency rule (README, "Crates"): the core depends on no other crate of the
//! workspace; adapters (`oms-memory`, `oms-aws`, `oms-providers`) and inbound HTTP
//! (`oms-http`) on the core only; this crate on all of them; nothing but the hosts (the
//! Lambdas' binaries, the dev server) and tests on this one.

pub mod config;
pub mod gate;
pub mod lambda;
pub mod local;
pub mod logs;
pub mod metrics;
pub mod system;
pub mod wiring;

pub use config::Config;
pub use lambda::Function;
