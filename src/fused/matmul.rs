//! The matrix products of argen's CPU convolution kernels ([`super::conv`]), in the precision
//! the user chose ([`set_precision`]):
//!
//! - [`Precision::F32`] (the default): the `gemm` crate, f32 throughout.
//! - [`Precision::Bf16`]: both factors rounded to bfloat16 (8 bits of mantissa, round to
//!   nearest even), their products summed in f32, on the tile unit of CPUs with Intel AMX
//!   (AMX-BF16: a 16 × 16 × 32 product per instruction, some 15 times the f32 rate of
//!   AVX-512 FMA on one core). Only where the CPU has it: [`set_precision`] refuses it
//!   elsewhere, never falls back silently.
//!
//! The tile unit computes C[16 × 16] += A[16 × 32] · B[32 × 16] from bf16 tiles: A's rows
//! hold 32 consecutive k, B's rows hold pairs (k, k+1) of 16 columns side by side ("VNNI"
//! order). [`product`] packs A and B into such tiles (padding with zeros), and sums over k
//! in 2 × 2 blocks of C tiles held in the eight tile registers.

use std::sync::atomic::{AtomicU8, Ordering};

/// The number format of the CPU convolutions' matrix products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// f32 factors, f32 sums (the default).
    F32,
    /// bf16 factors, f32 sums, on the AMX tile unit.
    Bf16,
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            other => Err(format!("unknown precision '{other}' (f32 or bf16)")),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        })
    }
}

static PRECISION: AtomicU8 = AtomicU8::new(0);

/// Sets the precision of every later CPU convolution product in this process. `Bf16` needs
/// AMX-BF16 and the operating system's leave to use the tile unit; without them it is an
/// error and the precision stays as it was.
pub fn set_precision(precision: Precision) -> Result<(), String> {
    if precision == Precision::Bf16 {
        amx_usable()?;
    }
    PRECISION.store(precision as u8, Ordering::Relaxed);
    Ok(())
}

/// The precision [`set_precision`] chose last (f32 until then).
pub fn precision() -> Precision {
    if PRECISION.load(Ordering::Relaxed) == Precision::Bf16 as u8 {
        Precision::Bf16
    } else {
        Precision::F32
    }
}

/// One operand of [`product`]: a matrix at `ptr` whose value (r, c) is at
/// `ptr + r·rows + c·cols` (strides in values: a transposed view costs nothing).
#[derive(Clone, Copy)]
pub(super) struct Operand {
    pub ptr: *const f32,
    pub rows: isize,
    pub cols: isize,
}

impl Operand {
    /// A row-major matrix at `ptr` with rows of `width` values.
    pub(super) fn row_major(ptr: *const f32, width: usize) -> Self {
        Operand {
            ptr,
            rows: width as isize,
            cols: 1,
        }
    }

    /// The transpose of a row-major matrix at `ptr` with rows of `width` values, read in
    /// place.
    pub(super) fn transposed(ptr: *const f32, width: usize) -> Self {
        Operand {
            ptr,
            rows: 1,
            cols: width as isize,
        }
    }
}

/// The left factor A [m × k] of products A · B, prepared once for several right factors (the
/// weights of a convolution, against each example's columns): kept as it is for f32, packed
/// into bf16 tiles for [`Precision::Bf16`].
pub(super) struct Lhs {
    m: usize,
    k: usize,
    a: Operand,
    #[cfg(target_arch = "x86_64")]
    tiles: Option<amx::Tiles>,
}

impl Lhs {
    /// A in the chosen [`precision`].
    ///
    /// # Safety
    /// Every value of A that the shape and strides describe must be readable for the life of
    /// the `Lhs`.
    pub(super) unsafe fn new(m: usize, k: usize, a: Operand) -> Self {
        #[cfg(target_arch = "x86_64")]
        let tiles = (precision() == Precision::Bf16)
            // SAFETY: the caller's promise; set_precision checked the tile unit.
            .then(|| unsafe { amx::Tiles::pack(m, k, a) });
        Lhs {
            m,
            k,
            a,
            #[cfg(target_arch = "x86_64")]
            tiles,
        }
    }

