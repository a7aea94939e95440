//! One background thread that fsyncs many logs at their intervals.
//!
//! A log written with [`Durability::Buffered`](crate::Durability::Buffered)
//! or [`Durability::None`](crate::Durability::None) needs someone to fsync
//! it every [`WalOptions::buffered_sync_interval`](crate::WalOptions::buffered_sync_interval).
//! A [`WalSyncer`] does that for every log that registered with it, from a
//! single thread, so a process holding dozens of logs (a database of many
//! tables and partitions) runs one sync thread, not one per log. The thread
//! starts when the first log registers (on its first non-`Sync` append), so
//! logs written only with `Durability::Sync` never start one.

use std::sync::{Arc, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// What the syncer thread calls on a registered log.
pub(crate) trait BackgroundSync: Send + Sync {
    /// Writes and fsyncs what is unsynced (if anything) and tells the log's
    /// sync listener. Returns false when the log is closed (the syncer then
    /// forgets it).
    fn background_sync(&self) -> bool;
}

struct Member {
    log: Weak<dyn BackgroundSync>,
    interval: Duration,
    due: Instant,
}

#[derive(Default)]
struct State {
    members: Vec<Member>,
    thread: Option<(JoinHandle<()>, ThreadId)>,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    cv: Condvar,
}

/// A background thread that fsyncs every registered log at that log's
/// [`WalOptions::buffered_sync_interval`](crate::WalOptions::buffered_sync_interval),
/// and tells its [sync listener](crate::Wal::set_sync_listener) after each
/// sync. Share one among many logs through
/// [`WalOptions::syncer`](crate::WalOptions::syncer); a log opened without
/// one makes its own. The thread (named `strata-wal-sync`) starts with the
/// first registration and stops when the syncer is dropped.
///
/// ```
/// use std::sync::Arc;
/// use strata_wal::{Durability, Wal, WalOptions, WalSyncer};
///
/// let syncer = Arc::new(WalSyncer::new());
/// let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
/// let opts = WalOptions { syncer: Some(Arc::clone(&syncer)), ..WalOptions::default() };
/// let a = Wal::open(dirs[0].path(), opts.clone()).unwrap().0;
/// let b = Wal::open(dirs[1].path(), opts).unwrap().0;
/// assert!(!syncer.is_running());
/// a.append(b"x", Durability::Sync).unwrap();
/// assert!(!syncer.is_running()); // a `Sync` log needs no background sync
/// a.append(b"y", Durability::Buffered).unwrap();
/// b.append(b"z", Durability::Buffered).unwrap();
/// assert!(syncer.is_running()); // one thread for both logs
/// assert_eq!(syncer.registered(), 2);
/// ```
pub struct WalSyncer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for WalSyncer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalSyncer")
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}

impl Default for WalSyncer {
    fn default() -> Self {
        Self::new()
    }
}

impl WalSyncer {
    /// A syncer with no log and no thread yet.
    pub fn new() -> WalSyncer {
        WalSyncer {
            shared: Arc::default(),
        }
    }

    /// True once the background thread has been started.
    pub fn is_running(&self) -> bool {
        self.shared.state.lock().thread.is_some()
    }

    /// How many logs are registered (and not yet closed or dropped).
    pub fn registered(&self) -> usize {
        let st = self.shared.state.lock();
        st.members
            .iter()
            .filter(|m| m.log.strong_count() > 0)
            .count()
    }

    /// Registers `log` to be synced every `interval`, starting the thread if
    /// it is not running yet.
    pub(crate) fn register(
        &self,
        log: Weak<dyn BackgroundSync>,
        interval: Duration,
    ) -> std::io::Result<()> {
        let mut st = self.shared.state.lock();
        st.members.retain(|m| m.log.strong_count() > 0);
        st.members.push(Member {
            log,
            interval,
            due: Instant::now() + interval,
        });
        if st.thread.is_none() {
            let shared = Arc::clone(&self.shared);
            let handle = std::thread::Builder::new()
                .name("strata-wal-sync".into())
                .spawn(move || run(&shared))?;
            let id = handle.thread().id();
            st.thread = Some((handle, id));
        }
        self.shared.cv.notify_all();
        Ok(())
    }
}

impl Drop for WalSyncer {
    fn drop(&mut self) {
        let thread = {
            let mut st = self.shared.state.lock();
            st.stop = true;
            st.thread.take()
        };
        self.shared.cv.notify_all();
        // The last handle may be dropped by the thread itself (a log it
        // synced held it): it then sees `stop` and ends on its own.
        if let Some((handle, id)) = thread
            && id != std::thread::current().id()
            && handle.join().is_err()
        {
            tracing::error!("WAL syncer thread panicked");
        }
    }
}

/// The thread: sleeps until the earliest due log, syncs every due log with
/// no lock held, forgets closed and dropped logs.
fn run(shared: &Shared) {
    let mut st = shared.state.lock();
    loop {
        if st.stop {
            return;
        }
        let now = Instant::now();
        let mut due: Vec<Arc<dyn BackgroundSync>> = Vec::new();
        st.members.retain_mut(|m| {
            let Some(log) = m.log.upgrade() else {
                return false;
            };
            if m.due <= now {
                m.due = now + m.interval;
                due.push(log);
            }
            true
        });
        if due.is_empty() {
            match st.members.iter().map(|m| m.due).min() {
                Some(next) => {
                    shared.cv.wait_until(&mut st, next);
                }
                None => shared.cv.wait(&mut st),
            }
            continue;
        }
        let closed: Vec<*const ()> = parking_lot::MutexGuard::unlocked(&mut st, || {
            let mut closed = Vec::new();
            for log in due {
                if !log.background_sync() {
                    closed.push(Arc::as_ptr(&log).cast::<()>());
                }
            }
            closed
        });
        if !closed.is_empty() {
            st.members
                .retain(|m| !closed.contains(&m.log.as_ptr().cast::<()>()));
        }
    }
}
