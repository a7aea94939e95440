//! [`OpGate`]: admits a table's operations until the table is deleted or closed, and
//! lets the deleting (closing) thread wait for the operations already admitted.
//!
//! Why not a read-write lock: operations would hold it for reading and `delete_table`
//! would take it for writing. A fair lock makes a reader that is already inside an
//! operation (a change sink or capacity meter calling back into the table) deadlock
//! behind the waiting writer; a reader-preferring lock lets a steady stream of writers
//! starve `delete_table` and `close` for as long as the stream lasts. The gate has
//! neither problem: shutting it is one atomic store, after which every new operation
//! fails at once (so no new work can delay the shutdown), and the shutting thread
//! waits only for the operations admitted before — each a bounded amount of work.
//!
//! A thread that already holds a token of the gate (inside an admitted operation) is
//! admitted again even once the gate is shut: the nested entry is part of that
//! operation, which the shutdown waits for anyway.
//!
//! Protocol (both sides sequentially consistent): an operation increments `in_flight`,
//! then reads `state`; a shutdown stores `state`, then waits until `in_flight` is
//! zero. Either the operation sees the new state (and leaves), or the shutdown sees
//! its increment (and waits for it).

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

const OPEN: u8 = 0;
const DELETING: u8 = 1;
const CLOSING: u8 = 2;
const REPLACING: u8 = 3;

/// Why a gate is shut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shut {
    /// The table is being (or was) deleted.
    Deleted,
    /// The database is being (or was) closed.
    Closed,
    /// `update_table` replaces the table's core (its GSIs change); handles move to
    /// the new one.
    Replaced,
}

impl Shut {
    fn code(self) -> u8 {
        match self {
            Shut::Deleted => DELETING,
            Shut::Closed => CLOSING,
            Shut::Replaced => REPLACING,
        }
    }
}

thread_local! {
    /// The gates (by address) the current thread holds a token of, one entry per
    /// token: a shutdown must not wait for the thread that asks for it.
    static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Admits operations until shut; counts those in flight.
#[derive(Debug, Default)]
pub(crate) struct OpGate {
    state: AtomicU8,
    in_flight: AtomicUsize,
    idle: Mutex<()>,
    idle_cv: Condvar,
}

/// An admitted operation; leaving drops it. Not `Send`: the thread that entered
/// leaves.
#[derive(Debug)]
pub(crate) struct GateToken<'a> {
    gate: &'a OpGate,
    _not_send: PhantomData<*const ()>,
}

impl OpGate {
    fn addr(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// Admits an operation, or says why the gate is shut. Never blocks.
    pub(crate) fn enter(&self) -> Result<GateToken<'_>, Shut> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        // A thread already inside an operation (admitted before any shutdown, which
        // waits for it) may enter again: the nested entry is part of that operation.
        let nested = self.held_by_current_thread();
        // `try_with`: during thread teardown the list may be gone; the token still
        // counts, only the self-wait check loses this entry.
        let _ = HELD.try_with(|h| h.borrow_mut().push(self.addr()));
        // From here on, dropping the token undoes the two steps above.
        let token = GateToken {
            gate: self,
            _not_send: PhantomData,
        };
        match self.state.load(Ordering::SeqCst) {
            OPEN => Ok(token),
            _ if nested => Ok(token),
            DELETING => Err(Shut::Deleted),
            REPLACING => Err(Shut::Replaced),
            _ => Err(Shut::Closed),
        }
    }

