//! The fused kernels against the standard operations they replace: forward values and
//! gradients, on random inputs of several shapes (odd sizes, ranks 2 to 5, strided inputs),
//! without and with autodiff; the convolution's gradients with respect to its input, weights
//! and bias, for kernels and paddings of every kind the models use.

mod common;

use argen::fused::{
    bernoulli_log_prob, bernoulli_log_prob_plain, conv2d, conv2d_add, conv2d_relu,
    gated_activation, gated_activation_plain, head_log_prob, head_log_prob_plain, level_log_prob,
    level_log_prob_plain,
};
use argen::rng::seeded;
use burn::prelude::*;
use burn::tensor::ops::ConvOptions;
use common::relative_error;
use rand::RngExt;

/// Marks a tensor for gradients when it lives on an autodiff device.
fn track<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if x.is_autodiff() { x.require_grad() } else { x }
}

fn random(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = seeded(seed);
    (0..n)
        .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale)
        .collect()
}

fn check_gate<const D: usize>(shape: [usize; D], seed: u64, strided: bool) {
    let n: usize = shape.iter().product();
    let values = random(n, seed, 3.0);
    let upstream_shape = {
        let mut s = shape;
        s[1] /= 2;
        s
    };
    let weights = random(n / 2, seed + 1, 1.0);
    for device in [Device::flex(), Device::flex().autodiff()] {
        // (the leaf whose gradient is compared, the input of the operation)
        let make = || {
            let x = Tensor::<D>::from_data(TensorData::new(values.clone(), shape), &device);
            // A strided view: the same values reached through two transpositions.
            if strided {
                let leaf = track(x.swap_dims(0, D - 1));
                (leaf.clone(), leaf.swap_dims(0, D - 1))
            } else {
                let leaf = track(x);
                (leaf.clone(), leaf)
            }
        };
        let w = Tensor::<D>::from_data(TensorData::new(weights.clone(), upstream_shape), &device);
        let ((x_fused, in_fused), (x_plain, in_plain)) = (make(), make());
        let fused = gated_activation(in_fused);
        let plain = gated_activation_plain(in_plain);
        let err = relative_error(fused.clone(), plain.clone());
        assert!(err < 1e-5, "gate {shape:?}: forward differs by {err}");
        if fused.is_autodiff() {
            let g_fused = (fused * w.clone()).sum().backward();
            let g_plain = (plain * w).sum().backward();
            let err = relative_error(
                x_fused.grad(&g_fused).expect("gradient"),
                x_plain.grad(&g_plain).expect("gradient"),
            );
            assert!(err < 1e-5, "gate {shape:?}: gradient differs by {err}");
        }
    }
}

#[test]
fn the_fused_gate_matches_tanh_times_sigmoid_in_values_and_gradients() {
    check_gate([3, 10, 5, 7], 1, false);
    check_gate([1, 2, 1, 1], 2, false);
    check_gate([2, 6, 9], 3, false);
    check_gate([5, 8], 4, false);
    check_gate([2, 4, 3, 5], 5, true);
    check_gate([2, 12, 1, 3, 3], 6, false);
}

fn check_log_prob(batch: usize, levels: usize, positions: usize, seed: u64, strided: bool) {
    let logits = random(batch * levels * positions, seed, 6.0);
    let mut rng = seeded(seed + 7);
    let x: Vec<i64> = (0..batch * positions)
        .map(|_| rng.random_range(0..levels as i64))
        .collect();
    let weights = random(batch * positions, seed + 1, 1.0);
    for device in [Device::flex(), Device::flex().autodiff()] {
        let make = || {
            let z = Tensor::<3>::from_data(
                TensorData::new(logits.clone(), [batch, levels, positions]),
                &device,
            );
            if strided {
                let leaf = track(z.swap_dims(1, 2));
                (leaf.clone(), leaf.swap_dims(1, 2))
            } else {
                let leaf = track(z);
                (leaf.clone(), leaf)
            }
        };
        let levels_x =
            Tensor::<2, Int>::from_data(TensorData::new(x.clone(), [batch, positions]), &device);
        let w = Tensor::<2>::from_data(
            TensorData::new(weights.clone(), [batch, positions]),
            &device,
        );
        let ((z_fused, in_fused), (z_plain, in_plain)) = (make(), make());
        let fused = level_log_prob(in_fused, levels_x.clone());
        let plain = level_log_prob_plain(in_plain, levels_x);
        let err = relative_error(fused.clone(), plain.clone());
        assert!(
            err < 1e-5,
            "log prob {batch}x{levels}x{positions}: forward differs by {err}"
        );
        if fused.is_autodiff() {
            let g_fused = (fused * w.clone()).sum().backward();
            let g_plain = (plain * w).sum().backward();
            let err = relative_error(
                z_fused.grad(&g_fused).expect("gradient"),
                z_plain.grad(&g_plain).expect("gradient"),
            );
            assert!(
                err < 1e-5,
                "log prob {batch}x{levels}x{positions}: gradient differs by {err}"
            );
        }
    }
}

