//! Giving the memory of a flushed memtable back to the operating system.
//!
//! A memtable is hundreds of thousands of small allocations (a skip-list
//! node and an entry buffer per write). glibc's allocator keeps small freed
//! chunks in its heap, and returns heap memory to the system only from the
//! top of the heap, so after a flush most of a 64 MiB memtable stayed
//! resident although nothing used it (the 1M-key read benchmark held 117 MB
//! of anonymous memory with no memtable left). `malloc_trim(0)` releases the
//! whole free pages inside the heap too. It is called from the flush thread
//! after a memtable is dropped, never from a reader or writer. On other
//! platforms, or when the program's allocator is not glibc's (its heap is
//! then nearly empty), it does nothing or nothing harmful. An arena
//! memtable (RocksDB's) would make this unnecessary.

/// Returns the free pages of the C heap to the operating system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn release_free_heap() {
    #[allow(unsafe_code)]
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: `malloc_trim` takes no pointers and is thread-safe (it locks
    // each arena it trims); it only gives free memory back to the system.
    #[allow(unsafe_code)]
    unsafe {
        malloc_trim(0);
    }
}

/// Returns the free pages of the C heap to the operating system (nothing to
/// do on this platform).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn release_free_heap() {}

#[cfg(test)]
mod tests {
    #[test]
    fn trimming_with_live_and_freed_allocations_is_harmless() {
        let keep: Vec<Vec<u8>> = (0..1000).map(|i| vec![i as u8; 100]).collect();
        let freed: Vec<Vec<u8>> = (0..100_000).map(|i| vec![i as u8; 120]).collect();
        drop(freed);
        super::release_free_heap();
        for (i, v) in keep.iter().enumerate() {
            assert!(v.iter().all(|&b| b == i as u8));
        }
    }
}
