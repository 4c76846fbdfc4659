//! Where the compute runs: data parallelism over several devices gives the gradient and the
//! training of one device; with `--features gpu`, the Vulkan (wgpu) device gives the CPU's
//! loss and keeps the models causal; with `--features remote`, a device server on loopback
//! trains as the local CPU does and refuses clients without its token.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use argen::data::{DataSource, load};
use argen::distributions::categorical;
use argen::models::{ImageModel, ImageModelConfig};
use argen::train::{
    self, LrSchedule, Progress, RunFolder, TrainOptions, TrainingConfig, image_batch, parallel,
};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

fn tiny_model() -> ImageModelConfig {
    common::tiny_gated_model(8)
}

fn tiny_training(batch_size: usize, train_limit: usize) -> TrainingConfig {
    TrainingConfig::new(
        tiny_model(),
        "digits",
        8,
        8,
        TrainOptions::default()
            .epochs(1)
            .batch_size(batch_size)
            .learning_rate(3e-3)
            .seed(5)
            .train_limit(Some(train_limit))
            .lr_schedule(LrSchedule::Constant),
    )
}

/// Every gradient of `grads`, by parameter, flattened.
struct CollectGrads<'a> {
    grads: &'a GradientsParams,
    out: Vec<Vec<f32>>,
}

impl ModuleVisitor for CollectGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let g = self
            .grads
            .get::<D>(param.id)
            .expect("every parameter has a gradient");
        self.out
            .push(g.into_data().convert::<f32>().try_to_vec::<f32>().unwrap());
    }
}

fn flat_grads(model: &ImageModel, grads: &GradientsParams) -> Vec<Vec<f32>> {
    let mut v = CollectGrads {
        grads,
        out: Vec::new(),
    };
    model.visit(&mut v);
    v.out
}

/// max |a − b| / max |a|, over one tensor.
fn relative_gap(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-12);
    let gap = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    gap / scale
}

/// The tensors of a safetensors file, by name, as f32.
fn weights(path: &Path) -> BTreeMap<String, Vec<f32>> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            (name, values)
        })
        .collect()
}

fn largest_weight_gap(a: &Path, b: &Path) -> f32 {
    let (a, b) = (weights(a), weights(b));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    a.iter()
        .map(|(name, x)| relative_gap(x, &b[name]))
        .fold(0f32, f32::max)
}

/// The gradient of a batch of `n` images, on `devices` (autodiff).
fn batch_gradient(model: &ImageModel, devices: &[Device], n: usize) -> (Vec<Vec<f32>>, f64) {
    let data = load(&DataSource::Digits).unwrap();
    let indices: Vec<usize> = (0..n).collect();
    let per_batch = (64 * n) as f64;
    let (grads, loss) =
        parallel::batch_gradients(model, devices, &indices, |model, shard, device| {
            let (x, _) = image_batch(&data.train, shard, device);
            categorical::log_prob(model.forward(x.clone(), None), x)
                .sum()
                .neg()
                .div_scalar(per_batch)
        });
    (flat_grads(model, &grads), loss)
}

#[test]
fn gradients_split_over_devices_add_up_to_the_whole_batch_gradient() {
    let device = Device::flex().autodiff();
    let model = tiny_model().init_seeded(1, &device);
    let (one, loss_one) = batch_gradient(&model, std::slice::from_ref(&device), 7);
    // 7 images over 2 and 3 devices: uneven shards (4 + 3, 3 + 2 + 2).
    for replicas in [2, 3] {
        let devices = vec![device.clone(); replicas];
        let (split, loss_split) = batch_gradient(&model, &devices, 7);
        assert!(
            (loss_one - loss_split).abs() <= 1e-6 * loss_one.abs(),
            "{replicas} devices: loss {loss_split} against {loss_one}"
        );
        assert_eq!(one.len(), split.len());
        for (i, (a, b)) in one.iter().zip(&split).enumerate() {
            let gap = relative_gap(a, b);
            assert!(
                gap <= 1e-5,
                "{replicas} devices, parameter {i}: gradients differ by {gap} (relative)"
            );
        }
    }
}

/// Trains `config` from scratch on one CPU device and on two CPU replicas; returns both
/// runs' reports and folders (kept alive by the returned temporary directory).
fn train_on_one_and_two(
    config: &TrainingConfig,
) -> (tempfile::TempDir, [(RunFolder, Vec<train::EpochReport>); 2]) {
    let data = load(&DataSource::Digits).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cpu = Device::flex();
    let runs =
        [("one", vec![cpu.clone()]), ("two", vec![cpu.clone(), cpu])].map(|(name, devices)| {
            let run = RunFolder(dir.path().join(name));
            let reports =
                train::image::train_on(config, &data, &run, false, Progress::Silent, &devices)
                    .unwrap();
            (run, reports)
        });
    (dir, runs)
}