#[test]
fn the_fused_log_prob_matches_log_softmax_and_gather_in_values_and_gradients() {
    check_log_prob(3, 11, 13, 1, false);
    check_log_prob(1, 2, 1, 2, false);
    check_log_prob(2, 256, 49, 3, false);
    check_log_prob(4, 17, 64, 4, true);
}

/// The fused Bernoulli log-likelihood against x z + log_sigmoid(−z): values and the logits'
/// gradient, with logits up to ±40 (where ln σ must not overflow or lose its digits), a
/// strided input, and p(0) + p(1) = 1 at every logit.
#[test]
fn the_fused_bernoulli_log_prob_matches_log_sigmoid_and_is_normalised() {
    for (case, shape, scale) in [
        (0, [3, 7, 88], 6.0),
        (1, [1, 1, 1], 1.0),
        (2, [2, 5, 300], 40.0),
    ] {
        let n: usize = shape.iter().product();
        let zv = random(n, 60 + case, scale);
        let xv: Vec<f32> = random(n, 70 + case, 1.0)
            .iter()
            .map(|&u| f32::from(u > 0.0))
            .collect();
        let uv = random(n, 80 + case, 1.0);
        let device = Device::flex().autodiff();
        let make = |strided: bool| {
            let z = Tensor::<3>::from_data(TensorData::new(zv.clone(), shape), &device);
            if strided {
                let leaf = z.swap_dims(0, 2).require_grad();
                (leaf.clone(), leaf.swap_dims(0, 2))
            } else {
                let leaf = z.require_grad();
                (leaf.clone(), leaf)
            }
        };
        let x = Tensor::<3>::from_data(TensorData::new(xv.clone(), shape), &device);
        let u = Tensor::<3>::from_data(TensorData::new(uv.clone(), shape), &device);
        let (zf, zf_in) = make(case == 0);
        let (zp, zp_in) = make(false);
        let fused = bernoulli_log_prob(zf_in, x.clone());
        let plain = bernoulli_log_prob_plain(zp_in, x.clone());
        let err = relative_error(fused.clone(), plain.clone());
        assert!(err < 1e-5, "{shape:?}: values differ by {err}");
        let gf = (fused * u.clone()).sum().backward();
        let gp = (plain * u).sum().backward();
        let mut gfv = zf.grad(&gf).unwrap();
        if case == 0 {
            gfv = gfv.swap_dims(0, 2);
        }
        let err = relative_error(gfv, zp.grad(&gp).unwrap());
        assert!(err < 1e-5, "{shape:?}: gradients differ by {err}");
        // p(x = 0) + p(x = 1) = 1.
        let z = Tensor::<3>::from_data(TensorData::new(zv.clone(), shape), &Device::flex());
        let one = bernoulli_log_prob(z.clone(), z.ones_like()).exp();
        let zero = bernoulli_log_prob(z.clone(), z.zeros_like()).exp();
        let total: Vec<f32> = (one + zero).into_data().iter::<f32>().collect();
        for t in total {
            assert!((t - 1.0).abs() < 1e-5, "p(0) + p(1) = {t}");
        }
    }
}

