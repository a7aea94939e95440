//! A background worker pool shared by many trees (RocksDB: the `Env`'s HIGH
//! and LOW thread pools). Flushes run at high priority; compactions at low
//! priority and never occupy every thread, so a flush always finds a worker
//! and stalled writers are never starved by long compactions.
//!
//! Workers can run at a lower CPU priority than the threads that submit
//! work ([`BackgroundPool::set_nice`], for example [`LOW_PRIORITY_NICE`]).
//! By default they keep the nice value of the thread that created the pool.
//! On Linux they run under `SCHED_BATCH`: an equal share of the CPU, but a
//! worker waking up for a job never preempts a running writer or reader.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Job priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Priority {
    /// Flushes.
    High,
    /// Compactions.
    Low,
}

#[derive(Default)]
struct State {
    high: VecDeque<Job>,
    low: VecDeque<Job>,
    running_low: usize,
    shutdown: bool,
}

struct Inner {
    state: Mutex<State>,
    cv: Condvar,
    max_low: usize,
    /// The nice value workers run jobs at; [`KEEP_PRIORITY`]: unchanged.
    nice: AtomicI32,
}

/// A nice value for background workers that should yield the CPU to the
/// threads serving reads and writes: low enough that a writer or reader
/// woken on a busy core preempts a flush or compaction at once (CFS weighs
/// nice 10 at about a tenth of nice 0), which still gets every core no
/// foreground thread wants. Not the default (see [`BackgroundPool::set_nice`]).
pub const LOW_PRIORITY_NICE: i32 = 10;

/// `Inner::nice` when workers keep the priority they were started with.
const KEEP_PRIORITY: i32 = i32::MIN;

/// A fixed set of worker threads running flush and compaction jobs.
pub struct BackgroundPool {
    inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    ids: Vec<std::thread::ThreadId>,
}

impl std::fmt::Debug for BackgroundPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundPool")
            .field("threads", &self.ids.len())
            .field("max_compactions", &self.inner.max_low)
            .finish()
    }
}

impl BackgroundPool {
    /// A pool of `threads` workers (at least 2: one is kept free of
    /// compactions for flushes).
    pub fn new(threads: usize) -> BackgroundPool {
        let threads = threads.max(2);
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            max_low: threads - 1,
            nice: AtomicI32::new(KEEP_PRIORITY),
        });
        let mut handles = Vec::new();
        let mut ids = Vec::new();
        for i in 0..threads {
            let inner = Arc::clone(&inner);
            let h = std::thread::Builder::new()
                .name(format!("strata-bg-{i}"))
                .spawn(move || worker(&inner));
            match h {
                Ok(h) => {
                    ids.push(h.thread().id());
                    handles.push(h);
                }
                Err(e) => tracing::error!(error = %e, "could not start a background worker"),
            }
        }
        BackgroundPool {
            inner,
            threads: Mutex::new(handles),
            ids,
        }
    }

    /// A pool sized to the machine's cores.
    pub fn with_default_size() -> BackgroundPool {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(n)
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.ids.len()
    }

    /// Sets the nice value workers run jobs at (Linux; elsewhere nothing
    /// changes): `Some(n)` with `n` from -20 (highest priority) to 19
    /// (lowest), `None` to leave them at the priority of the thread that
    /// created the pool (the default).
    /// Each worker applies a change before its next job. Raising the
    /// priority (a lower value than a worker already has) needs privileges
    /// (`CAP_SYS_NICE` or `RLIMIT_NICE`); without them the worker keeps
    /// its priority and logs a warning. Set it before work is submitted.
    ///
    /// ```
    /// use strata_engine::lsm::BackgroundPool;
    /// let pool = BackgroundPool::new(2);
    /// pool.set_nice(None); // background work at the caller's priority
    /// assert_eq!(pool.nice(), None);
    /// ```
    pub fn set_nice(&self, nice: Option<i32>) {
        let v = nice.map_or(KEEP_PRIORITY, |n| n.clamp(-20, 19));
        self.inner.nice.store(v, Ordering::Relaxed);
    }

    /// The nice value workers run jobs at (`None`: unchanged).
    pub fn nice(&self) -> Option<i32> {
        let v = self.inner.nice.load(Ordering::Relaxed);
        (v != KEEP_PRIORITY).then_some(v)
    }

    pub(crate) fn submit(&self, priority: Priority, job: Job) {
        let mut st = self.inner.state.lock();
        if st.shutdown {
            return;
        }
        match priority {
            Priority::High => st.high.push_back(job),
            Priority::Low => st.low.push_back(job),
        }
        drop(st);
        self.inner.cv.notify_all();
    }
}

