//! The BLIS loop nest around the micro-kernel, and how it is split across threads.
//!
//! ```text
//! for jc in (0..n).step_by(NC)          B block [KC × NC] lives in L3, shared by all threads
//!   for pc in (0..k).step_by(KC)        pack B block once (panels split across threads)
//!     par for (ic, n-chunk) items       each thread packs its A block [MC × KC] (stays in L2)
//!       for jr in chunk, step NR        B micro-panel [KC × NR] reused by every tile row
//!         for ir in (0..mc), step MR    A micro-panel [MR × KC] streams from L2
//!           micro-kernel: C[ir.., jr..] (MR × NR) ← α·A_panel·B_panel + β·C
//! ```
//!
//! Determinism: every element of C is summed by the same kernel lane over the same `KC`-sized
//! slices of k in the same order (`β` for the first slice, 1 for the rest), whatever the thread
//! count; threads only decide *who* computes a tile, never *how*. So results are bit-identical
//! for any number of threads.

use std::cell::Cell;
use std::thread::LocalKey;

use rayon::prelude::*;

use super::pack::{pack_a, pack_b};
use super::{Kernel, MatMut, MatRef};
use crate::Float;

/// Below this many multiply-adds (`m·n·k`), the product runs on the calling thread: rayon's
/// fork/join would cost more than it saves.
const PARALLEL_THRESHOLD: usize = 96 * 96 * 96;

/// Work items per thread in a slab: more than one, so that when the OS preempts one thread
/// (busy machines) the others can take over its remaining items.
const ITEMS_PER_THREAD: usize = 2;

/// B panels packed by one task when packing is split across threads.
const PACK_B_PANELS_PER_TASK: usize = 8;

/// The destination matrix as a raw pointer, so that threads can write disjoint tiles of it.
#[derive(Clone, Copy)]
struct SharedOutput<E> {
    ptr: *mut E,
    row_stride: usize,
    col_stride: usize,
}

impl<E> SharedOutput<E> {
    /// Address of element `(row, col)` (computed, not dereferenced).
    fn element(&self, row: usize, col: usize) -> *mut E {
        self.ptr
            .wrapping_add(row * self.row_stride + col * self.col_stride)
    }
}

// SAFETY: the pointer comes from the exclusive borrow `MatMut` held for the whole call, and the
// loop nest hands every C tile to exactly one task, so no element is written by two threads.
unsafe impl<E: Send> Send for SharedOutput<E> {}
// SAFETY: as above; tasks only write through it, to disjoint tiles.
unsafe impl<E: Send> Sync for SharedOutput<E> {}

/// A 64-byte aligned scratch slice of `len` elements taken from a thread-local buffer (so a
/// thread reuses its buffer across calls); the buffer is put back when `body` returns. Taking (not
/// borrowing) makes it safe if a nested call on the same thread needs one too: it gets an empty
/// buffer and allocates.
fn with_scratch<E: Float, R>(
    key: &'static LocalKey<Cell<Vec<E>>>,
    len: usize,
    body: impl FnOnce(&mut [E]) -> R,
) -> R {
    let mut buffer = key.with(Cell::take);
    let slack = 64 / std::mem::size_of::<E>();
    if buffer.len() < len + slack {
        buffer.resize(len + slack, E::ZERO);
    }
    let offset = buffer.as_ptr().align_offset(64).min(slack);
    let result = body(&mut buffer[offset..offset + len]);
    key.with(|cell| cell.set(buffer));
    result
}

