//! The system's primitives in production: wall-clock time, and ids and secrets from the
//! operating system's random source. (Tests use `oms_memory::ManualClock` and fixed ids.)

use std::time::{SystemTime, UNIX_EPOCH};

use oms_core::Timestamp;
use oms_core::ports::{Clock, IdGenerator};

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        Timestamp::from_unix_millis(ms.min(i64::MAX as u128) as i64)
    }
}

/// ULIDs and secrets from the operating system's random source.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

fn random<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS random source does not fail on supported platforms; if it ever did, continuing
    // with predictable ids or tokens would be worse than stopping.
    if let Err(e) = getrandom::fill(&mut buf) {
        panic!("operating system random source failed: {e}");
    }
    buf
}

impl IdGenerator for RandomIds {
    fn ulid(&self, now: Timestamp) -> String {
        let bytes = random::<16>();
        let rand = u128::from_be_bytes(bytes) & ((1u128 << 80) - 1);
        ulid::Ulid::from_parts(now.unix_millis() as u64, rand).to_string()
    }

    fn secret(&self) -> String {
        hex::encode(random::<24>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oms_core::OrderId;

    #[test]
    fn ulids_make_valid_order_ids_that_sort_by_time() {
        let ids = RandomIds;
        let a = ids.ulid(Timestamp::from_unix_millis(1_000));
        let b = ids.ulid(Timestamp::from_unix_millis(2_000));
        assert!(OrderId::from_ulid(&a).is_ok());
        assert!(a < b);
    }

    #[test]
    fn secrets_are_long_and_distinct() {
        let ids = RandomIds;
        let (a, b) = (ids.secret(), ids.secret());
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
    }
}
