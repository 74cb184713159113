//! The heap as INFO `used_memory` reports it: every live allocation's requested size, counted
//! by a wrapper around the real allocator (mimalloc in the binary), as Redis's zmalloc counts.
//!
//! Each thread adds to a counter of its own (one of [`SLOTS`] cache-line-sized slots, chosen
//! at its first allocation), so counting costs an uncontended atomic add per allocation; the
//! sum is taken only when INFO or the memory check asks. A block freed on another thread than
//! the one that allocated it lowers that thread's slot: slots can go negative, the sum cannot.
//! The receive-buffer rings are mapped directly, outside the heap (see `cachet_runtime`).

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

const SLOTS: usize = 64;

#[repr(align(128))]
struct Slot(AtomicIsize);

static COUNTS: [Slot; SLOTS] = [const { Slot(AtomicIsize::new(0)) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's slot (usize::MAX until its first allocation). No destructor, so it is
    /// usable from the allocator at any point of a thread's life.
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline]
fn add(n: isize) {
    let slot = MY_SLOT
        .try_with(|s| {
            let v = s.get();
            if v != usize::MAX {
                return v;
            }
            let v = NEXT_SLOT.fetch_add(1, Relaxed) % SLOTS;
            s.set(v);
            v
        })
        .unwrap_or(0);
    COUNTS[slot].0.fetch_add(n, Relaxed);
}

/// Bytes allocated and not yet freed through [`Counting`]; None when the process does not
/// allocate through it (a test binary with another allocator).
pub fn heap_bytes() -> Option<u64> {
    let sum: isize = COUNTS.iter().map(|s| s.0.load(Relaxed)).sum();
    (sum > 0).then_some(sum as u64)
}

/// A global allocator that counts what `A` hands out.
pub struct Counting<A>(pub A);

// SAFETY: every method forwards to `A` with the caller's arguments unchanged (so `A`'s
// guarantees are ours) and only adds bookkeeping that neither allocates nor touches the
// returned memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is; `ptr` came from this allocator with `layout`.
        unsafe { self.0.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        p
    }
}
