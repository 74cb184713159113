//! Stripes held by a transaction (EXEC) on this thread.
//!
//! EXEC locks, in ascending order, every stripe its queued commands touch, then runs them.
//! Those commands lock stripes the ordinary way ([`crate::Keyspace::stripe`] and friends);
//! while a transaction runs on this thread, a request for a held stripe is served from the
//! transaction's guard instead of locking again (which would deadlock: std mutexes are not
//! reentrant).
//!
//! Soundness, checked at run time like `RefCell`: a held stripe is handed out to at most one
//! [`StripeGuard`] at a time (a second request panics, closing the client whose command has the
//! bug, never aliasing), and the guards cannot outlive [`crate::Keyspace::exec`], which keeps
//! the real mutex guards alive until its closure (whose result must be `'static`) returns.
//! Asking for a stripe the transaction did not lock also panics: taking it then could break the
//! ascending lock order and deadlock with another worker.

use crate::Stripe;
use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::sync::MutexGuard;

struct HeldEntry {
    index: usize,
    ptr: *mut Stripe,
    borrowed: bool,
}

pub(crate) struct HeldSet {
    /// The keyspace whose stripes these are (its address).
    keyspace: usize,
    entries: Vec<HeldEntry>,
}

thread_local! {
    static HELD: RefCell<Option<HeldSet>> = const { RefCell::new(None) };
}

/// A locked stripe: locked for this request, or borrowed from the running transaction.
pub enum StripeGuard<'a> {
    Locked(MutexGuard<'a, Stripe>),
    Held { stripe: &'a mut Stripe, index: usize },
}

impl Deref for StripeGuard<'_> {
    type Target = Stripe;
    fn deref(&self) -> &Stripe {
        match self {
            StripeGuard::Locked(g) => g,
            StripeGuard::Held { stripe, .. } => stripe,
        }
    }
}

impl DerefMut for StripeGuard<'_> {
    fn deref_mut(&mut self) -> &mut Stripe {
        match self {
            StripeGuard::Locked(g) => g,
            StripeGuard::Held { stripe, .. } => stripe,
        }
    }
}

impl Drop for StripeGuard<'_> {
    fn drop(&mut self) {
        if let StripeGuard::Held { index, .. } = self {
            HELD.with(|h| {
                if let Some(set) = h.borrow_mut().as_mut() {
                    if let Some(e) = set.entries.iter_mut().find(|e| e.index == *index) {
                        e.borrowed = false;
                    }
                }
            });
        }
    }
}

/// What a lock request should do on this thread.
pub(crate) enum Route<'a> {
    /// No transaction of this keyspace runs here: lock normally.
    Lock,
    Held(StripeGuard<'a>),
}

/// Serves stripe `index` of the keyspace at `keyspace` from the running transaction, if any.
pub(crate) fn route<'a>(keyspace: usize, index: usize) -> Route<'a> {
    HELD.with(|h| {
        let mut h = h.borrow_mut();
        let Some(set) = h.as_mut().filter(|s| s.keyspace == keyspace) else { return Route::Lock };
        let Some(e) = set.entries.iter_mut().find(|e| e.index == index) else {
            panic!("a command in EXEC needed stripe {index}, which the transaction did not lock");
        };
        assert!(!e.borrowed, "stripe {index} requested twice at once inside EXEC");
        e.borrowed = true;
        // SAFETY: `ptr` comes from a MutexGuard that `Keyspace::exec` keeps alive until the
        // held set is cleared (before the guards drop); the `borrowed` flag just set makes this
        // the only reference to the stripe until this StripeGuard drops; and no StripeGuard
        // outlives `exec`, whose closure result is 'static.
        Route::Held(StripeGuard::Held { stripe: unsafe { &mut *e.ptr }, index })
    })
}

/// Registers `guards` as the running transaction's stripes; returns a token that unregisters
/// them when dropped (it MUST drop before the guards).
pub(crate) fn hold(keyspace: usize, guards: &mut [(usize, MutexGuard<'_, Stripe>)]) -> HoldToken {
    HELD.with(|h| {
        let mut h = h.borrow_mut();
        assert!(h.is_none(), "EXEC cannot nest");
        *h = Some(HeldSet {
            keyspace,
            entries: guards
                .iter_mut()
                .map(|(i, g)| HeldEntry { index: *i, ptr: &mut **g as *mut Stripe, borrowed: false })
                .collect(),
        });
    });
    HoldToken
}

pub(crate) struct HoldToken;

impl Drop for HoldToken {
    fn drop(&mut self) {
        HELD.with(|h| *h.borrow_mut() = None);
    }
}