#[test]
fn the_fused_log_prob_is_a_normalised_distribution() {
    // Every level at one position: the probabilities sum to 1.
    let device = Device::flex();
    let levels = 9;
    let z = Tensor::<3>::from_data(
        TensorData::new(random(levels * 2, 5, 4.0), [1, levels, 2]),
        &device,
    )
    .repeat_dim(0, levels);
    let x: Vec<i64> = (0..levels as i64).flat_map(|l| [l, l]).collect();
    let x = Tensor::<2, Int>::from_data(TensorData::new(x, [levels, 2]), &device);
    let total: Vec<f32> = level_log_prob(z, x)
        .exp()
        .sum_dim(0)
        .into_data()
        .convert::<f32>()
        .iter::<f32>()
        .collect();
    for t in total {
        assert!((t - 1.0).abs() < 1e-5, "sum of probabilities {t}");
    }
}

/// argen's conv2d against burn's: values, and the gradients with respect to the input, the
/// weights and the bias of Σ y·w for random upstream weights w.
/// The output head with its log-likelihood in tiles against burn's convolutions, relu and
/// log-softmax: log p per example, and the gradients of the features and all four parameters,
/// for a loss that weighs every example alike (the forward pass's gradients, scaled) and one
/// that weighs them differently (computed again in the backward pass).
fn check_head(
    [n, c, d, colours, levels]: [usize; 5],
    [height, width]: [usize; 2],
    seed: u64,
    uniform: bool,
) {
    let o = colours * levels;
    let values = [
        (
            random(n * c * height * width, seed, 2.0),
            vec![n, c, height, width],
        ),
        (random(d * c, seed + 1, 0.6), vec![d, c]),
        (random(d, seed + 2, 0.3), vec![d]),
        (random(o * d, seed + 3, 0.5), vec![o, d]),
        (random(o, seed + 4, 0.3), vec![o]),
    ];
    let mut rng = seeded(seed + 5);
    let x: Vec<i64> = (0..n * colours * height * width)
        .map(|_| rng.random_range(0..levels as i64))
        .collect();
    let weights: Vec<f32> = if uniform {
        vec![-0.37; n]
    } else {
        random(n, seed + 6, 1.0)
    };
    let what = format!("head {n}x{c}x{height}x{width}, D {d}, {colours} colours x {levels} levels");
    for device in [Device::flex(), Device::flex().autodiff()] {
        let leaves = || {
            let t = |i: usize| {
                let (v, shape) = &values[i];
                TensorData::new(v.clone(), shape.clone())
            };
            (
                track(Tensor::<4>::from_data(t(0), &device)),
                track(Tensor::<2>::from_data(t(1), &device)),
                track(Tensor::<1>::from_data(t(2), &device)),
                track(Tensor::<2>::from_data(t(3), &device)),
                track(Tensor::<1>::from_data(t(4), &device)),
            )
        };
        let levels_x = Tensor::<4, Int>::from_data(
            TensorData::new(x.clone(), [n, colours, height, width]),
            &device,
        );
        let g = Tensor::<1>::from_data(TensorData::new(weights.clone(), [n]), &device);
        let (fused_leaves, plain_leaves) = (leaves(), leaves());
        let (h, w1, b1, w2, b2) = fused_leaves.clone();
        let fused = head_log_prob(h, w1, b1, w2, b2, levels_x.clone());
        let (h, w1, b1, w2, b2) = plain_leaves.clone();
        let plain = head_log_prob_plain(h, w1, b1, w2, b2, levels_x);
        let err = relative_error(fused.clone(), plain.clone());
        assert!(err < 1e-5, "{what}: log p differs by {err}");
        if !fused.is_autodiff() {
            continue;
        }
        let g_fused = (fused * g.clone()).sum().backward();
        let g_plain = (plain * g).sum().backward();
        let (f, p) = (fused_leaves, plain_leaves);
        let errors = [
            (
                "h",
                relative_error(f.0.grad(&g_fused).unwrap(), p.0.grad(&g_plain).unwrap()),
            ),
            (
                "W1",
                relative_error(f.1.grad(&g_fused).unwrap(), p.1.grad(&g_plain).unwrap()),
            ),
            (
                "b1",
                relative_error(f.2.grad(&g_fused).unwrap(), p.2.grad(&g_plain).unwrap()),
            ),
            (
                "W2",
                relative_error(f.3.grad(&g_fused).unwrap(), p.3.grad(&g_plain).unwrap()),
            ),
            (
                "b2",
                relative_error(f.4.grad(&g_fused).unwrap(), p.4.grad(&g_plain).unwrap()),
            ),
        ];
        for (name, err) in errors {
            assert!(err < 1e-5, "{what}: gradient of {name} differs by {err}");
        }
    }
}