#[test]
fn one_step_on_two_devices_equals_one_step_on_one() {
    // Batch 2B = 16 images, one optimiser step.
    let (_dir, [(single, _), (double, _)]) = train_on_one_and_two(&tiny_training(16, 16));
    let gap = largest_weight_gap(&single.last_weights(), &double.last_weights());
    assert!(
        gap <= 1e-5,
        "weights after one step differ by {gap} (relative)"
    );
}

#[test]
fn a_short_run_on_two_devices_reaches_the_validation_nll_of_one() {
    let mut config = tiny_training(16, 320);
    config.training.learning_rate = 1e-2;
    let (_dir, [(_, a), (_, b)]) = train_on_one_and_two(&config);
    let (va, vb) = (a[0].valid.nats_per_image, b[0].valid.nats_per_image);
    assert!(
        (va - vb).abs() <= 0.01 * va,
        "validation NLL {vb} on two devices against {va} on one"
    );
    // Training moved the model away from uniform (64 ln 17 = 181.3 nats): the comparison is
    // not between two untrained models.
    assert!(va < 160.0, "validation NLL {va}: the model did not learn");
}

#[test]
fn sequence_models_train_the_same_on_two_devices() {
    use argen::data::sequences::load_sequences;
    use argen::models::{SequenceModelConfig, SequenceModelKind};
    use argen::train::TrainOptions;
    use argen::train::sequence::{SequenceTrainingConfig, fit};

    let data = load_sequences("digits").unwrap();
    let config = SequenceTrainingConfig::new(
        SequenceModelConfig::new(
            SequenceModelKind::Wavenet,
            data.input_channels(),
            data.output,
        )
        .with_hidden(8)
        .with_layers(3),
        "digits",
        TrainOptions::default()
            .epochs(1)
            .batch_size(9)
            .train_limit(Some(9))
            .lr_schedule(LrSchedule::Constant),
    );
    let dir = tempfile::tempdir().unwrap();
    let (single, double) = (
        RunFolder(dir.path().join("one")),
        RunFolder(dir.path().join("two")),
    );
    let cpu = Device::flex();
    fit(
        &config,
        &data,
        Some(&single),
        false,
        Progress::Silent,
        std::slice::from_ref(&cpu),
    )
    .unwrap();
    fit(
        &config,
        &data,
        Some(&double),
        false,
        Progress::Silent,
        &[cpu.clone(), cpu],
    )
    .unwrap();
    let gap = largest_weight_gap(&single.last_weights(), &double.last_weights());
    assert!(
        gap <= 1e-5,
        "WaveNet weights after one step differ by {gap}"
    );
}

#[test]
fn images_drawn_over_two_devices_are_the_images_drawn_on_one() {
    use argen::generate::{
        SampleRequest, sample_cached, sample_cached_on, sample_naive, sample_naive_on,
    };
    use argen::models::PixelCnnPpConfig;
    let cpu = Device::flex();
    let two = [Device::flex(), Device::flex()];
    let gated = tiny_model().init_seeded(3, &cpu);
    let pp = ImageModelConfig::PixelcnnPp(PixelCnnPpConfig {
        levels: 9,
        colours: 1,
        channels: 6,
        blocks: 1,
        resolutions: 2,
        kernel: 3,
        mixture: 2,
        dropout: 0.0,
        num_classes: None,
        vector_dim: None,
    })
    .init_seeded(4, &cpu);
    // 5 images in batches of 2: three batches, dealt unevenly over the two devices.
    let mut request = SampleRequest::new(4, 4, vec![None; 5], 11);
    request.batch = 2;
    for (name, model) in [("gated", &gated), ("pixelcnn++", &pp)] {
        let one = sample_cached(model, &request, &cpu);
        assert_eq!(one.len(), 5 * 16);
        assert!(
            one.iter().any(|&v| v != one[0]),
            "{name}: degenerate samples"
        );
        assert_eq!(
            one,
            sample_cached_on(model, &request, &two),
            "{name}, cached"
        );
        assert_eq!(
            sample_naive(model, &request, &cpu),
            sample_naive_on(model, &request, &two),
            "{name}, naive"
        );
    }
}

