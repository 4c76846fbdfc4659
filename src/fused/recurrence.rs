//! What the fused recurrent layers ([`super::lstm`], [`super::gru`]) share: how the batch or
//! the units are split over the cores, the weight gradients of their backward passes (which do
//! not depend on the cell), and the shared buffer of a recurrence split by units. The
//! operations' inputs and outputs are batch-major ([b][t][·], as burn lays out [B, T, ·]).

use burn::backend::Flex;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::flex::FlexTensor;

use super::flex_f32;
use super::step::{times_transposed_add, transposed_times_add};

/// Sequences per thread: the batch split evenly over the cores. Sequences are independent in
/// the forward pass and in backpropagation through time, so each thread runs the whole
/// recurrence of its own sequences, with no join per step.
pub(super) fn sequences_per_thread(batch: usize) -> usize {
    let threads = rayon::current_num_threads().clamp(1, batch.max(1));
    batch.div_ceil(threads).max(1)
}

/// dW = Σ_t h_{t−1}ᵀ da_t [hidden, width] as one product Hᵀ dA over the rows of `da`
/// ([rows, width], any order of (b, t)), with `before(r)` the state h_{t−1} that row r's step
/// read: those states gathered as the rows of H, which gemm reads transposed in place.
pub(super) fn recurrent_weight_gradient<'a>(
    before: impl Fn(usize) -> &'a [f32],
    da: &[f32],
    (hidden, width): (usize, usize),
) -> Vec<f32> {
    let rows = da.len() / width.max(1);
    let h: Vec<f32> = (0..rows).flat_map(|r| before(r).iter().copied()).collect();
    assert_eq!(h.len(), rows * hidden, "a state of `hidden` values per row");
    let mut dw = vec![0f32; hidden * width];
    transposed_times_add(&h, da, (hidden, width), &mut dw);
    dw
}

/// Registers the gradients of the input projection xp = x W_ih + b from dxp [B·T, width]
/// (batch-major): dW_ih = xᵀ dxp, db = Σ dxp over the rows, dx = dxp W_ihᵀ [B, T, I], each for
/// the parents that want one (by their node ids). W_ih's gradient goes to `w_ih_nodes` in
/// equal blocks of columns (one for the whole W_ih, or one per gate of the LSTM), each
/// registered as a contiguous [I, width / blocks]. `x` holds [B, T, I] and `w_ih` [I, width],
/// both contiguous.
pub(super) fn register_projection_gradients(
    grads: &mut Gradients,
    (x_node, w_ih_nodes, bias_node): (Option<NodeId>, &[Option<NodeId>], Option<NodeId>),
    (x, w_ih): (&FlexTensor, &[f32]),
    dxp: &[f32],
    (batch, time, width): (usize, usize, usize),
) {
    let xs: &[f32] = x.as_slice().expect("contiguous");
    let rows = batch * time;
    let inputs = xs.len() / rows.max(1);
    if w_ih_nodes.iter().any(Option::is_some) {
        let mut dw = vec![0f32; inputs * width];
        transposed_times_add(xs, dxp, (inputs, width), &mut dw);
        for (node, block) in w_ih_nodes
            .iter()
            .zip(column_blocks(dw, width, w_ih_nodes.len()))
        {
            if let Some(node) = node {
                let shape = vec![inputs, width / w_ih_nodes.len()];
                grads.register::<Flex>(*node, flex_f32(block, shape));
            }
        }
    }
    if let Some(node) = bias_node {
        let mut db = vec![0f32; width];
        for row in dxp.chunks_exact(width) {
            for (d, g) in db.iter_mut().zip(row) {
                *d += g;
            }
        }
        grads.register::<Flex>(node, flex_f32(db, vec![width]));
    }
    if let Some(node) = x_node {
        let mut dx = vec![0f32; rows * inputs];
        times_transposed_add(dxp, w_ih, inputs, &mut dx);
        grads.register::<Flex>(node, flex_f32(dx, vec![batch, time, inputs]));
    }
}

/// The row-major matrix `m` (rows of `width` values) cut into `blocks` matrices of
/// width / blocks consecutive columns each, each contiguous (a single block: m itself, not
/// copied).
pub(super) fn column_blocks(m: Vec<f32>, width: usize, blocks: usize) -> Vec<Vec<f32>> {
    if blocks <= 1 {
        return vec![m];
    }
    let part = width / blocks;
    (0..blocks)
        .map(|b| {
            (m.chunks_exact(width))
                .flat_map(|row| &row[b * part..(b + 1) * part])
                .copied()
                .collect()
        })
        .collect()
}

/// The matrices `parts` (each [rows, cols], row-major) side by side: [rows, cols·parts], the
/// concatenation along columns (the four gates' weights of an LSTM as one matrix).
pub(super) fn side_by_side(parts: &[&[f32]], cols: usize) -> Vec<f32> {
    let rows = parts.first().map_or(0, |p| p.len() / cols.max(1));
    assert!(
        parts.iter().all(|p| p.len() == rows * cols),
        "parts of one shape"
    );
    let mut m = Vec::with_capacity(rows * cols * parts.len());
    for r in 0..rows {
        for p in parts {
            m.extend_from_slice(&p[r * cols..(r + 1) * cols]);
        }
    }
    m
}