    /// dst [m × n] = (dst if `accumulate`, else 0) + A · src [k × n], src and dst row-major
    /// with rows of n values (their first k·n and m·n values): [`Self::times`] on slices.
    pub(super) fn times_rows(&self, n: usize, src: &[f32], dst: &mut [f32], accumulate: bool) {
        assert!(
            src.len() >= self.k * n && dst.len() >= self.m * n,
            "{} x {n} values of B and {} x {n} of the product",
            self.k,
            self.m
        );
        // SAFETY: src holds k × n and dst m × n values (checked above), row-major with rows of
        // n values; a &mut slice overlaps neither src nor A.
        unsafe {
            self.times(
                n,
                Operand::row_major(src.as_ptr(), n),
                dst.as_mut_ptr(),
                n as isize,
                accumulate,
            )
        };
    }

    /// dst [m × n] (row-major, row stride `dst_row`) = (dst if `accumulate`, else 0) + A · B
    /// for B [k × n], on the calling core.
    ///
    /// # Safety
    /// Every value of B and dst that the shapes and strides describe must be readable (B) or
    /// writable (dst), and dst must not overlap A or B.
    pub(super) unsafe fn times(
        &self,
        n: usize,
        b: Operand,
        dst: *mut f32,
        dst_row: isize,
        accumulate: bool,
    ) {
        let (m, k) = (self.m, self.k);
        if m == 0 || n == 0 {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(tiles) = &self.tiles {
            // SAFETY: the caller's promise; the tiles exist only where the unit is usable.
            return unsafe { tiles.times(n, b, dst, dst_row, accumulate) };
        }
        let a = self.a;
        // SAFETY: the caller's promise.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                dst,
                1,
                dst_row,
                accumulate,
                a.ptr,
                a.cols,
                a.rows,
                b.ptr,
                b.cols,
                b.rows,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    }
}

/// dst [m × n] = (dst if `accumulate`, else 0) + A [m × k] · B [k × n] in the chosen
/// [`precision`], on the calling core: [`Lhs::new`] then [`Lhs::times`].
///
/// # Safety
/// That of [`Lhs::new`] and [`Lhs::times`].
pub(super) unsafe fn product(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_row: isize,
    accumulate: bool,
    a: Operand,
    b: Operand,
) {
    // SAFETY: the caller's promise.
    unsafe { Lhs::new(m, k, a).times(n, b, dst, dst_row, accumulate) }
}

/// sum [m × n] += grad [m × t] · inputᵀ [t × n], all row-major: a weight gradient from the
/// gradient of a layer's m outputs and its n inputs at t positions (rows of t values each).
pub(super) fn add_outer_products(
    sum: &mut [f32],
    (m, n, t): (usize, usize, usize),
    grad: &[f32],
    input: &[f32],
) {
    assert!(
        sum.len() == m * n && grad.len() >= m * t && input.len() >= n * t,
        "gradient buffers"
    );
    // SAFETY (both calls): sum holds m × n values and grad m × t (checked above), `b` is
    // inputᵀ [t × n] read from a buffer that holds it, and none of them overlap.
    let add = |sum: &mut [f32], b: Operand| unsafe {
        product(
            (m, n, t),
            sum.as_mut_ptr(),
            n as isize,
            true,
            Operand::row_major(grad.as_ptr(), t),
            b,
        )
    };
    if precision() == Precision::Bf16 {
        // The tiles' packing converts input read transposed (n × t row-major as t × n) 16
        // columns at a time.
        return add(sum, Operand::transposed(input.as_ptr(), t));
    }
    // gemm would gather inputᵀ one value at a time while packing it: transposed here in
    // blocks first, it packs contiguous rows.
    TRANSPOSED.with_borrow_mut(|input_t| {
        input_t.resize(n * t, 0.0);
        super::transpose::transpose(input, (n, t), t, input_t);
        add(sum, Operand::row_major(input_t.as_ptr(), n));
    });
}

thread_local! {
    /// Each thread's buffer for the transposed right factor of [`add_outer_products`].
    static TRANSPOSED: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The bf16 value nearest to `x` (ties to even), as its 16 bits: the upper half of x's f32
/// bits after rounding.
pub fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16; // stays a (quiet) NaN
    }
    let rounding = 0x7FFF + ((bits >> 16) & 1);
    (bits.wrapping_add(rounding) >> 16) as u16
}

