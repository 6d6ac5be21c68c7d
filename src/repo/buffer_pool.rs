//! Recycled byte buffers for the backup pipeline. Every chunk passes through two buffers of
//! about its size (its bytes, then its sealed form). Fresh ones for every chunk make the kernel
//! fault in and zero new pages for each megabyte backed up, and make the allocator keep freed
//! megabytes in per-thread arenas, which is most of a large backup's peak memory. Buffers
//! handed back are kept, up to a byte budget, and handed out again.

use crate::util::sync::IgnorePoison;
use std::sync::Mutex;

pub struct BufferPool {
    free: Mutex<Free>,
    /// Most bytes of capacity kept while not in use.
    budget: usize,
}

#[derive(Default)]
struct Free {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl BufferPool {
    pub fn new(budget: usize) -> Self {
        BufferPool { free: Mutex::new(Free::default()), budget }
    }

    /// An empty buffer: a recycled one (with its capacity) when there is one.
    pub fn take(&self) -> Vec<u8> {
        let mut free = self.free.lock().ignore_poison();
        match free.buffers.pop() {
            Some(b) => {
                free.bytes -= b.capacity();
                b
            }
            None => Vec::new(),
        }
    }

    /// Keep `buf` for reuse, unless that would take the pool over its budget.
    pub fn give(&self, mut buf: Vec<u8>) {
        let mut free = self.free.lock().ignore_poison();
        if buf.capacity() == 0 || free.bytes + buf.capacity() > self.budget {
            return;
        }
        buf.clear();
        free.bytes += buf.capacity();
        free.buffers.push(buf);
    }

    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        let free = self.free.lock().ignore_poison();
        (free.buffers.len(), free.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_with_their_capacity() {
        let pool = BufferPool::new(1 << 20);
        let mut b = pool.take();
        b.extend_from_slice(&[7; 1000]);
        let cap = b.capacity();
        pool.give(b);
        let again = pool.take();
        assert!(again.is_empty());
        assert_eq!(again.capacity(), cap);
        assert_eq!(pool.held(), (0, 0));
    }

    #[test]
    fn the_pool_keeps_no_more_than_its_budget() {
        let pool = BufferPool::new(3000);
        for _ in 0..5 {
            pool.give(Vec::with_capacity(1000));
        }
        let (count, bytes) = pool.held();
        assert_eq!(count, 3);
        assert!(bytes <= 3000);
        pool.give(Vec::with_capacity(10_000));
        assert_eq!(pool.held().0, 3, "a buffer over the budget is dropped");
    }
}