#[test]
fn the_fused_head_matches_the_composition_in_values_and_gradients() {
    for uniform in [true, false] {
        // One tile, grey levels, an uneven split of the examples over two threads.
        check_head([5, 4, 6, 1, 5], [5, 7], 1, uniform);
        // Two tiles of 145 and 144 pixels, three colours.
        check_head([2, 6, 9, 3, 4], [17, 17], 2, uniform);
        // Three tiles, one example, the Fashion-MNIST widths (C 32, D 256, L 256).
        check_head([1, 32, 256, 1, 256], [28, 28], 3, uniform);
    }
}

fn check_conv(
    [n, c_in, c_out, height, width]: [usize; 5],
    [kh, kw]: [usize; 2],
    padding: [(usize, usize); 2],
    seed: u64,
    strided: bool,
) {
    check_dilated_conv(
        [n, c_in, c_out, height, width],
        [kh, kw],
        [1, 1],
        padding,
        seed,
        strided,
    )
}

fn check_dilated_conv(
    [n, c_in, c_out, height, width]: [usize; 5],
    [kh, kw]: [usize; 2],
    [dh, dw]: [usize; 2],
    padding: [(usize, usize); 2],
    seed: u64,
    strided: bool,
) {
    let options = ConvOptions::new_with_padding([1, 1], padding, [dh, dw], 1);
    let xv = random(n * c_in * height * width, seed, 2.0);
    let wv = random(c_out * c_in * kh * kw, seed + 1, 1.0);
    let bv = random(c_out, seed + 2, 1.0);
    let out_h = height + padding[0].0 + padding[0].1 - (kh - 1) * dh;
    let out_w = width + padding[1].0 + padding[1].1 - (kw - 1) * dw;
    let uv = random(n * c_out * out_h * out_w, seed + 3, 1.0);
    let label = format!(
        "conv {n}x{c_in}->{c_out} {height}x{width}, kernel {kh}x{kw}, dilation {dh}x{dw}, {padding:?}"
    );
    for device in [Device::flex(), Device::flex().autodiff()] {
        let make = || {
            let x = Tensor::<4>::from_data(
                TensorData::new(xv.clone(), [n, c_in, height, width]),
                &device,
            );
            let (x_leaf, x_in) = if strided {
                let leaf = track(x.swap_dims(0, 3));
                (leaf.clone(), leaf.swap_dims(0, 3))
            } else {
                let leaf = track(x);
                (leaf.clone(), leaf)
            };
            let w = track(Tensor::<4>::from_data(
                TensorData::new(wv.clone(), [c_out, c_in, kh, kw]),
                &device,
            ));
            let b = track(Tensor::<1>::from_data(
                TensorData::new(bv.clone(), [c_out]),
                &device,
            ));
            (x_leaf, x_in, w, b)
        };
        let u = Tensor::<4>::from_data(
            TensorData::new(uv.clone(), [n, c_out, out_h, out_w]),
            &device,
        );
        // The fused output against the plain one and, on the autodiff device, the gradients
        // of Σ u·y with respect to the input, weight and bias leaves, and the addend's when
        // there is one.
        type Leaves = (Tensor<4>, Tensor<4>, Tensor<1>, Option<Tensor<4>>);
        let compare = |what: &str, fused: Tensor<4>, plain: Tensor<4>, f: Leaves, p: Leaves| {
            let err = relative_error(fused.clone(), plain.clone());
            assert!(err < 1e-5, "{label}{what}: forward differs by {err}");
            if !fused.is_autodiff() {
                return;
            }
            let gf = (fused * u.clone()).sum().backward();
            let gp = (plain * u.clone()).sum().backward();
            let mut errors = vec![
                (
                    "input",
                    relative_error(f.0.grad(&gf).unwrap(), p.0.grad(&gp).unwrap()),
                ),
                (
                    "weight",
                    relative_error(f.1.grad(&gf).unwrap(), p.1.grad(&gp).unwrap()),
                ),
                (
                    "bias",
                    relative_error(f.2.grad(&gf).unwrap(), p.2.grad(&gp).unwrap()),
                ),
            ];
            if let (Some(af), Some(ap)) = (f.3, p.3) {
                let err = relative_error(af.grad(&gf).unwrap(), ap.grad(&gp).unwrap());
                errors.push(("addend", err));
            }
            for (name, err) in errors {
                assert!(
                    err < 1e-5,
                    "{label}{what}: {name} gradient differs by {err}"
                );
            }
        };
        let (xf, xf_in, wf, bf) = make();
        let (xp, xp_in, wp, bp) = make();
        let fused = conv2d(xf_in, wf.clone(), Some(bf.clone()), options.clone());
        let plain =
            burn::tensor::module::conv2d(xp_in, wp.clone(), Some(bp.clone()), options.clone());
        compare("", fused, plain, (xf, wf, bf, None), (xp, wp, bp, None));
        // With a ReLU applied as the product is written: relu of the plain convolution, and
        // the gradients through its mask.
        let (xf, xf_in, wf, bf) = make();
        let (xp, xp_in, wp, bp) = make();
        let fused = conv2d_relu(xf_in, wf.clone(), Some(bf.clone()), options.clone());
        let plain = burn::tensor::activation::relu(burn::tensor::module::conv2d(
            xp_in,
            wp.clone(),
            Some(bp.clone()),
            options.clone(),
        ));
        let zeros: i64 = plain
            .clone()
            .lower_equal_elem(0.0)
            .int()
            .sum()
            .into_scalar();
        let outputs = n * c_out * out_h * out_w;
        assert!(
            zeros > 0 || outputs < 20,
            "{label}: the ReLU cuts some of the {outputs} outputs"
        );
        let (f, p) = ((xf, wf, bf, None), (xp, wp, bp, None));
        compare(", with a ReLU", fused, plain, f, p);
        // With an addend summed as the product is written: the plain sum's values, and the
        // addend's gradient is the output's.
        let (xf, xf_in, wf, bf) = make();
        let (xp, xp_in, wp, bp) = make();
        let addend = || {
            track(Tensor::<4>::from_data(
                TensorData::new(random(uv.len(), seed + 4, 3.0), [n, c_out, out_h, out_w]),
                &device,
            ))
        };
        let (af, ap) = (addend(), addend());
        let fused = conv2d_add(
            xf_in,
            wf.clone(),
            Some(bf.clone()),
            af.clone(),
            options.clone(),
        );
        let plain =
            burn::tensor::module::conv2d(xp_in, wp.clone(), Some(bp.clone()), options.clone())
                + ap.clone();
        let (f, p) = ((xf, wf, bf, Some(af)), (xp, wp, bp, Some(ap)));
        compare(", with an addend", fused, plain, f, p);
    }
}

