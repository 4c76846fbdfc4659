//! The fused gate and level log-probability as cubecl kernels, for burn's GPU backend.
//!
//! The same two operations as [`super::gated_activation`] and [`super::level_log_prob`] run
//! on the flex CPU backend; here they run as cubecl kernels on burn's cubecl backend (wgpu /
//! Vulkan with the `gpu` feature), through burn's backend extension:
//!
//! - [`GpuOps`] is routed by `#[backend_extension(Autodiff, Cube, Fusion)]`: a tensor on a
//!   cube device reaches `burn::backend::Cube`, which is `Fusion<CubeBackend>` with burn's
//!   `fusion` feature (on with `gpu`). The macro's `Fusion` selector writes the lazy
//!   `impl GpuOps for Fusion<B>`: each call is registered as an operation of its own in the
//!   fusion stream, its output's shape and dtype given by the `#[fusion(dtype = .., shape =
//!   ..)]` annotations, and runs the `CubeBackend` implementation below when the stream
//!   executes; burn fuses the element-wise operations around it.
//! - Autodiff tensors reach `Autodiff<Cube, C>`, whose implementation records
//!   `GpuGateBackward` / `GpuLogProbBackward`; their backward passes are the two backward
//!   kernels, reached through the same extension (so they are lazy under fusion too).
//!
//! Each kernel reads and writes contiguous tensors (inputs are made contiguous first, outputs
//! are allocated contiguous) and indexes them linearly:
//!
//! - gate: one thread per output element; a and b of one example are the two consecutive
//!   blocks of `half` = C·rest elements. Forward y = tanh(a)·σ(b); backward
//!   ∂a = g·s·(1 − t²), ∂b = g·t·s·(1 − s), t and s recomputed from x (no saved tensors).
//! - log prob: one thread per (example, position) looping over the L levels (max, Σ exp,
//!   then the pick or the gradient); adjacent threads read adjacent positions, so every read
//!   of a level's row is coalesced. Backward recomputes log Σ exp instead of keeping it.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, Cube, Dispatch, DispatchDevice, backend_extension,
};
use burn::tensor::{Device, Int, Shape, Tensor};
use burn_cubecl::CubeBackend;

/// Whether `device` is a cubecl device (a GPU through wgpu), with or without autodiff.
pub fn is_cube(device: &Device) -> bool {
    matches!(
        device.clone().without_autodiff().as_dispatch(),
        DispatchDevice::Cube(_)
    )
}

/// tanh(a) ⊙ σ(b) on a cube device: `x` [batch, 2C, ...] gives [batch, C, ...]
/// (see [`super::gated_activation`]).
pub fn gated_activation<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as GpuOps>::gpu_gate(x.into_dispatch()))
}

/// log p(x) on a cube device: `logits` [batch, L, P] and levels `x` [batch, P] give [batch, P]
/// (see [`super::level_log_prob`]).
pub fn level_log_prob(logits: Tensor<3>, x: Tensor<2, Int>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as GpuOps>::gpu_level_log_prob(
        logits.into_dispatch(),
        x.into_dispatch(),
    ))
}

/// [batch, 2C, rest...] → [batch, C, rest...]: the gate's output shape.
fn gate_output_shape(x: &Shape) -> Shape {
    assert!(
        x.num_dims() >= 2 && x[1].is_multiple_of(2),
        "the gate needs [batch, 2C, ...], got {x:?}"
    );
    let mut out = x.clone();
    out[1] /= 2;
    out
}

/// [batch, L, rest...] → [batch, Π rest]: one log-probability per position.
fn log_prob_output_shape(logits: &Shape) -> Shape {
    assert!(
        logits.num_dims() >= 2,
        "logits need [batch, L, ...], got {logits:?}"
    );
    Shape::from([logits[0], logits[2..].iter().product::<usize>()])
}