    /// Shuts the gate: every later [`enter`](OpGate::enter) fails with `why`. Returns
    /// false if it was already shut (the first reason stays).
    pub(crate) fn shut(&self, why: Shut) -> bool {
        self.state
            .compare_exchange(OPEN, why.code(), Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Whether the calling thread is inside an operation admitted by this gate (a
    /// callback of that operation): waiting for the gate to drain would then wait for
    /// itself.
    pub(crate) fn held_by_current_thread(&self) -> bool {
        let me = self.addr();
        HELD.try_with(|h| h.borrow().contains(&me)).unwrap_or(false)
    }

    /// Waits until no admitted operation is in flight. Call after [`shut`]
    /// (OpGate::shut), so that the wait is bounded by the operations already
    /// admitted; and never from a thread for which
    /// [`held_by_current_thread`](OpGate::held_by_current_thread) is true.
    pub(crate) fn wait_idle(&self) {
        let mut g = self.idle.lock();
        while self.in_flight.load(Ordering::SeqCst) != 0 {
            // The wake-up is ordered (see `GateToken::drop`); the timeout only
            // re-checks, it is not needed for progress.
            self.idle_cv.wait_for(&mut g, Duration::from_millis(50));
        }
    }
}

impl Drop for GateToken<'_> {
    fn drop(&mut self) {
        let gate = self.gate;
        let me = gate.addr();
        let _ = HELD.try_with(|h| {
            let mut h = h.borrow_mut();
            if let Some(i) = h.iter().rposition(|&a| a == me) {
                h.swap_remove(i);
            }
        });
        let before = gate.in_flight.fetch_sub(1, Ordering::SeqCst);
        if before == 1 && gate.state.load(Ordering::SeqCst) != OPEN {
            // Taking the mutex orders this wake-up after the waiter's check.
            let _g = gate.idle.lock();
            gate.idle_cv.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use super::*;

    #[test]
    fn open_gate_admits_and_shut_gate_refuses_with_its_first_reason() {
        let g = OpGate::default();
        let t = g.enter().unwrap();
        assert!(g.held_by_current_thread());
        drop(t);
        assert!(!g.held_by_current_thread());
        assert!(g.shut(Shut::Deleted));
        assert!(!g.shut(Shut::Closed));
        assert_eq!(g.enter().unwrap_err(), Shut::Deleted);
        assert!(!g.held_by_current_thread());
        g.wait_idle();
    }

    #[test]
    fn nested_entries_are_counted_and_a_nested_entry_after_shut_is_part_of_its_operation() {
        let g = OpGate::default();
        let outer = g.enter().unwrap();
        let inner = g.enter().unwrap();
        drop(inner);
        assert!(g.held_by_current_thread());
        g.shut(Shut::Closed);
        // A nested entry of the admitted outer operation (a callback calling back in,
        // or an operation entered through a Table handle) is admitted at once: the
        // shutdown waits for the outer operation anyway.
        let nested = g.enter().unwrap();
        drop(nested);
        assert!(g.held_by_current_thread());
        drop(outer);
        assert!(!g.held_by_current_thread());
        // Outside any operation, the shut gate refuses.
        assert_eq!(g.enter().unwrap_err(), Shut::Closed);
        g.wait_idle();
    }

    #[test]
    fn wait_idle_waits_for_admitted_operations_only() {
        let g = Arc::new(OpGate::default());
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let left = Arc::new(AtomicBool::new(false));
        let h = {
            let g = Arc::clone(&g);
            let left = Arc::clone(&left);
            std::thread::spawn(move || {
                let t = g.enter().unwrap();
                entered_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                left.store(true, Ordering::SeqCst);
                drop(t);
            })
        };
        entered_rx.recv().unwrap();
        assert!(!g.held_by_current_thread());
        g.shut(Shut::Deleted);
        let waiter = {
            let g = Arc::clone(&g);
            let left = Arc::clone(&left);
            std::thread::spawn(move || {
                g.wait_idle();
                assert!(left.load(Ordering::SeqCst));
            })
        };
        // New operations fail while the admitted one is still running.
        assert_eq!(g.enter().unwrap_err(), Shut::Deleted);
        std::thread::sleep(Duration::from_millis(10));
        release_tx.send(()).unwrap();
        h.join().unwrap();
        waiter.join().unwrap();
    }

    #[test]
    fn shutting_under_a_steady_stream_of_operations_drains() {
        let g = Arc::new(OpGate::default());
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let g = Arc::clone(&g);
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut refused = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        match g.enter() {
                            Ok(t) => {
                                std::hint::black_box(&t);
                            }
                            Err(_) => refused += 1,
                        }
                    }
                    refused
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(5));
        g.shut(Shut::Closed);
        g.wait_idle();
        // Once drained, nothing is admitted any more.
        assert!(g.enter().is_err());
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.join().unwrap();
        }
    }
}