#[test]
fn argen_conv2d_matches_burns_in_values_and_all_three_gradients() {
    // 1x1 (read directly), as in the links and the head.
    check_conv([3, 5, 7, 6, 9], [1, 1], [(0, 0), (0, 0)], 1, false);
    // The vertical stack's (k/2 + 1) x k kernel with rows above only (asymmetric padding).
    check_conv([2, 4, 6, 7, 5], [2, 3], [(2, 0), (1, 1)], 2, false);
    check_conv([2, 3, 8, 9, 8], [4, 7], [(4, 0), (3, 3)], 3, true);
    // The horizontal stack's 1 x (k/2 + 1) kernel, left padding only (strict: one more).
    check_conv([3, 4, 4, 5, 6], [1, 2], [(0, 0), (2, 0)], 4, false);
    // A symmetric square kernel, a 1x1 with padding, a single example, and odd sizes.
    check_conv([1, 2, 3, 5, 5], [3, 3], [(1, 1), (1, 1)], 5, false);
    check_conv([2, 3, 2, 4, 3], [1, 1], [(1, 0), (0, 1)], 6, false);
    check_conv([5, 1, 1, 1, 1], [1, 1], [(0, 0), (0, 0)], 7, true);
    check_conv([2, 3, 5, 3, 4], [3, 2], [(0, 0), (0, 0)], 8, false);
    // Dilated: WaveNet's and the TCN's causal 1-D convolutions as 1 x k kernels over 1 x T
    // images (left padding (k − 1)·d only), and a 2-D dilation with padding on every side.
    check_dilated_conv([3, 4, 6, 1, 13], [1, 2], [1, 4], [(0, 0), (4, 0)], 9, false);
    check_dilated_conv(
        [2, 3, 5, 1, 20],
        [1, 3],
        [1, 8],
        [(0, 0), (16, 0)],
        10,
        true,
    );
    check_dilated_conv([2, 2, 3, 1, 5], [1, 3], [1, 4], [(0, 0), (8, 0)], 11, false);
    check_dilated_conv([2, 3, 4, 7, 6], [3, 3], [2, 3], [(2, 1), (3, 2)], 12, false);
}