#[test]
fn the_cli_refuses_several_devices_where_a_command_cannot_use_them() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_argen"))
        .args(["eval", "--devices", "cpu,cpu", "no-such-run"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only `argen train`"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_argen"))
        .args(["eval", "--device", "tpu", "no-such-run"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown device 'tpu'"));
}

#[cfg(not(feature = "gpu"))]
#[test]
fn without_the_gpu_feature_the_gpu_is_refused_clearly() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_argen"))
        .args(["eval", "--device", "gpu", "no-such-run"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--features gpu"));
}

/// The GPU path: run by CI with `--features gpu` on Mesa's software Vulkan driver (lavapipe).
#[cfg(feature = "gpu")]
mod gpu {
    use super::*;
    use crate::common::relative_error;
    use argen::device::DeviceSpec;
    use argen::models::GatedPixelCnnConfig;

    fn gpu() -> Device {
        DeviceSpec::Gpu(0)
            .connect()
            .expect("a Vulkan device (CI installs mesa-vulkan-drivers)")
    }

    #[test]
    fn a_training_step_gives_the_cpu_loss_on_the_gpu() {
        let cpu = Device::flex().autodiff();
        let model = tiny_model().init_seeded(2, &cpu);
        let (cpu_grads, cpu_loss) = batch_gradient(&model, std::slice::from_ref(&cpu), 8);
        let gpu = gpu().autodiff();
        let on_gpu = model.clone().fork(&gpu);
        let (gpu_grads, gpu_loss) = batch_gradient(&on_gpu, std::slice::from_ref(&gpu), 8);
        assert!(
            (cpu_loss - gpu_loss).abs() <= 1e-4 * cpu_loss.abs(),
            "loss {gpu_loss} on the GPU against {cpu_loss} on the CPU"
        );
        let gaps: Vec<(usize, usize, f32)> = cpu_grads
            .iter()
            .zip(&gpu_grads)
            .enumerate()
            .map(|(i, (a, b))| (i, a.len(), relative_gap(a, b)))
            .collect();
        for &(i, len, gap) in &gaps {
            assert!(
                gap <= 1e-3,
                "parameter {i} ({len} values): GPU gradient differs by {gap}; all: {gaps:?}"
            );
        }
    }

    #[test]
    fn the_model_is_causal_on_the_gpu() {
        let config = tiny_model();
        let model = config.init_seeded(4, &Device::flex()).to_device(&gpu());
        common::assert_causal_on_8x8(&model, &config);
    }

    /// The images of `config` drawn by the cached sampler on the CPU and on the GPU, for the
    /// same weights and seed: the same random draws, from logits equal within rounding.
    fn images_on_both(config: GatedPixelCnnConfig, labels: Vec<Option<usize>>, seed: u64) {
        use argen::generate::{SampleRequest, sample_cached};
        let colours = config.colours;
        let cpu = Device::flex();
        let model = ImageModelConfig::GatedPixelcnn(config).init_seeded(seed, &cpu);
        let mut request = SampleRequest::new(6, 5, labels, seed);
        request.colours = colours;
        request.batch = 2;
        let on_cpu = sample_cached(&model, &request, &cpu);
        let on_gpu = sample_cached(&model.to_device(&gpu()), &request, &gpu());
        assert_eq!(on_cpu.len(), request.labels.len() * colours * 30);
        assert!(on_cpu.iter().any(|&v| v != on_cpu[0]), "degenerate samples");
        assert_eq!(on_cpu, on_gpu, "colours {colours}, seed {seed}");
    }

    #[test]
    fn cached_generation_on_the_gpu_draws_the_cpus_images() {
        let grey = GatedPixelCnnConfig {
            levels: 5,
            ..match tiny_model() {
                ImageModelConfig::GatedPixelcnn(c) => c,
                _ => unreachable!(),
            }
        };
        images_on_both(grey.clone(), vec![None; 3], 1);
        let colour = GatedPixelCnnConfig {
            channels: 12,
            head: 18,
            colours: 3,
            ..grey.clone()
        };
        images_on_both(colour, vec![None; 3], 2);
        let conditional = GatedPixelCnnConfig {
            num_classes: Some(3),
            ..grey
        };
        images_on_both(conditional, vec![Some(0), Some(2), Some(1)], 3);
    }

    #[test]
    fn cached_generation_on_the_gpu_draws_the_cpus_sequences() {
        use argen::distributions::OutputDistribution;
        use argen::generate::sequence::{SequenceRequest, sample_sequences};
        use argen::models::{SequenceModelConfig, SequenceModelKind};
        let cpu = Device::flex();
        let output = OutputDistribution::Categorical { levels: 7 };
        let model =
            SequenceModelConfig::new(SequenceModelKind::Wavenet, output.input_channels(), output)
                .with_hidden(6)
                .with_kernel(2)
                .with_layers(4)
                .with_blocks(2)
                .with_num_classes(Some(2))
                .init_seeded(9, &cpu);
        let request = SequenceRequest {
            labels: vec![Some(0), Some(1), Some(1)],
            covariates: None,
            vectors: None,
            length: 40,
            prefix: vec![3.0],
            temperature: 1.0,
            seed: 4,
            batch: 3,
        };
        let on_cpu = sample_sequences(&model, output, &request, &cpu);
        let on_gpu = sample_sequences(&model.to_device(&gpu()), output, &request, &gpu());
        assert_eq!(on_cpu.len(), 3 * 40);
        assert!(
            on_cpu.iter().any(|&v| v != on_cpu[1]),
            "degenerate sequences"
        );
        assert_eq!(on_cpu, on_gpu);
    }

    /// Deterministic values spread over [−scale, scale].
    fn spread(n: usize, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32 * 0.618_034).fract() * 2.0 - 1.0) * scale)
            .collect()
    }

    #[test]
    fn the_gate_kernel_equals_the_standard_operations_in_values_and_gradients() {
        use argen::fused::{gated_activation, gated_activation_plain};
        let device = gpu().autodiff();
        assert!(argen::fused::gpu::is_cube(&device));
        for shape in [vec![3, 10, 5, 7], vec![2, 6, 9], vec![1, 2, 1, 1]] {
            let n: usize = shape.iter().product();
            let mut half = shape.clone();
            half[1] /= 2;
            let make = || {
                Tensor::<4>::from_data(TensorData::new(spread(n, 6.0), pad4(&shape)), &device)
                    .require_grad()
            };
            let (x_kernel, x_plain) = (make(), make());
            let w =
                Tensor::<4>::from_data(TensorData::new(spread(n / 2, 1.0), pad4(&half)), &device);
            let y_kernel = gated_activation(x_kernel.clone());
            let y_plain = gated_activation_plain(x_plain.clone());
            let err = relative_error(y_kernel.clone(), y_plain.clone());
            assert!(err <= 1e-4, "{shape:?}: values differ by {err}");
            let g_kernel = (y_kernel * w.clone()).sum().backward();
            let g_plain = (y_plain * w).sum().backward();
            let err = relative_error(
                x_kernel.grad(&g_kernel).unwrap(),
                x_plain.grad(&g_plain).unwrap(),
            );
            assert!(err <= 1e-4, "{shape:?}: gradients differ by {err}");
        }
    }

    /// A shape of 3 or 4 axes as 4 (a trailing 1).
    fn pad4(shape: &[usize]) -> [usize; 4] {
        [shape[0], shape[1], shape[2], *shape.get(3).unwrap_or(&1)]
    }

    #[test]
    fn the_log_likelihood_kernel_equals_log_softmax_and_gather_in_values_and_gradients() {
        use argen::fused::{level_log_prob, level_log_prob_plain};
        let device = gpu().autodiff();
        for (batch, levels, positions) in [(3, 11, 13), (2, 256, 5), (1, 1, 3)] {
            let n = batch * levels * positions;
            let make = || {
                Tensor::<3>::from_data(
                    TensorData::new(spread(n, 8.0), [batch, levels, positions]),
                    &device,
                )
                .require_grad()
            };
            let chosen: Vec<i32> = (0..batch * positions)
                .map(|i| ((i * 7 + 3) % levels) as i32)
                .collect();
            let x =
                Tensor::<2, Int>::from_data(TensorData::new(chosen, [batch, positions]), &device);
            let w = Tensor::<2>::from_data(
                TensorData::new(spread(batch * positions, 1.0), [batch, positions]),
                &device,
            );
            let (z_kernel, z_plain) = (make(), make());
            let out_kernel = level_log_prob(z_kernel.clone(), x.clone());
            let out_plain = level_log_prob_plain(z_plain.clone(), x);
            let err = relative_error(out_kernel.clone(), out_plain.clone());
            assert!(err <= 1e-4, "{levels} levels: values differ by {err}");
            let g_kernel = (out_kernel * w.clone()).sum().backward();
            let g_plain = (out_plain * w).sum().backward();
            let err = relative_error(
                z_kernel.grad(&g_kernel).unwrap(),
                z_plain.grad(&g_plain).unwrap(),
            );
            assert!(err <= 1e-4, "{levels} levels: gradients differ by {err}");
        }
    }

    /// The kernels of one training step (forward, backward, Adam) of the tiny model on the
    /// GPU, after a warm-up step that compiles and tunes them.
    fn training_step_kernels() -> argen::kernel_profile::KernelProfile {
        use burn::optim::AdamConfig;
        let device = gpu().autodiff();
        let data = load(&DataSource::Digits).unwrap();
        let mut model = tiny_model().init_seeded(6, &device);
        let mut optim = AdamConfig::new().init();
        let indices: Vec<usize> = (0..8).collect();
        let mut step = |model: ImageModel| {
            let (x, _) = image_batch(&data.train, &indices, &device);
            let loss = categorical::log_prob(model.forward(x.clone(), None), x)
                .mean()
                .neg();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let model = optim.step(1e-3, model, grads);
            let _ = loss.into_scalar::<f32>();
            model
        };
        model = step(model);
        let (_, profile) = argen::kernel_profile::KernelProfile::record(false, || step(model));
        profile
    }

    #[test]
    fn a_training_step_runs_argens_kernels_and_no_serial_scatter() {
        let profile = training_step_kernels();
        println!("{}", profile.table());
        // The embedding's gradient is a matrix product, not burn's select-assign (a serial
        // read-modify-write per table column over every pixel of the batch).
        assert_eq!(
            profile.launches_of("SelectAssign"),
            0,
            "{}",
            profile.table()
        );
        assert!(profile.launches_of("Matmul") >= 2, "{}", profile.table());
        // One gate per stack and layer (2 layers, vertical and horizontal); the top layer's
        // vertical output reaches nothing, so it has no backward pass.
        assert_eq!(profile.launches_of("GateForwardKernel"), 4);
        assert_eq!(profile.launches_of("GateBackwardKernel"), 3);
        assert_eq!(profile.launches_of("LogProbForwardKernel"), 1);
        assert_eq!(profile.launches_of("LogProbBackwardKernel"), 1);
        // Neither log-softmax nor its gather runs as standard operations any more.
        assert_eq!(profile.launches_of("Gather"), 0, "{}", profile.table());
    }
}

