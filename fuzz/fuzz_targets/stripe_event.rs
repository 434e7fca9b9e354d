//! Stripe's event parser on any verified body: an event or a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = oms_core::webhook::stripe::normalise(data) {
        assert!(!event.event_id.is_empty(), "an event without an id");
    }
});