/// `C ← α·A·B + β·C` with kernel `kernel`; shapes already checked and C free of aliasing.
pub(super) fn gemm_blocked<E: Float>(
    kernel: &Kernel<E>,
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    mut c: MatMut<'_, E>,
) {
    let (m, n, k) = (a.rows(), b.cols(), a.cols());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // C ← β·C (β = 0 overwrites, NaN included).
        for i in 0..m {
            for j in 0..n {
                let value = c.at_mut(i, j);
                *value = if beta == E::ZERO {
                    E::ZERO
                } else {
                    beta * *value
                };
            }
        }
        return;
    }
    let threads = if m.saturating_mul(n).saturating_mul(k) < PARALLEL_THRESHOLD {
        1
    } else {
        rayon::current_num_threads()
    };
    let output = SharedOutput {
        ptr: c.data_mut().as_mut_ptr(),
        row_stride: c.row_stride(),
        col_stride: c.col_stride(),
    };
    let (mr, nr) = (kernel.mr, kernel.nr);

    for jc in (0..n).step_by(kernel.nc) {
        let nc = kernel.nc.min(n - jc);
        let b_panels = nc.div_ceil(nr);
        for pc in (0..k).step_by(kernel.kc) {
            let kc = kernel.kc.min(k - pc);
            let beta_here = if pc == 0 { beta } else { E::ONE };
            with_scratch(kernel.b_scratch, b_panels * nr * kc, |packed_b| {
                // packed_b: [b_panels][kc][NR] ← B[pc.., jc..] (kc × nc), in groups of panels
                let group = PACK_B_PANELS_PER_TASK;
                let pack_group = |(g, panels): (usize, &mut [E])| {
                    pack_b(&b, pc, kc, jc, nc, nr, g * group, panels)
                };
                if threads > 1 {
                    packed_b
                        .par_chunks_mut(group * nr * kc)
                        .enumerate()
                        .for_each(pack_group);
                } else {
                    pack_b(&b, pc, kc, jc, nc, nr, 0, packed_b);
                }
                let plan = Plan::new(m, nc, mr, nr, kernel.mc, threads);
                let packed_b: &[E] = packed_b;
                let run_item = |item: usize| {
                    let (ic, mc) = plan.rows(item / plan.n_chunks, m);
                    let (panel_begin, panel_end) = plan.panels(item % plan.n_chunks, b_panels);
                    with_scratch(kernel.a_scratch, mc.div_ceil(mr) * mr * kc, |packed_a| {
                        // packed_a: [mc/MR][kc][MR] ← A[ic.., pc..] (mc × kc)
                        pack_a(&a, ic, mc, pc, kc, mr, packed_a);
                        for q in panel_begin..panel_end {
                            let b_panel = &packed_b[q * nr * kc..(q + 1) * nr * kc];
                            let n_eff = nr.min(nc - q * nr);
                            for (r, a_panel) in packed_a.chunks_exact(mr * kc).enumerate() {
                                let m_eff = mr.min(mc - r * mr);
                                let (row, col) = (ic + r * mr, jc + q * nr);
                                // tile: C[row .. row+m_eff, col .. col+n_eff] (m_eff ≤ MR, n_eff ≤ NR)
                                // SAFETY: a_panel holds MR·kc and b_panel NR·kc elements; the tile
                                // lies inside C (row + m_eff ≤ m, col + n_eff ≤ n, and MatMut::new
                                // checked C's extent); this item is the only one writing it.
                                unsafe {
                                    (kernel.micro)(
                                        kc,
                                        alpha,
                                        a_panel.as_ptr(),
                                        b_panel.as_ptr(),
                                        beta_here,
                                        output.element(row, col),
                                        output.row_stride,
                                        output.col_stride,
                                        m_eff,
                                        n_eff,
                                    )
                                };
                            }
                        }
                    });
                };
                if threads > 1 {
                    (0..plan.m_blocks * plan.n_chunks)
                        .into_par_iter()
                        .for_each(run_item);
                } else {
                    (0..plan.m_blocks * plan.n_chunks).for_each(run_item);
                }
            });
        }
    }
}

/// How one `m × nc` slab of C is cut into independent work items: `m_blocks` row blocks of
/// `mc` rows (a multiple of MR) times `n_chunks` column chunks of whole NR panels.
struct Plan {
    mc: usize,
    m_blocks: usize,
    n_chunks: usize,
    panels_per_chunk: usize,
}

impl Plan {
    /// Balanced for `threads`: the item count is a multiple of the thread count, with items of
    /// (nearly) equal size, so no thread idles at the end of a slab.
    fn new(m: usize, nc: usize, mr: usize, nr: usize, mc_max: usize, threads: usize) -> Plan {
        let m_panels = m.div_ceil(mr);
        let n_panels = nc.div_ceil(nr);
        // Row blocks no taller than mc_max (A block in L2).
        let mut m_blocks = m.div_ceil(mc_max);
        let mut n_chunks = 1;
        if threads > 1 {
            if m_blocks >= threads {
                // Tall C: split rows into a multiple of the thread count.
                m_blocks = m_blocks.next_multiple_of(threads).min(m_panels);
            }
            if m_blocks < ITEMS_PER_THREAD * threads {
                // Then split the columns until every thread has `ITEMS_PER_THREAD` items.
                n_chunks = (ITEMS_PER_THREAD * threads)
                    .div_ceil(m_blocks)
                    .min(n_panels);
            }
        }
        let mc = m_panels.div_ceil(m_blocks) * mr;
        let m_blocks = m.div_ceil(mc);
        let panels_per_chunk = n_panels.div_ceil(n_chunks);
        let n_chunks = n_panels.div_ceil(panels_per_chunk);
        Plan {
            mc,
            m_blocks,
            n_chunks,
            panels_per_chunk,
        }
    }

    /// First row and height of row block `block`.
    fn rows(&self, block: usize, m: usize) -> (usize, usize) {
        let first = block * self.mc;
        (first, self.mc.min(m - first))
    }

    /// Range of B panels of column chunk `chunk`.
    fn panels(&self, chunk: usize, b_panels: usize) -> (usize, usize) {
        let begin = (chunk * self.panels_per_chunk).min(b_panels);
        (begin, (begin + self.panels_per_chunk).min(b_panels))
    }
}
