//! A closed-loop publisher's window: permits for messages on their way, given back when
//! messages are settled, delivered or given up as lost.
//!
//! Messages are numbered per publisher and arrive in order (MQTT keeps the order of one
//! client's messages on one topic), so the arrival of message `n` settles every message
//! before it as well: a message the broker dropped does not keep its permit. A publisher
//! that got nothing back for [`STALL`] gives up everything on its way, so a window whose
//! every message was dropped does not stop the publisher either.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

/// How long a publisher waits for a permit before it gives up its messages on their way.
const STALL: Duration = Duration::from_secs(1);

/// Permits of one publisher's window.
pub(crate) struct Credit {
    permits: Semaphore,
    /// Messages before this number are settled.
    settled: AtomicU32,
}

impl Credit {
    /// A window of `window` messages.
    pub fn new(window: usize) -> Self {
        Self {
            permits: Semaphore::new(window),
            settled: AtomicU32::new(0),
        }
    }

    /// Settles every message numbered below `end`, giving their permits back once.
    pub fn settle(&self, end: u32) {
        let before = self.settled.fetch_max(end, Ordering::AcqRel);
        if end > before {
            self.permits.add_permits((end - before) as usize);
        }
    }

    /// Waits for at least one permit and takes up to `most`; `next` is the number of the
    /// next message, so that a stall gives up those before it. `None` once closed.
    pub async fn take(&self, most: usize, next: u32) -> Option<usize> {
        loop {
            match tokio::time::timeout(STALL, self.permits.acquire()).await {
                Ok(Ok(permit)) => {
                    permit.forget();
                    let mut taken = 1;
                    while taken < most && self.permits.try_acquire().map(|p| p.forget()).is_ok() {
                        taken += 1;
                    }
                    return Some(taken);
                }
                Ok(Err(_)) => return None,
                Err(_) => self.settle(next),
            }
        }
    }

    /// Wakes and ends a publisher waiting in [`Self::take`].
    pub fn close(&self) {
        self.permits.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_later_arrival_settles_the_messages_before_it_once() {
        let credit = Credit::new(4);
        assert_eq!(credit.take(64, 0).await, Some(4));
        credit.settle(3); // message 2 arrived; 0 and 1 were dropped
        credit.settle(2); // a straggler gives nothing back twice
        assert_eq!(credit.take(64, 4).await, Some(3));
        credit.close();
        assert_eq!(credit.take(64, 7).await, None);
    }

    #[tokio::test]
    async fn a_stalled_window_is_given_up() {
        let credit = Credit::new(2);
        assert_eq!(credit.take(64, 0).await, Some(2));
        // Nothing arrives: after the stall the two messages on their way count as settled.
        let started = std::time::Instant::now();
        assert_eq!(credit.take(64, 2).await, Some(2));
        assert!(started.elapsed() >= STALL);
    }
}
