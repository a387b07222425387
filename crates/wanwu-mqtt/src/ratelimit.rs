//! Token bucket for per-client publish rates.

use std::time::{Duration, Instant};

use crate::config::RateLimit;

/// A token bucket: one token per message.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            tokens: f64::from(limit.burst.max(1)),
            last: Instant::now(),
        }
    }

    /// Takes one token; returns how long to wait first when the bucket is empty.
    pub fn take(&mut self) -> Option<Duration> {
        let now = Instant::now();
        let burst = f64::from(self.limit.burst.max(1));
        let rate = self.limit.per_second.max(f64::MIN_POSITIVE);
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * rate).min(burst);
        self.last = now;
        self.tokens -= 1.0;
        (self.tokens < 0.0).then(|| Duration::from_secs_f64(-self.tokens / rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_the_burst_then_asks_to_wait() {
        let mut bucket = TokenBucket::new(RateLimit {
            per_second: 10.0,
            burst: 3,
        });
        assert!((0..3).all(|_| bucket.take().is_none()));
        let wait = bucket.take().expect("empty bucket");
        assert!(
            wait > Duration::from_millis(50) && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
    }
}
