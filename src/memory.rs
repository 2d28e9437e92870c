//! Handing memory freed after a burst of work back to the system.
//!
//! Rendering a finished answer of 100,000 chunks allocates and frees many small blocks; glibc
//! keeps the freed pages in its heap, so the TUI's resident size stayed at its peak for the rest
//! of the session. `malloc_trim` returns every whole free page. Other platforms' allocators
//! need no such call, and there it does nothing.

/// Return free heap pages to the system. Costs a walk of the heap (a few milliseconds for tens
/// of megabytes): call it after a burst, not per event.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only reorganises glibc's own free lists and takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}
