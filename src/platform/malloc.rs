//! The C allocator's settings for a long-running pipeline.
//!
//! glibc serves a request of at least its "mmap threshold" with a mapping of its own, returned
//! to the system when freed, and smaller ones from heaps that keep freed memory. The threshold
//! starts at 128 KiB but rises to the size of any mapped block freed, up to 32 MiB: after the
//! first 16 MiB pack is freed, packs, chunk buffers and the growing blob index all come from
//! the heaps, where every reallocation leaves a hole the process keeps. A first backup of a
//! million small files peaked at 196 MiB that way, with 104 MB in use; with the threshold
//! fixed at 1 MiB (which also stops it rising) the same backup peaks at 117 MiB, as fast.
//! Blocks under 1 MiB (tree nodes, small chunks, table entries) still come from the heaps, so
//! the cost of mapping is paid only by buffers large enough for it not to matter.

/// Requests of this many bytes or more are mapped, and unmapped when freed.
const MMAP_THRESHOLD: i32 = 1 << 20;

/// Apply the settings; called once, first thing in `main`.
#[allow(unsafe_code)]
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
