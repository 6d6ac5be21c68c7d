//! Failed logins, throttled per client address: after [`FREE`] failures in a row, every
//! further attempt from that address is answered `429 Too Many Requests` with `Retry-After`
//! (its credentials are not even checked) until a wait has passed that doubles with each
//! further failure ([`BASE`], at most [`LONGEST`]); a successful login forgets the address.
//!
//! Only passwords people chose are throttled: with the htpasswd users. The printed token is
//! 256 random bits, which no number of guesses finds, so with it nothing is throttled (and an
//! address shared by many clients, behind a proxy, is never locked out for nothing).
//!
//! The table holds at most [`MAX_CLIENTS`] addresses: a new one first drops those with no wait
//! left that failed last more than [`LONGEST`] ago, then the one that failed longest ago, so
//! a flood of addresses costs bounded memory and can at worst make the server forget a wait.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;

/// Failures allowed before attempts wait.
pub const FREE: u32 = 5;
/// The first wait; each further failure doubles it.
pub const BASE: Duration = Duration::from_secs(1);
/// The longest wait.
pub const LONGEST: Duration = Duration::from_secs(15 * 60);
/// Addresses remembered at most.
pub const MAX_CLIENTS: usize = 10_000;

/// The address of the client of a connection (a request extension, from the listener).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    /// When attempts may come again.
    fn until(&self) -> Instant {
        if self.count < FREE {
            return self.last;
        }
        let doublings = (self.count - FREE).min(20);
        self.last + BASE.saturating_mul(1 << doublings).min(LONGEST)
    }
}

#[derive(Default)]
pub struct Throttle {
    table: Mutex<HashMap<IpAddr, Failures>>,
}

impl Throttle {
    /// May `ip` try now? `Err(wait)`: not before `wait` has passed.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let Ok(table) = self.table.lock() else { return Ok(()) };
        match table.get(&ip) {
            Some(f) if f.count >= FREE => {
                let left = f.until().saturating_duration_since(Instant::now());
                if left.is_zero() {
                    Ok(())
                } else {
                    Err(left)
                }
            }
            _ => Ok(()),
        }
    }

    pub fn failed(&self, ip: IpAddr) {
        let Ok(mut table) = self.table.lock() else { return };
        let now = Instant::now();
        if !table.contains_key(&ip) && table.len() >= MAX_CLIENTS {
            table.retain(|_, f| f.until() > now || now.duration_since(f.last) < LONGEST);
            if table.len() >= MAX_CLIENTS {
                if let Some(oldest) = table.iter().min_by_key(|(_, f)| f.last).map(|(k, _)| *k) {
                    table.remove(&oldest);
                }
            }
        }
        let f = table.entry(ip).or_insert(Failures { count: 0, last: now });
        f.count = f.count.saturating_add(1);
        f.last = now;
    }

    pub fn succeeded(&self, ip: IpAddr) {
        if let Ok(mut table) = self.table.lock() {
            table.remove(&ip);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.lock().map(|t| t.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_are_free_then_the_wait_doubles_and_success_forgets() {
        let t = Throttle::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..FREE {
            assert!(t.check(ip).is_ok());
            t.failed(ip);
        }
        let first = t.check(ip).unwrap_err();
        assert!(first > BASE / 2 && first <= BASE, "{first:?}");
        t.failed(ip);
        let second = t.check(ip).unwrap_err();
        assert!(second > BASE && second <= BASE * 2, "grows: {second:?}");
        // another address is not held up
        assert!(t.check("192.0.2.2".parse().unwrap()).is_ok());
        t.succeeded(ip);
        assert!(t.check(ip).is_ok());
        // a very long run of failures waits the longest, no more
        for _ in 0..100 {
            t.failed(ip);
        }
        assert!(t.check(ip).unwrap_err() <= LONGEST);
    }

    #[test]
    fn the_table_is_bounded() {
        let t = Throttle::default();
        for i in 0..(MAX_CLIENTS as u32 + 500) {
            t.failed(IpAddr::from(i.to_be_bytes()));
        }
        assert!(t.len() <= MAX_CLIENTS);
    }
}
