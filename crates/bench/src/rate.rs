//! Open-loop pacing: each connection's requests have scheduled send times, fixed in advance.
//!
//! A closed-loop generator (send, wait for the reply, send again) slows down with the server,
//! so a stall delays the requests that would have measured it and their latencies look fine:
//! coordinated omission. Here request `k` of a connection is due at `start + phase + k * T`
//! whatever happened before, and its latency is measured from that due time, so when the
//! connection is late because the server stalled, the wait counts.

/// The schedule of one connection.
#[derive(Debug, Clone)]
pub struct Pacer {
    start_ns: u64,
    /// Nanoseconds between requests, as a fraction `num / den` so the schedule never drifts.
    num: u128,
    den: u128,
    next: u64,
}

impl Pacer {
    /// `rate` requests per second over `connections` connections; this one is `index`, offset
    /// by its share of one interval so the connections do not all send at the same instant.
    pub fn new(start_ns: u64, rate: u64, connections: usize, index: usize) -> Self {
        let num = 1_000_000_000u128 * connections as u128;
        let den = rate.max(1) as u128;
        let phase = (num * index as u128 / connections.max(1) as u128 / den) as u64;
        Pacer { start_ns: start_ns + phase, num, den, next: 0 }
    }

    /// When the next request is due.
    pub fn due(&self) -> u64 {
        self.start_ns + (self.next as u128 * self.num / self.den) as u64
    }

    /// The due time of the next request if it is due by `now`, consuming it.
    pub fn take(&mut self, now_ns: u64) -> Option<u64> {
        let due = self.due();
        (due <= now_ns).then(|| {
            self.next += 1;
            due
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_exact_and_does_not_drift() {
        // 3 requests/s on one connection: every 333,333,333.3 ns.
        let mut p = Pacer::new(0, 3, 1, 0);
        assert_eq!(p.take(0), Some(0));
        assert_eq!(p.take(333_333_332), None);
        assert_eq!(p.take(333_333_333), Some(333_333_333));
        let mut p = Pacer::new(0, 3, 1, 0);
        let mut last = 0;
        while let Some(t) = p.take(3_000_000_000) {
            last = t;
        }
        assert_eq!(p.next, 10, "10 due in [0, 3 s]");
        assert_eq!(last, 3_000_000_000);
    }

    #[test]
    fn connections_share_the_rate_and_are_spread() {
        // 1000/s over 4 connections: each every 4 ms, offset by 1 ms from the previous.
        let p: Vec<Pacer> = (0..4).map(|i| Pacer::new(10, 1000, 4, i)).collect();
        let firsts: Vec<u64> = p.iter().map(|p| p.due()).collect();
        assert_eq!(firsts, [10, 1_000_010, 2_000_010, 3_000_010]);
        let mut total = 0;
        for mut c in p {
            while c.take(1_000_000_000).is_some() {
                total += 1;
            }
        }
        assert_eq!(total, 1000, "the 1000 due in [10 ns, 1 s + 10 ns)");
    }

    #[test]
    fn a_late_sender_gets_the_due_times_not_its_own() {
        // The connection was stalled for 10 ms: the requests it owes keep their due times, so
        // their latencies (reply time - due time) include the stall.
        let mut p = Pacer::new(0, 1000, 1, 0);
        let owed: Vec<u64> = std::iter::from_fn(|| p.take(10_000_000)).collect();
        assert_eq!(owed.len(), 11);
        assert_eq!(owed[0], 0);
        let reply_at = 10_050_000;
        assert_eq!(reply_at - owed[0], 10_050_000, "the first owed request waited the whole stall");
    }
}
