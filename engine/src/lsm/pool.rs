//! A background worker pool shared by many trees (RocksDB: the `Env`'s HIGH
//! and LOW thread pools). Flushes run at high priority; compactions at low
//! priority and never occupy every thread, so a flush always finds a worker
//! and stalled writers are never starved by long compactions.

use std::collections::VecDeque;
use std::sync::Arc;
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
}

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
