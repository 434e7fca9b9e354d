//! Razorpay's event parser on any verified body, with and without the event-id header: an event
//! or a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for event_id in [Some("evt_fuzz"), None] {
        if let Ok(event) = oms_core::webhook::razorpay::normalise(data, event_id) {
            assert!(!event.event_id.is_empty(), "an event without an id");
        }
    }
});
