//! The read–decide–conditional-write loop of every use case that changes a stored record: read
//! it, decide, write on the condition that it is unchanged, and when another writer got there
//! first, read again and decide again — a bounded number of times. Each such loop keeps a
//! [`Retry`] and reports every race it loses to it; at the limit it answers [`Contended`], which
//! each caller turns into its own retryable error (a 503 that the client or provider retries,
//! or a job left on the queue).
//!
//! The loop itself stays in the use case: a function driving it through an async closure that
//! borrows the use case's state makes every axum handler above it fail to prove its future
//! `Send` ("implementation of `Send` is not general enough", a current rustc limitation).

/// Lost races one use case tolerates on one order before giving up with a retryable error.
/// Each lost race means another writer committed a change to the same order, of which honest
/// traffic makes a handful at most (the deliveries of one payment, an operator, the worker).
pub const MAX_ATTEMPTS: usize = 8;

/// The record kept changing: the loop lost as many races as it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the record kept changing")]
pub struct Contended;

/// The races one read–decide–conditional-write loop has lost, against its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    limit: usize,
    lost: usize,
}

impl Retry {
    /// A loop that may lose `limit` races: [`MAX_ATTEMPTS`] for an order.
    pub fn new(limit: usize) -> Self {
        Self { limit, lost: 0 }
    }

    /// Records a conditional write that lost to another writer: `Ok` to read again and decide
    /// again, or [`Contended`] when this was the last race the loop may lose.
    pub fn lost_race(&mut self) -> Result<(), Contended> {
        self.lost += 1;
        if self.lost >= self.limit {
            Err(Contended)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_may_lose_one_race_fewer_than_its_limit_and_read_again() {
        let mut retry = Retry::new(MAX_ATTEMPTS);
        for _ in 1..MAX_ATTEMPTS {
            assert_eq!(retry.lost_race(), Ok(()));
        }
        assert_eq!(retry.lost_race(), Err(Contended));
    }

    #[test]
    fn the_passes_of_a_loop_that_keeps_losing_are_exactly_its_limit() {
        let mut retry = Retry::new(3);
        let mut passes = 0;
        let outcome = loop {
            passes += 1;
            if let Err(e) = retry.lost_race() {
                break e;
            }
        };
        assert_eq!((outcome, passes), (Contended, 3));
    }
}
