//! How the process's memory allocator treats the large, short-lived buffers of training.
//!
//! A training step allocates and frees tens of megabytes of activations, gradients and
//! im2col buffers. With glibc's defaults, the largest of these are mapped fresh from the
//! kernel and unmapped when freed, and the top of the heap is given back as soon as it is
//! free, so every step pays for page faults and for the kernel zeroing the same pages again
//! (about a fifth of a Fashion-MNIST training step in the profile of BENCHMARKS.md).
//! [`keep_freed_memory`] tells glibc to serve every buffer from the heap (none mapped on its
//! own: glibc would map anything over 32 MiB afresh on every allocation, and a recurrent
//! layer's evaluation batch allocates 50 MB buffers) and to keep freed memory for the next
//! step: the process keeps its peak memory instead of returning it.

/// The mapping threshold asked for (glibc's ceiling, 32 MiB on 64-bit systems); with no
/// mappings allowed it only matters if another setting turns them back on.
pub const HEAP_BLOCK_LIMIT: usize = 32 << 20;

/// Free memory kept at the top of the heap, and extra asked for at each growth: 256 MiB.
pub const KEPT_FREE: usize = 256 << 20;

/// Makes glibc's allocator keep freed memory for reuse (see the module's documentation).
/// Call it once at the start of a program, before threads start. Returns whether every
/// setting was accepted (always false on systems without glibc, where it does nothing).
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes the allocator's parameters; it is called before
        // other threads allocate.
        unsafe {
            let mmap = libc::mallopt(libc::M_MMAP_THRESHOLD, HEAP_BLOCK_LIMIT as libc::c_int);
            let trim = libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
            let pad = libc::mallopt(libc::M_TOP_PAD, KEPT_FREE as libc::c_int);
            // No block mapped on its own, whatever its size.
            let no_maps = libc::mallopt(libc::M_MMAP_MAX, 0);
            mmap == 1 && trim == 1 && pad == 1 && no_maps == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_every_setting() {
        assert!(super::keep_freed_memory());
        // Memory still comes and goes: a block above the heap limit and one below it.
        let big = vec![1u8; super::HEAP_BLOCK_LIMIT + 1];
        let small = vec![2u8; 1 << 20];
        assert_eq!(big.iter().map(|&b| b as usize).sum::<usize>(), big.len());
        assert_eq!(small[small.len() - 1], 2);
    }
}