/// Every weight and bias of an LSTM layer, gate by gate (i, f, g, o; input then hidden).
fn lstm_params(lstm: &burn::nn::Lstm) -> Vec<(String, burn::module::Param<Tensor<2>>)> {
    let gates = [
        ("i", &lstm.input_gate),
        ("f", lstm.forget_gate.as_ref().unwrap()),
        ("g", &lstm.cell_gate),
        ("o", &lstm.output_gate),
    ];
    gates
        .iter()
        .flat_map(|(name, g)| {
            [
                (
                    format!("{name} input weight"),
                    g.input_transform.weight.clone(),
                ),
                (
                    format!("{name} hidden weight"),
                    g.hidden_transform.weight.clone(),
                ),
            ]
        })
        .collect()
}

#[test]
fn the_fused_lstm_matches_burns_lstm_in_values_and_gradients() {
    use argen::fused::lstm::lstm_sequence;
    use burn::nn::{LstmConfig, LstmState};
    let device = Device::flex().autodiff();
    for (case, (batch, time, inputs, hidden, with_state)) in [
        (3, 7, 4, 5, false),
        (2, 11, 6, 9, true),
        (1, 1, 3, 2, true),
        (4, 5, 88, 17, false),
        // Products of over 2^20 multiply-adds: the gemm path.
        (70, 3, 5, 64, true),
        // Many sequences: 65 on each core (3 above: 2 and 1).
        (130, 2, 3, 128, false),
        // A sequence or two per core and 32 units or more per core (on two cores or more):
        // the recurrence split by units, one chunk of units per core at every step.
        (2, 9, 88, 200, true),
        (3, 4, 6, 67, false),
        (1, 6, 3, 64, true),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 40 + case as u64 * 10;
        burn::prelude::Device::flex().seed(seed);
        let lstm = LstmConfig::new(inputs, hidden, true).init(&device);
        let x = Tensor::<3>::from_data(
            TensorData::new(
                random(batch * time * inputs, seed, 2.0),
                [batch, time, inputs],
            ),
            &device,
        );
        let state = || {
            with_state.then(|| {
                let s = |k| {
                    Tensor::<2>::from_data(
                        TensorData::new(random(batch * hidden, seed + k, 1.0), [batch, hidden]),
                        &device,
                    )
                };
                LstmState::new(s(1), s(2))
            })
        };
        let upstream = |k, shape: [usize; 3]| {
            Tensor::<3>::from_data(
                TensorData::new(random(shape.iter().product(), seed + k, 1.0), shape),
                &device,
            )
        };
        let w_out = upstream(3, [batch, time, hidden]);
        let w_state = upstream(4, [2, batch, hidden]);
        let run = |fused: bool| {
            let x = x.clone().require_grad();
            let (out, s) = if fused {
                lstm_sequence(&lstm, x.clone(), state())
            } else {
                lstm.forward(x.clone(), state())
            };
            let last = Tensor::stack::<3>(vec![s.hidden.clone(), s.cell.clone()], 0);
            let loss = (out.clone() * w_out.clone()).sum() + (last.clone() * w_state.clone()).sum();
            (out, last, x, loss.backward())
        };
        let (out_f, last_f, x_f, g_f) = run(true);
        let (out_p, last_p, x_p, g_p) = run(false);
        let err = relative_error(out_f, out_p);
        assert!(err < 1e-5, "case {case}: hidden states differ by {err}");
        let err = relative_error(last_f, last_p);
        assert!(err < 1e-5, "case {case}: final state differs by {err}");
        let err = relative_error(x_f.grad(&g_f).unwrap(), x_p.grad(&g_p).unwrap());
        assert!(err < 1e-5, "case {case}: input gradients differ by {err}");
        for (name, param) in lstm_params(&lstm) {
            let (a, b) = (param.grad(&g_f).unwrap(), param.grad(&g_p).unwrap());
            let err = relative_error(a, b);
            assert!(err < 1e-5, "case {case}: {name} gradients differ by {err}");
        }
        let biases = [&lstm.input_gate, &lstm.cell_gate, &lstm.output_gate]
            .into_iter()
            .chain(lstm.forget_gate.as_ref());
        for g in biases {
            for l in [&g.input_transform, &g.hidden_transform] {
                let b = l.bias.as_ref().unwrap();
                let err = relative_error(b.grad(&g_f).unwrap(), b.grad(&g_p).unwrap());
                assert!(err < 1e-5, "case {case}: bias gradients differ by {err}");
            }
        }
    }
}