/// The f32 value of bf16 bits.
pub fn from_bf16(b: u16) -> f32 {
    f32::from_bits((b as u32) << 16)
}

/// Whether this CPU and operating system let argen use AMX-BF16, with the reason if not.
pub fn amx_usable() -> Result<(), String> {
    #[cfg(target_arch = "x86_64")]
    {
        static USABLE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
        USABLE.get_or_init(amx::enable).clone()
    }
    #[cfg(not(target_arch = "x86_64"))]
    Err("bf16 matrix products need Intel AMX-BF16 (an x86-64 CPU)".into())
}

#[cfg(target_arch = "x86_64")]
mod amx {
    use super::Operand;
    use std::arch::asm;
    use std::arch::x86_64::{__m512i, __mmask16};

    /// Rows of a tile, and f32 columns of a C tile.
    const T: usize = 16;
    /// k per tile: 32 bf16 = 64 bytes per A row.
    const TK: usize = 32;

    /// Checks CPUID for AMX-TILE and AMX-BF16, the OS for tile state (XCR0 bits 17 and 18),
    /// and asks Linux for the process's leave to use it (arch_prctl ARCH_REQ_XCOMP_PERM).
    pub(super) fn enable() -> Result<(), String> {
        let max_leaf = std::arch::x86_64::__cpuid(0).eax;
        if max_leaf < 7 {
            return Err("bf16 matrix products need Intel AMX-BF16, which this CPU lacks".into());
        }
        let edx = std::arch::x86_64::__cpuid_count(7, 0).edx;
        let (tile, bf16) = (edx & (1 << 24) != 0, edx & (1 << 22) != 0);
        if !(tile && bf16) {
            return Err(
                "bf16 matrix products need Intel AMX-BF16, which this CPU lacks \
                        (use --precision f32)"
                    .into(),
            );
        }
        if !std::arch::is_x86_feature_detected!("avx512bf16")
            || !std::arch::is_x86_feature_detected!("avx512bw")
        {
            return Err("bf16 matrix products need AVX-512 BF16 beside AMX".into());
        }
        if !std::arch::is_x86_feature_detected!("xsave") {
            return Err("the operating system does not enable AMX tile state".into());
        }
        // SAFETY: XGETBV with ECX = 0 is defined where XSAVE is (checked above).
        let xcr0 = unsafe { std::arch::x86_64::_xgetbv(0) };
        if xcr0 & (0b11 << 17) != 0b11 << 17 {
            return Err("the operating system does not enable AMX tile state".into());
        }
        #[cfg(target_os = "linux")]
        {
            const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
            const XFEATURE_XTILEDATA: libc::c_long = 18;
            // SAFETY: arch_prctl reads its two integer arguments only.
            let result = unsafe {
                libc::syscall(
                    libc::SYS_arch_prctl,
                    ARCH_REQ_XCOMP_PERM,
                    XFEATURE_XTILEDATA,
                )
            };
            if result != 0 {
                return Err(format!(
                    "Linux refused AMX tile state to this process (arch_prctl: {})",
                    std::io::Error::last_os_error()
                ));
            }
        }
        Ok(())
    }

    /// The tile configuration: palette 1, tiles 0–7 of 16 rows of 64 bytes.
    #[repr(C, align(64))]
    struct Config {
        palette: u8,
        start_row: u8,
        reserved: [u8; 14],
        bytes_per_row: [u16; 16],
        rows: [u8; 16],
    }

    const CONFIG: Config = Config {
        palette: 1,
        start_row: 0,
        reserved: [0; 14],
        bytes_per_row: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
        rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
    };

    /// A [m × k] in bf16 tiles: [16-row block][k block][16 rows][32 k] (1 KiB each), the
    /// number of row blocks even (2 × 2 blocks of C tiles), zeros beyond m and k.
    pub(super) struct Tiles {
        m: usize,
        k: usize,
        row_blocks: usize,
        k_blocks: usize,
        values: Vec<u16>,
    }

