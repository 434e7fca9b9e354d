//! Cold-start and footprint benchmark of the Lambda binaries (issue 8, "Performance" 1 and 4).
//!
//! [`emulator`] is a minimal Lambda Runtime API on loopback; [`process`] starts a function as a
//! fresh process against it and measures `exec` → response and peak RSS; [`bench`] runs every
//! function round after round with realistic, checked events ([`events`]) against a local AWS
//! API server prepared by [`stack`]; [`report`] prints the figures. `scripts/bench-coldstart`
//! sets everything up and runs the `coldstart` binary.

pub mod bench;
pub mod emulator;
pub mod events;
pub mod process;
pub mod report;
pub mod stack;
pub mod stats;
