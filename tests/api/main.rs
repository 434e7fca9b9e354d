//! Black-box API tests: the dev server on a random port, driven over HTTP like a storefront.

mod backfill;
mod cancel;
mod catalog;
mod checkout;
mod dead_jobs;
mod docs_page;
mod downloads;
mod errors;
mod fulfilment;
mod health;
mod idempotency;
mod listing;
mod metrics;
mod ops;
mod orders;
mod reconcile;
mod refunds;
mod routes;
mod stock;
mod tracking;
mod webhooks;