    impl Tiles {
        /// A packed.
        ///
        /// # Safety
        /// Every value of A must be readable; the tile unit usable ([`enable`]).
        pub(super) unsafe fn pack(m: usize, k: usize, a: Operand) -> Self {
            let row_blocks = m.div_ceil(2 * T) * 2;
            let k_blocks = k.div_ceil(TK).max(1);
            let mut values = vec![0u16; row_blocks * k_blocks * T * TK];
            for i in 0..m {
                let (block, r) = (i / T, i % T);
                // SAFETY: row i of A is readable (the caller's promise).
                let row = unsafe { a.ptr.offset(i as isize * a.rows) };
                for kb in 0..k_blocks {
                    let tile = &mut values[((block * k_blocks + kb) * T + r) * TK..][..TK];
                    let count = k.saturating_sub(kb * TK).min(TK);
                    // SAFETY: values kb·32 .. kb·32 + count of row i lie in A.
                    unsafe {
                        convert(row.offset((kb * TK) as isize * a.cols), a.cols, count, tile)
                    };
                }
            }
            Tiles {
                m,
                k,
                row_blocks,
                k_blocks,
                values,
            }
        }

        /// [`super::Lhs::times`] on the tile unit.
        ///
        /// # Safety
        /// That of [`super::Lhs::times`].
        #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
        pub(super) unsafe fn times(
            &self,
            n: usize,
            b: Operand,
            dst: *mut f32,
            dst_row: isize,
            accumulate: bool,
        ) {
            let Tiles {
                m,
                k,
                row_blocks,
                k_blocks,
                ..
            } = *self;
            let col_blocks = n.div_ceil(2 * T) * 2;
            // SAFETY: B is readable (the caller's promise); AVX-512 BF16 is there.
            let panels = unsafe { pack_b(b, n, k, k_blocks, col_blocks) };
            let mut c_tiles = [0f32; 4 * T * T];
            // SAFETY: the unit is usable (the caller's promise); the configuration is valid
            // (palette 1, 16 × 64-byte tiles).
            unsafe { asm!("ldtilecfg [{}]", in(reg) &CONFIG, options(nostack, readonly)) };
            for jp in (0..col_blocks).step_by(2) {
                for ip in (0..row_blocks).step_by(2) {
                    // SAFETY: every tile address below lies in self.values or panel (1 KiB
                    // tiles of 64-byte rows); the C tiles are stored into c_tiles (4 KiB).
                    unsafe {
                        asm!(
                            "tilezero tmm0",
                            "tilezero tmm1",
                            "tilezero tmm2",
                            "tilezero tmm3",
                            options(nostack, nomem)
                        );
                        for kb in 0..k_blocks {
                            let a0 = self.values.as_ptr().add((ip * k_blocks + kb) * T * TK);
                            let a1 = a0.add(k_blocks * T * TK);
                            let b0 = panels.as_ptr().add((jp * k_blocks + kb) * T * TK);
                            let b1 = b0.add(k_blocks * T * TK);
                            asm!(
                                "tileloadd tmm4, [{a0} + {stride}*1]",
                                "tileloadd tmm5, [{a1} + {stride}*1]",
                                "tileloadd tmm6, [{b0} + {stride}*1]",
                                "tileloadd tmm7, [{b1} + {stride}*1]",
                                "tdpbf16ps tmm0, tmm4, tmm6",
                                "tdpbf16ps tmm1, tmm4, tmm7",
                                "tdpbf16ps tmm2, tmm5, tmm6",
                                "tdpbf16ps tmm3, tmm5, tmm7",
                                a0 = in(reg) a0,
                                a1 = in(reg) a1,
                                b0 = in(reg) b0,
                                b1 = in(reg) b1,
                                stride = in(reg) 64usize,
                                options(nostack, readonly)
                            );
                        }
                        let c = c_tiles.as_mut_ptr();
                        asm!(
                            "tilestored [{c0} + {stride}*1], tmm0",
                            "tilestored [{c1} + {stride}*1], tmm1",
                            "tilestored [{c2} + {stride}*1], tmm2",
                            "tilestored [{c3} + {stride}*1], tmm3",
                            c0 = in(reg) c,
                            c1 = in(reg) c.add(T * T),
                            c2 = in(reg) c.add(2 * T * T),
                            c3 = in(reg) c.add(3 * T * T),
                            stride = in(reg) 64usize,
                            options(nostack)
                        );
                    }
                    for (t, tile) in c_tiles.chunks_exact(T * T).enumerate() {
                        let (first_row, first_col) = ((ip + t / 2) * T, (jp + t % 2) * T);
                        let rows = m.saturating_sub(first_row).min(T);
                        let cols = n.saturating_sub(first_col).min(T);
                        for r in 0..rows {
                            let at = (first_row + r) as isize * dst_row + first_col as isize;
                            // SAFETY: row first_row + r, columns first_col ..
                            // first_col + cols lie in dst (the caller's promise), which
                            // nothing else borrows; AVX-512 F is there (enable checked it).
                            unsafe { write_row(dst.offset(at), &tile[r * T..], cols, accumulate) };
                        }
                    }
                }
            }
            // SAFETY: releases the tile state this function configured.
            unsafe { asm!("tilerelease", options(nostack, nomem)) };
        }
    }

