//! A ring of provided buffers (`IORING_REGISTER_PBUF_RING`) for multishot receives.
//!
//! The kernel picks a free buffer when data arrives for any connection of the worker, fills it,
//! and names it (by buffer id) in the completion. Memory is therefore proportional to data in
//! flight, not to connections: 10 000 idle connections pin no receive buffers.
//!
//! Ownership, which every `unsafe` below relies on:
//! - a buffer whose id is *in the ring* (between head and tail) belongs to the kernel; we never
//!   form a reference into it;
//! - a buffer named by a completion belongs to us until [`BufRing::recycle`] puts it back.

use io_uring::types::BufRingEntry;
use io_uring::IoUring;
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

pub struct BufRing {
    /// The ring of `entries` descriptors, page-aligned as the kernel requires.
    ring: NonNull<BufRingEntry>,
    ring_bytes: usize,
    /// The buffers, `entries * buf_size` bytes in one mapping.
    bufs: NonNull<u8>,
    bufs_bytes: usize,
    entries: u16,
    buf_size: usize,
    /// Our copy of the tail; published to the kernel through the ring's tail field.
    tail: u16,
    pub bgid: u16,
}

impl BufRing {
    /// Allocates `entries` buffers of `buf_size` bytes, hands them all to the kernel and
    /// registers the ring as group `bgid` on `uring`.
    pub fn new(uring: &IoUring, entries: u16, buf_size: usize, bgid: u16) -> io::Result<Self> {
        assert!(entries.is_power_of_two() && entries <= 32768, "buffer ring size must be a power of two");
        // Both live in anonymous mappings of their own rather than on the heap: they are I/O
        // memory shared with the kernel, sized by the tuning profile, and kept out of the heap
        // that INFO `used_memory` (and so `maxmemory`) counts, as Redis's socket buffers are.
        let ring_bytes = entries as usize * std::mem::size_of::<BufRingEntry>();
        let bufs_bytes = entries as usize * buf_size;
        let ring = map_zeroed(ring_bytes)?.cast::<BufRingEntry>();
        let bufs = match map_zeroed(bufs_bytes) {
            Ok(b) => b,
            Err(e) => {
                // SAFETY: `ring` was mapped just above with this length and nothing uses it.
                unsafe { libc::munmap(ring.as_ptr().cast(), ring_bytes) };
                return Err(e);
            }
        };
        let mut me = BufRing { ring, ring_bytes, bufs, bufs_bytes, entries, buf_size, tail: 0, bgid };
        for bid in 0..entries {
            me.push(bid);
        }
        me.publish();
        // SAFETY: the ring memory is valid for `entries` descriptors and stays allocated until
        // `Drop`, which runs only after the caller has unregistered the group (see `unregister`)
        // or dropped the io_uring; the descriptors point into `bufs`, allocated just as long.
        unsafe { uring.submitter().register_buf_ring_with_flags(ring.as_ptr() as u64, entries, bgid, 0)? };
        Ok(me)
    }

    /// The first `len` bytes of buffer `bid`, which a completion has just handed to us.
    ///
    /// The caller MUST call [`BufRing::recycle`] for `bid` once done, and MUST NOT call this
    /// twice for the same completion.
    pub fn filled(&mut self, bid: u16, len: usize) -> &mut [u8] {
        assert!(bid < self.entries && len <= self.buf_size, "kernel named buffer {bid} with {len} bytes");
        // SAFETY: `bid` is in range (checked) so the slice lies inside `bufs`; the completion
        // transferred buffer `bid` to us and the kernel will not touch it until it is recycled;
        // `&mut self` makes this the only reference we hold into `bufs`.
        unsafe { std::slice::from_raw_parts_mut(self.bufs.as_ptr().add(bid as usize * self.buf_size), len) }
    }

    /// Gives buffer `bid` back to the kernel.
    pub fn recycle(&mut self, bid: u16) {
        self.push(bid);
        self.publish();
    }

    fn push(&mut self, bid: u16) {
        let slot = (self.tail & (self.entries - 1)) as usize;
        // SAFETY: `slot < entries`, so the descriptor is inside the ring allocation. The kernel
        // reads descriptors only between its head and the published tail, and this slot is past
        // the published tail until `publish`, so nobody reads it while we write.
        let entry = unsafe { &mut *self.ring.as_ptr().add(slot) };
        // SAFETY: `bid < entries` keeps the address inside `bufs`.
        entry.set_addr(unsafe { self.bufs.as_ptr().add(bid as usize * self.buf_size) } as u64);
        entry.set_len(self.buf_size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publishes the tail with release ordering, so the kernel sees the descriptors written
    /// before it.
    fn publish(&self) {
        // SAFETY: `ring` points at the first descriptor, whose `resv` field is the ring's tail
        // (the kernel ABI); it is a u16 at a 2-aligned offset inside our allocation, shared
        // with the kernel, so it is accessed atomically.
        unsafe {
            let tail = BufRingEntry::tail(self.ring.as_ptr()) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }

    /// Unregisters the group so the kernel stops using our memory; call before dropping the
    /// ring while the io_uring lives on.
    pub fn unregister(&self, uring: &IoUring) {
        let _ = uring.submitter().unregister_buf_ring(self.bgid);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: both pointers came from `map_zeroed` with these lengths; the owner
        // unregisters the group (or drops the io_uring) before dropping us, so the kernel no
        // longer writes here, and no slice into `bufs` outlives `&mut self` borrows.
        unsafe {
            libc::munmap(self.ring.as_ptr().cast(), self.ring_bytes);
            libc::munmap(self.bufs.as_ptr().cast(), self.bufs_bytes);
        }
    }
}

/// A private anonymous mapping of `len` bytes (zeroed, page-aligned).
fn map_zeroed(len: usize) -> io::Result<NonNull<u8>> {
    // SAFETY: asks for a fresh private anonymous mapping; no existing memory is affected.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len.max(1),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(p.cast::<u8>())
        .ok_or_else(|| io::Error::new(io::ErrorKind::OutOfMemory, "mmap returned null"))
}
