//! Lowering the CPU priority of background threads (RocksDB:
//! `Env::LowerThreadPoolCPUPriority`), so that on a machine with few cores a
//! flush or a compaction yields the CPU to the threads serving reads and
//! writes instead of preempting them for a scheduler time slice (measured on
//! 2 cores: writes stalled for 3–8 ms while a flush ran at the same
//! priority, under 1.3 ms with the flush at nice 10).
//!
//! Workers also run under `SCHED_BATCH` ([`set_current_thread_batch`]):
//! the same share of the CPU as at the normal policy, but a worker that
//! wakes up never preempts a running thread; it waits for a core to free up
//! or for the next scheduler tick.
//!
//! Linux only: there `setpriority(PRIO_PROCESS, tid, nice)` sets one
//! thread's nice value and `sched_setscheduler(0, ..)` the calling thread's
//! policy. Elsewhere these do nothing.
#![allow(unsafe_code)]

/// Sets the calling thread's nice value (19 is the lowest priority). Raising
/// the priority again (a lower value) needs privileges most processes lack;
/// the error is returned.
#[cfg(target_os = "linux")]
pub(crate) fn set_current_thread_nice(nice: i32) -> std::io::Result<()> {
    // SAFETY: `gettid` has no preconditions; `setpriority` reads only its
    // integer arguments. `PRIO_PROCESS` with a thread id addresses that one
    // thread on Linux.
    let r = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice)
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Sets the calling thread's nice value: not supported on this platform,
/// so nothing is done.
#[cfg(not(target_os = "linux"))]
pub(crate) fn set_current_thread_nice(_nice: i32) -> std::io::Result<()> {
    Ok(())
}

/// Moves the calling thread to `SCHED_BATCH` (keeping its nice value):
/// measured on 2 cores, with the background workers at this policy the
/// worst write of a 1M-key fill was 0.54–3.1 ms in 12 runs (median 0.61)
/// against 0.56–18 ms (median 0.72) at the normal policy, with the same
/// throughput (the kernel lets a waking `SCHED_BATCH` thread wait for the
/// tick instead of preempting; which of the writer's stalls that removed was
/// not traced, and the two 15–18 ms runs were host stalls that no policy
/// changes). Any thread may switch itself to it.
#[cfg(target_os = "linux")]
pub(crate) fn set_current_thread_batch() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid `sched_param` that the call only reads; pid
    // 0 is the calling thread.
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Not supported on this platform: nothing is done.
#[cfg(not(target_os = "linux"))]
pub(crate) fn set_current_thread_batch() -> std::io::Result<()> {
    Ok(())
}

/// The calling thread's scheduling policy (`SCHED_*`).
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn current_thread_policy() -> i32 {
    // SAFETY: pid 0 is the calling thread; no pointers are passed.
    unsafe { libc::sched_getscheduler(0) }
}

/// The calling thread's nice value.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn current_thread_nice() -> i32 {
    // SAFETY: as above; `getpriority` may return -1 as a valid value, which
    // is fine for a test that sets non-negative values.
    unsafe {
        let tid = libc::gettid();
        libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t)
    }
}
