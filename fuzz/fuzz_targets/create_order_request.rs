//! The `POST /orders` body: JSON into the request shape, then the rules into domain types. Any
//! input ends in a request or in named field errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oms_core::app::create_order::CreateOrderInput;

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = serde_json::from_slice::<CreateOrderInput>(data) {
        if let Err(errors) = input.parse() {
            assert!(!errors.fields().is_empty(), "an error that names no field");
        }
    }
});