/// Whether a recurrence of `batch` sequences with `hidden` units runs by units
/// ([`steps_in_chunks`], one chunk of units per core) rather than by sequences: for training
/// batches of a sequence or two per core, where splitting the sequences leaves each core
/// reading all of W at every step for one row, and splitting the units halves what each
/// core reads while its rows double.
pub(super) fn split_by_units(batch: usize, hidden: usize) -> bool {
    let threads = rayon::current_num_threads();
    threads > 1 && batch <= 2 * threads && hidden >= MIN_UNITS_PER_CHUNK * threads
}

/// The fewest units per chunk for [`split_by_units`]: below this, the wait at every step
/// costs more than the product it shares.
const MIN_UNITS_PER_CHUNK: usize = 32;

/// The units of chunk `chunk` of `chunks` over `hidden` units, as even as can be.
pub(super) fn chunk_units(hidden: usize, chunks: usize, chunk: usize) -> std::ops::Range<usize> {
    hidden * chunk / chunks..hidden * (chunk + 1) / chunks
}

/// Runs `task(step, chunk)` for every step < `steps` and chunk < `chunks` on all cores, every
/// task of a step finishing before any task of the next starts: a recurrence split by units,
/// each chunk of units computing its part of a step from the whole of the step before.
///
/// The tasks are claimed in order from one counter, and a task waits only for the tasks of
/// the step before, which threads are already running: no thread ever waits on one that is
/// not working, so this finishes even when one thread ends up running every task.
pub(super) fn steps_in_chunks(steps: usize, chunks: usize, task: impl Fn(usize, usize) + Sync) {
    use rayon::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let total = steps * chunks;
    let (next, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let work = || {
        loop {
            let n = next.fetch_add(1, Ordering::Relaxed);
            if n >= total {
                return;
            }
            let (step, chunk) = (n / chunks, n % chunks);
            let mut spins = 0u32;
            // Acquire: the writes of the step before's tasks (released below) are visible.
            while done.load(Ordering::Acquire) < step * chunks {
                spins += 1;
                if spins < 1 << 14 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            task(step, chunk);
            done.fetch_add(1, Ordering::Release);
        }
    };
    (0..rayon::current_num_threads().min(chunks))
        .into_par_iter()
        .for_each(|_| work());
}

/// A buffer that the tasks of [`steps_in_chunks`] write at disjoint places from several
/// threads: each takes the slices it reads or writes, never one that overlaps another
/// thread's writes.
pub(super) struct SharedBuffer<'a> {
    ptr: *mut f32,
    len: usize,
    _values: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: the buffer is only reached through `read` and `write`, whose callers promise that
// no two threads touch one value while one of them writes it.
unsafe impl Sync for SharedBuffer<'_> {}

impl<'a> SharedBuffer<'a> {
    pub(super) fn new(values: &'a mut [f32]) -> Self {
        SharedBuffer {
            ptr: values.as_mut_ptr(),
            len: values.len(),
            _values: std::marker::PhantomData,
        }
    }

    /// Values `at .. at + len`, to read.
    ///
    /// # Safety
    /// No thread writes any of them while the slice lives.
    pub(super) unsafe fn read(&self, at: usize, len: usize) -> &[f32] {
        assert!(at + len <= self.len, "inside the buffer");
        // SAFETY: inside the buffer (checked); no writer meanwhile (the caller's promise).
        unsafe { std::slice::from_raw_parts(self.ptr.add(at), len) }
    }

    /// Values `at .. at + len`, to write.
    ///
    /// # Safety
    /// No other thread reads or writes any of them while the slice lives.
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn write(&self, at: usize, len: usize) -> &mut [f32] {
        assert!(at + len <= self.len, "inside the buffer");
        // SAFETY: inside the buffer (checked); this thread alone touches them meanwhile (the
        // caller's promise).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(at), len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Every task of a step starts after every task of the step before has finished, every
    /// task runs once, on pools of one to four threads (one thread runs them all).
    #[test]
    fn steps_in_chunks_runs_every_task_once_after_the_step_before() {
        for threads in 1..=4 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (steps, chunks) = (100, 3);
            let finished: Vec<AtomicUsize> = (0..steps).map(|_| AtomicUsize::new(0)).collect();
            let runs = AtomicUsize::new(0);
            pool.install(|| {
                steps_in_chunks(steps, chunks, |step, chunk| {
                    assert!(chunk < chunks);
                    if step > 0 {
                        let before = finished[step - 1].load(Ordering::Relaxed);
                        assert_eq!(before, chunks, "step {step} started before {}", step - 1);
                    }
                    // One task of each step lasts longer, so that the other threads reach the
                    // next step's tasks while it runs.
                    if chunk == step % chunks {
                        std::thread::sleep(std::time::Duration::from_micros(20));
                    }
                    runs.fetch_add(1, Ordering::Relaxed);
                    finished[step].fetch_add(1, Ordering::Relaxed);
                })
            });
            assert_eq!(runs.load(Ordering::Relaxed), steps * chunks);
            assert!(finished.iter().all(|f| f.load(Ordering::Relaxed) == chunks));
        }
    }
}