/// A device server on loopback, started by the test: run with `--features remote`.
#[cfg(feature = "remote")]
mod remote {
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};

    use super::*;

    const TOKEN: &str = "test-token-7f3a";

    struct Server {
        child: Child,
        url: String,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn start_server() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_argen"))
            .args(["device-server", "--listen", "127.0.0.1:0"])
            .env("ARGEN_REMOTE_TOKEN", TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        // Keep reading: the server logs each session to stdout, and a closed pipe would end it.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let addr = line
            .split_whitespace()
            .find(|w| w.starts_with("ws://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, url: addr }
    }

    fn argen(args: &[&str], token: Option<&str>, cwd: &Path) -> std::process::Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_argen"));
        command.args(args).current_dir(cwd);
        match token {
            Some(t) => command.env("ARGEN_REMOTE_TOKEN", t),
            None => command.env_remove("ARGEN_REMOTE_TOKEN"),
        };
        command.output().unwrap()
    }

    #[test]
    fn a_remote_device_trains_as_the_local_cpu_and_refuses_wrong_tokens() {
        let server = start_server();
        let device = format!("remote:{}", server.url);
        let dir = tempfile::tempdir().unwrap();
        let train = |device_args: &[&str], out: &str, token| {
            let mut args = vec!["train"];
            args.extend_from_slice(device_args);
            args.extend([
                "--epochs",
                "1",
                "--layers",
                "2",
                "--channels",
                "8",
                "--head",
                "16",
                "--dropout",
                "0",
                "--samples",
                "0",
                "--quiet",
                "--seed",
                "3",
                "--out",
                out,
            ]);
            argen(&args, token, dir.path())
        };
        for token in [Some("wrong"), None] {
            let out = train(&["--device", &device], "refused", token);
            assert!(
                !out.status.success(),
                "a client with token {token:?} was served"
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("cannot use device 0 of the device server"),
                "{err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
        // The server still serves the right token after refusing the others.
        let out = train(&["--device", &device], "remote", Some(TOKEN));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Local training with the same operations (argen's fused kernels run on the local
        // CPU only; the server computes with burn's standard ones).
        let out = train(&["--plain-ops"], "local", None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let gap = largest_weight_gap(
            &RunFolder(dir.path().join("local")).last_weights(),
            &RunFolder(dir.path().join("remote")).last_weights(),
        );
        assert!(
            gap <= 1e-5,
            "remote weights differ from local ones by {gap}"
        );
        drop(server);
    }

    #[test]
    fn the_server_refuses_to_listen_beyond_loopback_without_a_token() {
        let dir = tempfile::tempdir().unwrap();
        let out = argen(
            &["device-server", "--listen", "0.0.0.0:0"],
            None,
            dir.path(),
        );
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("without a token"), "{err}");
    }
}