    /// The mask of the first `count` of 16 lanes (all of them from 16 on).
    #[inline(always)]
    fn lanes(count: usize) -> __mmask16 {
        if count >= 16 { !0 } else { (1u16 << count) - 1 }
    }

    /// The first `count` (at most 32) of 32 contiguous f32 values, zeros after them, as 32
    /// bf16 in one register.
    ///
    /// # Safety
    /// The `count` values must be readable; the CPU has AVX-512 BF16.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn load_bf16(from: *const f32, count: usize) -> __m512i {
        use std::arch::x86_64::*;
        // SAFETY: the masked loads read only the `count` readable values (the caller's
        // promise); the second address is formed without being read when count ≤ 16.
        unsafe {
            let low = _mm512_maskz_loadu_ps(lanes(count), from);
            let high =
                _mm512_maskz_loadu_ps(lanes(count.saturating_sub(16)), from.wrapping_add(16));
            bits(_mm512_cvtne2ps_pbh(high, low))
        }
    }

    /// Writes `count` values of a strided f32 vector (`step` apart) as bf16 into `out`, and
    /// zeros into the rest of `out` (at most 32 values).
    ///
    /// # Safety
    /// The `count` values must be readable; the CPU has AVX-512 BF16 (every AMX CPU has).
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn convert(from: *const f32, step: isize, count: usize, out: &mut [u16]) {
        use std::arch::x86_64::*;
        debug_assert!(count <= TK && out.len() == TK);
        // SAFETY: `count` values are readable, `step` apart (the caller's promise); out holds
        // 32 u16 (64 bytes, unaligned store).
        unsafe {
            let packed = if step == 1 {
                load_bf16(from, count)
            } else {
                let mut values = [0f32; TK];
                for (c, v) in values.iter_mut().enumerate().take(count) {
                    *v = *from.offset(c as isize * step);
                }
                load_bf16(values.as_ptr(), TK)
            };
            _mm512_storeu_si512(out.as_mut_ptr().cast(), packed);
        }
    }

    /// out[..cols] = (out if `accumulate`, else 0) + sums[..cols], for cols ≤ 16.
    ///
    /// # Safety
    /// `cols` values at `out` must be writable and nothing else borrow them; the CPU has
    /// AVX-512 F.
    #[target_feature(enable = "avx512f")]
    unsafe fn write_row(out: *mut f32, sums: &[f32], cols: usize, accumulate: bool) {
        use std::arch::x86_64::*;
        debug_assert!(cols <= T && sums.len() >= T);
        let mask = lanes(cols);
        // SAFETY: sums holds 16 values; the masked accesses touch only `cols` values of out.
        unsafe {
            let mut v = _mm512_loadu_ps(sums.as_ptr());
            if accumulate {
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, out));
            }
            _mm512_mask_storeu_ps(out, mask, v);
        }
    }

    /// B [k × n] in bf16 tiles of pairs: [16-column block][k block][16 pair rows][16 columns
    /// × 2], where pair row p of k block kb holds (B[kb·32 + 2p, c], B[kb·32 + 2p + 1, c]) for
    /// the block's 16 columns c; zeros beyond k and n.
    ///
    /// # Safety
    /// Every value of B must be readable; the CPU has AVX-512 BF16.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn pack_b(
        b: Operand,
        n: usize,
        k: usize,
        k_blocks: usize,
        col_blocks: usize,
    ) -> Vec<u16> {
        use std::arch::x86_64::*;
        let tile_values = T * TK;
        let mut packed = vec![0u16; col_blocks * k_blocks * tile_values];
        if b.cols == 1 {
            // Row-major B: rows kk and kk + 1 are read along their length (16 columns at a
            // time), converted together and interleaved into one pair row of each block.
            let interleave: [u16; 32] = std::array::from_fn(|i| (i / 2 + 16 * (i % 2)) as u16);
            // SAFETY: unaligned load of 64 bytes.
            let interleave = unsafe { _mm512_loadu_si512(interleave.as_ptr().cast()) };
            for kk in (0..k).step_by(2) {
                let (kb, pair) = (kk / TK, (kk % TK) / 2);
                for cb in 0..n.div_ceil(T) {
                    let first_col = cb * T;
                    let columns = lanes(n - first_col);
                    // SAFETY: masked loads read only columns < n of rows < k; the store
                    // writes one 64-byte pair row inside `packed`.
                    unsafe {
                        let row = |r: usize| {
                            if r < k {
                                let at = r as isize * b.rows + first_col as isize;
                                _mm512_maskz_loadu_ps(columns, b.ptr.offset(at))
                            } else {
                                _mm512_setzero_ps()
                            }
                        };
                        let both = bits(_mm512_cvtne2ps_pbh(row(kk + 1), row(kk)));
                        let pairs = _mm512_permutexvar_epi16(interleave, both);
                        let at = (cb * k_blocks + kb) * tile_values + pair * TK;
                        _mm512_storeu_si512(packed.as_mut_ptr().add(at).cast(), pairs);
                    }
                }
            }
        } else if b.rows == 1 {
            // B read transposed: each column's k are contiguous. A column's 32 k of a block
            // convert to 16 pairs (one register); 16 columns' registers, transposed as a
            // 16 × 16 matrix of pairs, are the block's 16 pair rows.
            for cb in 0..n.div_ceil(T) {
                let first_col = cb * T;
                let columns = (n - first_col).min(T);
                for kb in 0..k_blocks {
                    let count = k.saturating_sub(kb * TK).min(TK);
                    let mut rows = [_mm512_setzero_si512(); T];
                    for (c, row) in rows.iter_mut().enumerate().take(columns) {
                        let at = (first_col + c) as isize * b.cols + (kb * TK) as isize;
                        // SAFETY: the `count` values of column first_col + c in this block
                        // are readable.
                        *row = unsafe { load_bf16(b.ptr.offset(at), count) };
                    }
                    crate::fused::transpose::transpose_16x16(&mut rows);
                    let tile = (cb * k_blocks + kb) * tile_values;
                    for (pair, row) in rows.iter().enumerate() {
                        // SAFETY: one 64-byte pair row inside `packed`.
                        unsafe {
                            _mm512_storeu_si512(
                                packed.as_mut_ptr().add(tile + pair * TK).cast(),
                                *row,
                            )
                        };
                    }
                }
            }
        } else {
            for cb in 0..n.div_ceil(T) {
                for kk in 0..k {
                    let (kb, pair, odd) = (kk / TK, (kk % TK) / 2, kk % 2);
                    let at = (cb * k_blocks + kb) * tile_values + pair * TK + odd;
                    for c in 0..(n - cb * T).min(T) {
                        let from = kk as isize * b.rows + (cb * T + c) as isize * b.cols;
                        // SAFETY: (kk, cb·16 + c) lies in B.
                        packed[at + 2 * c] = super::to_bf16(unsafe { *b.ptr.offset(from) });
                    }
                }
            }
        }
        packed
    }

    /// The 32 bf16 values of a register as plain bits.
    #[target_feature(enable = "avx512f,avx512bf16")]
    fn bits(values: std::arch::x86_64::__m512bh) -> std::arch::x86_64::__m512i {
        // SAFETY: both are 64 bytes of plain data.
        unsafe {
            std::mem::transmute::<std::arch::x86_64::__m512bh, std::arch::x86_64::__m512i>(values)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A product of bf16-rounded factors summed in f64: what the tile unit computes, but for
    /// the order and precision of its f32 sums.
    fn reference(m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> Vec<f64> {
        let round = |x: f32| from_bf16(to_bf16(x)) as f64;
        let mut c = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|l| round(a[i * k + l]) * round(b[l * n + j]))
                    .sum();
            }
        }
        c
    }

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(to_bf16(1.0), 0x3F80);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even 1.
        assert_eq!(to_bf16(1.0 + 1.0 / 256.0), 0x3F80);
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up.
        assert_eq!(to_bf16(1.0 + 3.0 / 256.0), 0x3F82);
        assert_eq!(from_bf16(to_bf16(-2.5)), -2.5);
        assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
        assert_eq!(from_bf16(to_bf16(f32::INFINITY)), f32::INFINITY);
    }

    /// On AMX machines: the tile product equals the bf16 reference within f32 summation
    /// error, on shapes with partial tiles everywhere, with transposed operands and a B at
    /// general strides, adding to dst or overwriting it. Elsewhere: bf16 is refused with a
    /// reason, and f32 stays.
    #[test]
    fn tile_product_matches_the_bf16_reference() {
        if let Err(why) = amx_usable() {
            assert!(set_precision(Precision::Bf16).is_err());
            assert_eq!(precision(), Precision::F32);
            eprintln!("no AMX here ({why}): only the refusal was checked");
            return;
        }
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        for (m, n, k) in [
            (1, 1, 1),
            (17, 33, 31),
            (64, 784, 192),
            (3, 40, 65),
            (40, 5, 100),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| next()).collect();
            let b: Vec<f32> = (0..k * n).map(|_| next()).collect();
            let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let expected = reference(m, n, k, &a, &b);
            let start: Vec<f32> = (0..m * n).map(|_| next()).collect();
            // B again with every value two places from the next, rows 2n apart: neither
            // row-major nor transposed (the general packing path).
            let spread: Vec<f32> = (0..2 * k * n)
                .map(|i| if i % 2 == 0 { b[i / 2] } else { f32::NAN })
                .collect();
            let spread_b = Operand {
                ptr: spread.as_ptr(),
                rows: 2 * n as isize,
                cols: 2,
            };
            let row_a = Operand::row_major(a.as_ptr(), k);
            let row_b = Operand::row_major(b.as_ptr(), n);
            // A read from its transpose [k × m], B from [n × k].
            let (t_a, t_b) = (
                Operand::transposed(at.as_ptr(), m),
                Operand::transposed(bt.as_ptr(), k),
            );
            for (label, lhs, rhs, accumulate) in [
                ("row-major", row_a, row_b, false),
                ("transposed", t_a, t_b, true),
                ("row-major", row_a, row_b, true),
                ("spread B", row_a, spread_b, false),
            ] {
                let mut c = start.clone();
                // SAFETY: the operands span their matrices; c is m × n.
                unsafe {
                    amx::Tiles::pack(m, k, lhs).times(
                        n,
                        rhs,
                        c.as_mut_ptr(),
                        n as isize,
                        accumulate,
                    )
                };
                for i in 0..m * n {
                    let want = expected[i] + if accumulate { start[i] as f64 } else { 0.0 };
                    let err = (c[i] as f64 - want).abs();
                    assert!(
                        err <= 1e-5 * (1.0 + want.abs()) * (k as f64).sqrt(),
                        "({m}, {n}, {k}) {label}, accumulate {accumulate}: \
                         value {i} is {} against {want}",
                        c[i]
                    );
                }
            }
        }
    }
}
