//! Where the compute runs: data parallelism over several devices gives the gradient and the
//! training of one device; with `--features gpu`, the Vulkan (wgpu) device gives the CPU's
//! loss and keeps the models causal; with `--features remote`, a device server on loopback
//! trains as the local CPU does and refuses clients without its token.

use std::collections::BTreeMap;
use std::path::Path;

use argen::data::{DataSource, load};
use argen::distributions::categorical;
use argen::models::{GatedPixelCnnConfig, ImageModel, ImageModelConfig};
use argen::train::{
    self, LrSchedule, Progress, RunFolder, TrainOptions, TrainingConfig, image_batch, parallel,
};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

fn tiny_model() -> ImageModelConfig {
    ImageModelConfig::GatedPixelcnn(GatedPixelCnnConfig {
        levels: 17,
        channels: 8,
        layers: 2,
        first_kernel: 3,
        kernel: 3,
        head: 16,
        num_classes: None,
        vector_dim: None,
        spatial: None,
        dropout: 0.0,
        colours: 1,
    })
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
    use argen::device::DeviceSpec;
    use argen::receptive_field;

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
        for (i, (a, b)) in cpu_grads.iter().zip(&gpu_grads).enumerate() {
            let gap = relative_gap(a, b);
            assert!(gap <= 1e-3, "parameter {i}: GPU gradient differs by {gap}");
        }
    }

    #[test]
    fn the_model_is_causal_on_the_gpu() {
        let config = tiny_model();
        let model = config.init_seeded(4, &Device::flex()).to_device(&gpu());
        for target in [(3, 4, 0), (7, 7, 0), (0, 1, 0)] {
            let field = receptive_field::measure(&model, &config, 8, 8, target, None, 3, 9);
            assert!(
                field.leaks().is_empty(),
                "{target:?}: leaks {:?}",
                field.leaks()
            );
            assert!(
                !field.dependencies().is_empty(),
                "{target:?}: depends on nothing"
            );
            assert!(field.blind_spot().is_empty(), "{target:?}: blind spot");
        }
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
