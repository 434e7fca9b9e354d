//! The service in memory, built the one way every local host builds it: the dev server serves
//! it, and tests call it (as zero-to-production's `spawn_app` does) instead of wiring ports by
//! hand.

use std::sync::Arc;

use oms_core::Timestamp;
use oms_core::app::Services;
use oms_core::ports::{Clock, OrderStore};
use oms_http::AppState;
use oms_http::identity::IdentitySource;
use oms_memory::{InMemoryStore, ManualClock};

use crate::config::Config;
use crate::wiring::{MemoryOutlets, memory_services};

/// The handler state for `config` on `services`, identifying callers from `identity`.
pub fn http_state(config: &Config, services: Services, identity: IdentitySource) -> AppState {
    AppState {
        services,
        identity,
        api_prefix: config.http.api_prefix.clone(),
        stripe_tolerance: config.http.stripe_tolerance,
    }
}

/// An offline, in-memory service and what sits behind its ports.
pub struct Local {
    pub config: Config,
    pub services: Services,
    pub outlets: MemoryOutlets,
}

impl Local {
    /// In memory around `store`, on `config` (offline payments by default: [`Config::offline`]).
    pub fn new(
        config: Config,
        store: Arc<dyn OrderStore>,
        clock: Arc<dyn Clock>,
        checkout_base: &str,
    ) -> Self {
        let (services, outlets) = memory_services(&config, store, clock, checkout_base);
        Self {
            config,
            services,
            outlets,
        }
    }

    /// The handler state, callers identified by `identity`.
    pub fn state(&self, identity: IdentitySource) -> AppState {
        http_state(&self.config, self.services.clone(), identity)
    }
}

/// What a handler test runs on: offline payments, the demo catalog in memory, a clock fixed at
/// `at`, callers known only from API Gateway's authorizer claims.
pub fn test_state(at: Timestamp) -> AppState {
    let store = Arc::new(InMemoryStore::new(oms_memory::demo_catalog()));
    let clock = Arc::new(ManualClock::at(at));
    Local::new(Config::offline(), store, clock, "https://checkout.invalid")
        .state(IdentitySource::ApiGateway(None))
}