/// The fused operations as cubecl kernels, with and without autodiff.
///
/// The backward methods are operations of their own (the autodiff implementation calls them
/// from its `Backward` steps); they are not differentiable themselves.
#[backend_extension(Autodiff, Cube, Fusion)]
pub trait GpuOps: Backend {
    /// y = tanh(a)·σ(b) for `x` [batch, 2C, ...]: [batch, C, ...].
    #[fusion(dtype = x, shape = gate_output_shape(x))]
    fn gpu_gate(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// The gate's gradient with respect to `x` [batch, 2C, ...] from the upstream gradient
    /// `g` [batch, C, ...]: [∂a | ∂b], shaped like `x`.
    #[fusion(dtype = x, shape = x)]
    fn gpu_gate_backward(x: FloatTensor<Self>, g: FloatTensor<Self>) -> FloatTensor<Self>;

    /// z_x − log Σ_l exp(z_l) for `logits` [batch, L, P] and levels `x` [batch, P]: [batch, P].
    #[fusion(dtype = logits, shape = log_prob_output_shape(logits))]
    fn gpu_level_log_prob(logits: FloatTensor<Self>, x: IntTensor<Self>) -> FloatTensor<Self>;

    /// The log-probability's gradient with respect to `logits` from the upstream gradient
    /// `g` [batch, P]: g·([l = x] − softmax_l), shaped like `logits`.
    #[fusion(dtype = logits, shape = logits)]
    fn gpu_level_log_prob_backward(
        logits: FloatTensor<Self>,
        x: IntTensor<Self>,
        g: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

impl GpuOps for CubeBackend {
    fn gpu_gate(x: FloatTensor<Self>) -> FloatTensor<Self> {
        kernels::gate_forward(x)
    }

    fn gpu_gate_backward(x: FloatTensor<Self>, g: FloatTensor<Self>) -> FloatTensor<Self> {
        kernels::gate_backward(x, g)
    }

    fn gpu_level_log_prob(logits: FloatTensor<Self>, x: IntTensor<Self>) -> FloatTensor<Self> {
        kernels::log_prob_forward(logits, x)
    }

    fn gpu_level_log_prob_backward(
        logits: FloatTensor<Self>,
        x: IntTensor<Self>,
        g: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        kernels::log_prob_backward(logits, x, g)
    }
}

/// The autodiff backend the extension routes tracked cube tensors to: `Cube` is
/// `Fusion<CubeBackend>` with burn's `fusion` feature, `CubeBackend` without it.
impl<C: CheckpointStrategy> GpuOps for Autodiff<Cube, C> {
    fn gpu_gate(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match GpuGateBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let xp = x.into_primitive();
                let y = <Cube as GpuOps>::gpu_gate(xp.clone());
                prep.finish(xp, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(<Cube as GpuOps>::gpu_gate(x.into_primitive())),
        }
    }

    fn gpu_gate_backward(x: FloatTensor<Self>, g: FloatTensor<Self>) -> FloatTensor<Self> {
        // Not differentiable: the result carries no graph.
        <Self as AutodiffBackend>::from_inner(<Cube as GpuOps>::gpu_gate_backward(
            <Self as AutodiffBackend>::inner(x),
            <Self as AutodiffBackend>::inner(g),
        ))
    }

    fn gpu_level_log_prob(logits: FloatTensor<Self>, x: IntTensor<Self>) -> FloatTensor<Self> {
        match GpuLogProbBackward
            .prepare::<C>([logits.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let z = logits.into_primitive();
                let out = <Cube as GpuOps>::gpu_level_log_prob(z.clone(), x.clone());
                prep.finish((z, x), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(<Cube as GpuOps>::gpu_level_log_prob(
                logits.into_primitive(),
                x,
            )),
        }
    }

    fn gpu_level_log_prob_backward(
        logits: FloatTensor<Self>,
        x: IntTensor<Self>,
        g: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        // Not differentiable: the result carries no graph.
        <Self as AutodiffBackend>::from_inner(<Cube as GpuOps>::gpu_level_log_prob_backward(
            <Self as AutodiffBackend>::inner(logits),
            x,
            <Self as AutodiffBackend>::inner(g),
        ))
    }
}

/// The gate's backward step: the gradient kernel on the kept input.
#[derive(Debug)]
struct GpuGateBackward;

impl Backward<Cube, 1> for GpuGateBackward {
    /// The gate's input x.
    type State = FloatTensor<Cube>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Cube>(&ops.node);
        let [Some(parent)] = ops.parents else {
            return;
        };
        let dx = <Cube as GpuOps>::gpu_gate_backward(ops.state, grad);
        grads.register::<Cube>(parent.id, dx);
    }
}

/// The log-probability's backward step: the gradient kernel on the kept logits and levels.
#[derive(Debug)]
struct GpuLogProbBackward;

impl Backward<Cube, 1> for GpuLogProbBackward {
    /// The logits and the levels.
    type State = (FloatTensor<Cube>, IntTensor<Cube>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Cube>(&ops.node);
        let [Some(parent)] = ops.parents else {
            return;
        };
        let (z, x) = ops.state;
        let dz = <Cube as GpuOps>::gpu_level_log_prob_backward(z, x, grad);
        grads.register::<Cube>(parent.id, dz);
    }
}

/// The kernels and their launches. A module of its own: cubecl's prelude and burn's both
/// export `Tensor`, `Float` and `Int`, so the two globs must not meet.
mod kernels {
    use burn::backend::TensorMetadata;
    use burn::tensor::{DType, Shape};
    use burn_cubecl::kernel::into_contiguous;
    use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
    use burn_cubecl::tensor::CubeTensor;
    use cubecl::calculate_cube_count_elemwise;
    use cubecl::ir::{FloatKind, IntKind, UIntKind};
    use cubecl::prelude::*;

    /// tanh(a) without the library call, whose large-argument behaviour varies between
    /// drivers: (1 − e^−2|a|)/(1 + e^−2|a|) with the sign of a (e^−2|a| ≤ 1, never overflows),
    /// and the odd Taylor polynomial for |a| < 1/16, where the subtraction would lose digits
    /// (the same split as the CPU kernels' `tanh_approx`).
    #[cube]
    fn stable_tanh<F: Float>(a: F) -> F {
        let zero = F::new(0.0_f32);
        let one = F::new(1.0_f32);
        let negative = a < zero;
        let m = if negative { zero - a } else { a };
        let e = (F::new(-2.0_f32) * m).exp();
        let large = (one - e) / (one + e);
        let m2 = m * m;
        let small = m
            * (one
                + m2 * (F::new(-0.333_333_34_f32)
                    + m2 * (F::new(0.133_333_33_f32) + m2 * F::new(-0.053_968_254_f32))));
        let t = if m < F::new(0.0625_f32) { small } else { large };
        if negative { zero - t } else { t }
    }

    /// σ(b) = 1/(1 + e^−b), through e^−|b| ≤ 1 so that nothing overflows.
    #[cube]
    fn stable_sigmoid<F: Float>(b: F) -> F {
        let zero = F::new(0.0_f32);
        let one = F::new(1.0_f32);
        let m = if b < zero { b } else { zero - b }; // −|b|
        let e = m.exp();
        if b < zero {
            e / (one + e)
        } else {
            one / (one + e)
        }
    }

    /// y = tanh(a)·σ(b); one thread per element of y, `half` = C·rest elements per example.
    #[cube(launch)]
    fn gate_forward_kernel<F: Float>(
        x: &Tensor<F>,
        y: &mut Tensor<F>,
        half: u32,
        #[define(F)] _dtype: ElemType,
    ) {
        let i = ABSOLUTE_POS;
        if i < y.len() {
            let h = half as usize;
            let a_index = (i / h) * 2 * h + i % h;
            let t = stable_tanh::<F>(x[a_index]);
            let s = stable_sigmoid::<F>(x[a_index + h]);
            y[i] = t * s;
        }
    }

    /// dx = [g·s·(1 − t²) | g·t·s·(1 − s)]; one thread per element of g.
    #[cube(launch)]
    fn gate_backward_kernel<F: Float>(
        x: &Tensor<F>,
        g: &Tensor<F>,
        dx: &mut Tensor<F>,
        half: u32,
        #[define(F)] _dtype: ElemType,
    ) {
        let i = ABSOLUTE_POS;
        if i < g.len() {
            let h = half as usize;
            let a_index = (i / h) * 2 * h + i % h;
            let one = F::new(1.0_f32);
            let t = stable_tanh::<F>(x[a_index]);
            let s = stable_sigmoid::<F>(x[a_index + h]);
            let gs = g[i] * s;
            dx[a_index] = gs * (one - t * t);
            dx[a_index + h] = gs * t * (one - s);
        }
    }

    /// log Σ_l exp(z[base + l·stride]) over `levels` levels, shifted by the maximum.
    #[cube]
    fn log_sum_exp<F: Float>(z: &Tensor<F>, base: usize, levels: usize, stride: usize) -> F {
        let mut max = z[base];
        for l in 1..levels {
            let v = z[base + l * stride];
            if v > max {
                max = v;
            }
        }
        let mut sum = F::new(0.0_f32);
        for l in 0..levels {
            sum += (z[base + l * stride] - max).exp();
        }
        max + sum.ln()
    }

    /// The level at `x[i]` as an index, clamped into 0..levels so that no read leaves the
    /// tensor (the CPU kernels reject out-of-range levels; here they give a wrong value).
    #[cube]
    fn level_at<I: Numeric>(x: &Tensor<I>, i: usize, levels: usize) -> usize {
        let level = u32::cast_from(x[i]) as usize;
        if level < levels { level } else { levels - 1 }
    }

    /// out = z_x − log Σ_l exp(z_l); one thread per (example, position).
    #[cube(launch)]
    fn log_prob_forward_kernel<F: Float, I: Numeric>(
        z: &Tensor<F>,
        x: &Tensor<I>,
        out: &mut Tensor<F>,
        levels: u32,
        positions: u32,
        #[define(F, I)] _dtypes: [ElemType; 2],
    ) {
        let i = ABSOLUTE_POS;
        if i < out.len() {
            let l_count = levels as usize;
            let p_count = positions as usize;
            let base = (i / p_count) * l_count * p_count + i % p_count;
            let lse = log_sum_exp::<F>(z, base, l_count, p_count);
            let level = level_at::<I>(x, i, l_count);
            out[i] = z[base + level * p_count] - lse;
        }
    }

    /// dz_l = g·([l = x] − e^(z_l − lse)); one thread per (example, position).
    #[cube(launch)]
    fn log_prob_backward_kernel<F: Float, I: Numeric>(
        z: &Tensor<F>,
        x: &Tensor<I>,
        g: &Tensor<F>,
        dz: &mut Tensor<F>,
        levels: u32,
        positions: u32,
        #[define(F, I)] _dtypes: [ElemType; 2],
    ) {
        let i = ABSOLUTE_POS;
        if i < g.len() {
            let l_count = levels as usize;
            let p_count = positions as usize;
            let base = (i / p_count) * l_count * p_count + i % p_count;
            let lse = log_sum_exp::<F>(z, base, l_count, p_count);
            let level = level_at::<I>(x, i, l_count);
            let gi = g[i];
            for l in 0..l_count {
                let index = base + l * p_count;
                let hit = if l == level {
                    F::new(1.0_f32)
                } else {
                    F::new(0.0_f32)
                };
                dz[index] = gi * (hit - (z[index] - lse).exp());
            }
        }
    }

    /// cubecl's element type for a burn dtype (what the kernels' `#[define]` arguments take);
    /// the same mapping as burn-backend's `cubecl::dtype_to_elem_type` for plain dtypes.
    fn elem_type(dtype: DType) -> ElemType {
        match dtype {
            DType::F64 => ElemType::Float(FloatKind::F64),
            DType::F32 => ElemType::Float(FloatKind::F32),
            DType::Flex32 => ElemType::Float(FloatKind::Flex32),
            DType::F16 => ElemType::Float(FloatKind::F16),
            DType::BF16 => ElemType::Float(FloatKind::BF16),
            DType::I64 => ElemType::Int(IntKind::I64),
            DType::I32 => ElemType::Int(IntKind::I32),
            DType::I16 => ElemType::Int(IntKind::I16),
            DType::I8 => ElemType::Int(IntKind::I8),
            DType::U64 => ElemType::UInt(UIntKind::U64),
            DType::U32 => ElemType::UInt(UIntKind::U32),
            DType::U16 => ElemType::UInt(UIntKind::U16),
            DType::U8 => ElemType::UInt(UIntKind::U8),
            other => panic!("the fused GPU kernels take float and integer tensors, not {other:?}"),
        }
    }

    /// An uninitialised contiguous tensor on `like`'s device.
    fn empty_like(like: &CubeTensor, shape: Shape, dtype: DType) -> CubeTensor {
        empty_device_contiguous_dtype(like.client.clone(), like.device.clone(), shape, dtype)
    }

    /// The cube count and dimension for one thread per each of `units` work items.
    fn grid(tensor: &CubeTensor, units: usize) -> (CubeCount, CubeDim) {
        let cube_dim = CubeDim::new(&tensor.client, units);
        let cube_count = calculate_cube_count_elemwise(&tensor.client, units, cube_dim);
        (cube_count, cube_dim)
    }

    pub(super) fn gate_forward(x: CubeTensor) -> CubeTensor {
        let x = into_contiguous(x);
        let out_shape = super::gate_output_shape(&x.shape());
        let y = empty_like(&x, out_shape.clone(), x.dtype);
        let units = out_shape.num_elements();
        if units == 0 {
            return y;
        }
        let half = units / out_shape[0];
        let (cube_count, cube_dim) = grid(&x, units);
        let dtype = elem_type(x.dtype);
        let client = x.client.clone();
        gate_forward_kernel::launch(
            &client,
            cube_count,
            cube_dim,
            x.into_tensor_arg(),
            y.clone().into_tensor_arg(),
            half as u32,
            dtype,
        );
        y
    }

    pub(super) fn gate_backward(x: CubeTensor, g: CubeTensor) -> CubeTensor {
        let x = into_contiguous(x);
        let g = into_contiguous(g);
        let shape = x.shape();
        assert_eq!(
            g.shape(),
            super::gate_output_shape(&shape),
            "the gate's upstream gradient has the output's shape"
        );
        let dx = empty_like(&x, shape, x.dtype);
        let units = g.shape().num_elements();
        if units == 0 {
            return dx;
        }
        let half = units / g.shape()[0];
        let (cube_count, cube_dim) = grid(&x, units);
        let dtype = elem_type(x.dtype);
        let client = x.client.clone();
        gate_backward_kernel::launch(
            &client,
            cube_count,
            cube_dim,
            x.into_tensor_arg(),
            g.into_tensor_arg(),
            dx.clone().into_tensor_arg(),
            half as u32,
            dtype,
        );
        dx
    }

    /// (levels, positions) of `logits` [batch, L, rest...], checked against `x` [batch, P].
    fn levels_and_positions(logits: &CubeTensor, x: &CubeTensor) -> (usize, usize) {
        let shape = logits.shape();
        let positions: usize = shape[2..].iter().product();
        assert_eq!(
            x.shape().num_elements(),
            shape[0] * positions,
            "one level per position"
        );
        assert!(shape[1] > 0, "at least one level");
        (shape[1], positions)
    }

    pub(super) fn log_prob_forward(logits: CubeTensor, x: CubeTensor) -> CubeTensor {
        let z = into_contiguous(logits);
        let x = into_contiguous(x);
        let (levels, positions) = levels_and_positions(&z, &x);
        let out_shape = super::log_prob_output_shape(&z.shape());
        let out = empty_like(&z, out_shape.clone(), z.dtype);
        let units = out_shape.num_elements();
        if units == 0 {
            return out;
        }
        let (cube_count, cube_dim) = grid(&z, units);
        let dtypes = [elem_type(z.dtype), elem_type(x.dtype)];
        let client = z.client.clone();
        log_prob_forward_kernel::launch(
            &client,
            cube_count,
            cube_dim,
            z.into_tensor_arg(),
            x.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            levels as u32,
            positions as u32,
            dtypes,
        );
        out
    }

    pub(super) fn log_prob_backward(
        logits: CubeTensor,
        x: CubeTensor,
        g: CubeTensor,
    ) -> CubeTensor {
        let z = into_contiguous(logits);
        let x = into_contiguous(x);
        let g = into_contiguous(g);
        let (levels, positions) = levels_and_positions(&z, &x);
        let units = g.shape().num_elements();
        assert_eq!(
            units,
            x.shape().num_elements(),
            "the upstream gradient has one value per position"
        );
        let dz = empty_like(&z, z.shape(), z.dtype);
        if units == 0 {
            return dz;
        }
        let (cube_count, cube_dim) = grid(&z, units);
        let dtypes = [elem_type(z.dtype), elem_type(x.dtype)];
        let client = z.client.clone();
        log_prob_backward_kernel::launch(
            &client,
            cube_count,
            cube_dim,
            z.into_tensor_arg(),
            x.into_tensor_arg(),
            g.into_tensor_arg(),
            dz.clone().into_tensor_arg(),
            levels as u32,
            positions as u32,
            dtypes,
        );
        dz
    }
}