fn worker(inner: &Inner) {
    if let Err(e) = super::thread_priority::set_current_thread_batch() {
        tracing::debug!(error = %e, "a background worker keeps the normal scheduling policy");
    }
    // The nice value this thread has: unchanged until the first job.
    let mut applied = KEEP_PRIORITY;
    loop {
        let (job, low) = {
            let mut st = inner.state.lock();
            loop {
                if st.shutdown {
                    return;
                }
                if let Some(j) = st.high.pop_front() {
                    break (j, false);
                }
                if st.running_low < inner.max_low
                    && let Some(j) = st.low.pop_front()
                {
                    st.running_low += 1;
                    break (j, true);
                }
                inner.cv.wait(&mut st);
            }
        };
        let want = inner.nice.load(Ordering::Relaxed);
        if want != applied {
            // Back to the default priority when told to keep it.
            let nice = if want == KEEP_PRIORITY { 0 } else { want };
            match super::thread_priority::set_current_thread_nice(nice) {
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(nice, error = %e, "could not set a background worker's priority");
                }
            }
            applied = want;
        }
        // A panicking job must not take the worker down with it.
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        if res.is_err() {
            tracing::error!("a background job panicked");
        }
        if low {
            inner.state.lock().running_low -= 1;
            inner.cv.notify_all();
        }
    }
}

impl Drop for BackgroundPool {
    fn drop(&mut self) {
        {
            let mut st = self.inner.state.lock();
            st.shutdown = true;
            st.high.clear();
            st.low.clear();
        }
        self.inner.cv.notify_all();
        let me = std::thread::current().id();
        let handles = std::mem::take(&mut *self.threads.lock());
        for h in handles {
            // The last owner may be a job running on a worker: never join
            // oneself; that worker exits when its job returns.
            if h.thread().id() != me {
                let _ = h.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// What `probe` returns when run as a job of `pool`.
    #[cfg(target_os = "linux")]
    fn in_job<T: Send + 'static>(pool: &BackgroundPool, probe: fn() -> T) -> T {
        let (tx, rx) = crossbeam_channel::bounded(1);
        pool.submit(
            Priority::Low,
            Box::new(move || {
                let _ = tx.send(probe());
            }),
        );
        rx.recv().unwrap()
    }

    /// The nice value a job of `pool` runs at.
    #[cfg(target_os = "linux")]
    fn job_nice(pool: &BackgroundPool) -> i32 {
        in_job(pool, super::super::thread_priority::current_thread_nice)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn jobs_run_at_the_pool_priority() {
        let mine = super::super::thread_priority::current_thread_nice();
        let pool = BackgroundPool::new(2);
        assert_eq!(pool.nice(), None);
        for _ in 0..4 {
            assert_eq!(job_nice(&pool), mine);
        }
        let pool = BackgroundPool::new(2);
        pool.set_nice(Some(LOW_PRIORITY_NICE));
        for _ in 0..4 {
            assert_eq!(job_nice(&pool), LOW_PRIORITY_NICE);
        }
        pool.set_nice(Some(15));
        for _ in 0..4 {
            assert_eq!(job_nice(&pool), 15);
        }
        pool.set_nice(Some(99));
        assert_eq!(pool.nice(), Some(19));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn jobs_run_under_sched_batch_whatever_the_nice_value() {
        let policy = |pool: &BackgroundPool| {
            in_job(pool, super::super::thread_priority::current_thread_policy)
        };
        let pool = BackgroundPool::new(2);
        for _ in 0..4 {
            assert_eq!(policy(&pool), libc::SCHED_BATCH);
        }
        pool.set_nice(Some(LOW_PRIORITY_NICE));
        for _ in 0..4 {
            assert_eq!(policy(&pool), libc::SCHED_BATCH);
            assert_eq!(job_nice(&pool), LOW_PRIORITY_NICE);
        }
    }

    #[test]
    fn runs_jobs_and_keeps_a_thread_for_flushes() {
        let pool = BackgroundPool::new(2);
        let done = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = crossbeam_channel::bounded::<()>(0);
        // A long "compaction" blocks; a "flush" submitted after must still run.
        pool.submit(
            Priority::Low,
            Box::new(move || {
                let _ = rx.recv();
            }),
        );
        let (ftx, frx) = crossbeam_channel::bounded(1);
        pool.submit(Priority::Low, Box::new(|| {}));
        pool.submit(
            Priority::High,
            Box::new(move || {
                let _ = ftx.send(());
            }),
        );
        frx.recv_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        tx.send(()).unwrap();
        for _ in 0..10 {
            let d = Arc::clone(&done);
            pool.submit(
                Priority::Low,
                Box::new(move || {
                    d.fetch_add(1, Ordering::SeqCst);
                }),
            );
        }
        let start = std::time::Instant::now();
        while done.load(Ordering::SeqCst) < 10 && start.elapsed().as_secs() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(done.load(Ordering::SeqCst), 10);
    }
}