#[test]
fn the_fused_gru_matches_burns_gru_in_values_and_gradients() {
    use argen::fused::gru::gru_sequence;
    use burn::nn::GruConfig;
    let device = Device::flex().autodiff();
    for (case, (batch, time, inputs, hidden, with_state)) in [
        (3, 7, 4, 5, false),
        (2, 11, 6, 9, true),
        (1, 1, 3, 2, true),
        (4, 5, 88, 17, false),
        // Products of over 2^20 multiply-adds: the gemm path.
        (70, 3, 5, 64, true),
        // Many sequences: 65 on each core (3 above: 2 and 1).
        (130, 2, 3, 128, false),
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 90 + case as u64 * 10;
        burn::prelude::Device::flex().seed(seed);
        let gru = GruConfig::new(inputs, hidden, true).init(&device);
        let x = Tensor::<3>::from_data(
            TensorData::new(
                random(batch * time * inputs, seed, 2.0),
                [batch, time, inputs],
            ),
            &device,
        );
        let state = || {
            with_state.then(|| {
                Tensor::<2>::from_data(
                    TensorData::new(random(batch * hidden, seed + 1, 1.0), [batch, hidden]),
                    &device,
                )
            })
        };
        let w_out = Tensor::<3>::from_data(
            TensorData::new(
                random(batch * time * hidden, seed + 3, 1.0),
                [batch, time, hidden],
            ),
            &device,
        );
        let run = |fused: bool| {
            let x = x.clone().require_grad();
            let out = if fused {
                gru_sequence(&gru, x.clone(), state())
            } else {
                gru.forward(x.clone(), state())
            };
            let loss = (out.clone() * w_out.clone()).sum();
            (out, x, loss.backward())
        };
        let (out_f, x_f, g_f) = run(true);
        let (out_p, x_p, g_p) = run(false);
        let err = relative_error(out_f, out_p);
        assert!(err < 1e-5, "case {case}: hidden states differ by {err}");
        let err = relative_error(x_f.grad(&g_f).unwrap(), x_p.grad(&g_p).unwrap());
        assert!(err < 1e-5, "case {case}: input gradients differ by {err}");
        for (name, g) in [
            ("z", &gru.update_gate),
            ("r", &gru.reset_gate),
            ("n", &gru.new_gate),
        ] {
            for (part, l) in [
                ("input", &g.input_transform),
                ("hidden", &g.hidden_transform),
            ] {
                let err =
                    relative_error(l.weight.grad(&g_f).unwrap(), l.weight.grad(&g_p).unwrap());
                assert!(
                    err < 1e-5,
                    "case {case}: {name} {part} weight gradients differ by {err}"
                );
                let b = l.bias.as_ref().unwrap();
                let err = relative_error(b.grad(&g_f).unwrap(), b.grad(&g_p).unwrap());
                assert!(
                    err < 1e-5,
                    "case {case}: {name} {part} bias gradients differ by {err}"
                );
            }
        }
    }
}
