//! The memory that partially received frames or request bodies may hold across every
//! connection of one input (`mem_buf_limit`): many slow senders each holding most of a large
//! frame or body must not add up to more than that. A Forward connection whose frame would pass
//! the budget is closed; an HTTP request whose body would, is answered 503 with `Retry-After`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes a connection may buffer without asking the budget: a small frame never waits on it.
pub const FREE_BYTES: usize = 64 * 1024;

/// The budget of one input.
#[derive(Debug)]
pub struct FrameBudget {
    used: AtomicUsize,
    limit: usize,
}

impl FrameBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(FrameBudget {
            used: AtomicUsize::new(0),
            limit,
        })
    }

    /// What every connection holds now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// What one connection holds of the budget; released when dropped.
#[derive(Debug)]
pub struct Held {
    budget: Arc<FrameBudget>,
    bytes: usize,
}

/// The budget is spent: the connection asking must give up its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    /// The input's `mem_buf_limit`.
    pub limit: usize,
}

impl Held {
    /// Nothing held yet.
    pub fn new(budget: Arc<FrameBudget>) -> Self {
        Held { budget, bytes: 0 }
    }

    /// Holds `buffered` bytes of a partial frame from now on (the first [`FREE_BYTES`] are
    /// free), or refuses if the input's connections would then hold more than the limit.
    pub fn hold(&mut self, buffered: usize) -> Result<(), OverBudget> {
        let wanted = buffered.saturating_sub(FREE_BYTES);
        if wanted > self.bytes {
            let more = wanted - self.bytes;
            let before = self.budget.used.fetch_add(more, Ordering::Relaxed);
            if before + more > self.budget.limit {
                self.budget.used.fetch_sub(more, Ordering::Relaxed);
                return Err(OverBudget {
                    limit: self.budget.limit,
                });
            }
        } else {
            self.budget
                .used
                .fetch_sub(self.bytes - wanted, Ordering::Relaxed);
        }
        self.bytes = wanted;
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_share_the_limit_and_give_it_back() {
        let budget = FrameBudget::new(100_000);
        let mut a = Held::new(budget.clone());
        let mut b = Held::new(budget.clone());
        assert_eq!(a.hold(FREE_BYTES), Ok(()), "the free part asks nothing");
        assert_eq!(budget.used(), 0);
        assert_eq!(a.hold(FREE_BYTES + 60_000), Ok(()));
        assert_eq!(
            b.hold(FREE_BYTES + 50_000),
            Err(OverBudget { limit: 100_000 })
        );
        assert_eq!(budget.used(), 60_000, "a refusal takes nothing");
        assert_eq!(b.hold(FREE_BYTES + 40_000), Ok(()));
        a.hold(0).expect("shrinking always works");
        assert_eq!(budget.used(), 40_000);
        drop(b);
        assert_eq!(budget.used(), 0);
    }
}
