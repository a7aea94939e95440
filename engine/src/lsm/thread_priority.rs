//! Lowering the CPU priority of background threads (RocksDB:
//! `Env::LowerThreadPoolCPUPriority`), so that on a machine with few cores a
//! flush or a compaction yields the CPU to the threads serving reads and
//! writes instead of preempting them for a scheduler time slice (measured on
//! 2 cores: writes stalled for 3–8 ms while a flush ran at the same
//! priority, under 1.3 ms with the flush at nice 10).
//!
//! Linux only: there `setpriority(PRIO_PROCESS, tid, nice)` sets one
//! thread's nice value. Elsewhere it does nothing.
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
