//! Argument groups that several commands share, and their conversion to the library's types.

use std::io::IsTerminal;

use anyhow::{Result, bail};
use argen::device::{DeviceSpec, Devices};
use argen::models::{ImageModelOptions, SequenceModelOptions};
use argen::run::{Split, Weights};
use argen::train::{LrSchedule, Progress};
use burn::prelude::Device;
use clap::{Args, ValueEnum};

/// Which options the user gave on the command line (not their defaults).
pub struct Given<'a>(pub Option<&'a clap::ArgMatches>);

impl Given<'_> {
    /// The options among `ids` (clap's ids: the field names) given on the command line, as
    /// the user wrote them (`--conv-kernel`).
    pub fn among(&self, ids: &[&str]) -> Vec<String> {
        let Some(matches) = self.0 else {
            return Vec::new();
        };
        ids.iter()
            .filter(|id| {
                matches.try_get_raw(id).ok().flatten().is_some()
                    && matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
            })
            .map(|id| format!("--{}", id.replace('_', "-")))
            .collect()
    }
}

/// Where a command computes.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Devices")]
pub struct DeviceArgs {
    /// Where to compute: `cpu` (this machine's cores), `gpu` or `gpu:N` (a Vulkan GPU; an
    /// argen built with `--features gpu`), or `remote:ws://HOST:PORT` (a device of an
    /// `argen device-server`; built with `--features remote`, the server's token in the
    /// environment variable ARGEN_REMOTE_TOKEN).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Several devices at once, comma-separated (`cpu,gpu:0`, `gpu:0,gpu:1`,
    /// `cpu,remote:ws://HOST:PORT`): `argen train` splits each batch over them and adds their
    /// gradients (data parallelism); `argen sample` of an image run deals its batches of
    /// images over them (the same images); `argen device-server` serves them all. Replaces
    /// --device.
    #[arg(long)]
    pub devices: Option<String>,
    /// Compute the gated activations and the softmax log-likelihood with standard burn
    /// operations instead of argen's fused kernels (same results within float rounding;
    /// slower). For comparisons and debugging.
    #[arg(long)]
    pub plain_ops: bool,
    /// The number format of the CPU's convolution products: `f32` (the default), or `bf16`
    /// (factors rounded to bfloat16, sums in f32, on the AMX tile unit of Intel CPUs that
    /// have AMX-BF16: faster, a little less exact). Refused, with the reason, where the CPU
    /// lacks it.
    #[arg(long, default_value = "f32")]
    pub precision: argen::fused::matmul::Precision,
}

impl DeviceArgs {
    /// Connects the devices; `several` says whether the command can use more than one.
    pub fn connect(&self, command: &str, several: bool) -> Result<Devices> {
        argen::fused::set_enabled(!self.plain_ops);
        argen::fused::matmul::set_precision(self.precision)
            .map_err(|why| anyhow::anyhow!("--precision {}: {why}", self.precision))?;
        let specs = match &self.devices {
            Some(list) => DeviceSpec::parse_list(list)?,
            None => vec![DeviceSpec::parse(&self.device)?],
        };
        if specs.len() > 1 && !several {
            bail!(
                "--devices lists {} devices, but only `argen train` (data parallelism), \
                 `argen sample` of an image run (batches dealt over the devices) and \
                 `argen device-server` use several; `argen {command}` takes one with --device",
                specs.len()
            );
        }
        Devices::connect(specs)
    }

    /// The one device of a command that computes on one.
    pub fn device(&self, command: &str) -> Result<Device> {
        Ok(self.connect(command, false)?.main().clone())
    }
}

/// A part of a data set, as an option.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SplitArg {
    Train,
    Valid,
    Test,
}

impl From<SplitArg> for Split {
    fn from(split: SplitArg) -> Split {
        match split {
            SplitArg::Train => Split::Train,
            SplitArg::Valid => Split::Valid,
            SplitArg::Test => Split::Test,
        }
    }
}

/// The weights of a trained run: `--last` for the last epoch's, the best otherwise.
pub fn weights(last: bool) -> Weights {
    if last { Weights::Last } else { Weights::Best }
}

/// The learning-rate schedule, as an option.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ScheduleArg {
    /// The same rate at every step.
    Constant,
    /// From the rate down to 0 along a half cosine.
    Cosine,
}

impl From<ScheduleArg> for LrSchedule {
    fn from(s: ScheduleArg) -> LrSchedule {
        match s {
            ScheduleArg::Constant => LrSchedule::Constant,
            ScheduleArg::Cosine => LrSchedule::Cosine,
        }
    }
}

/// How a training command shows its progress: a bar on a terminal, lines in a log, a line
/// per epoch only with `--quiet`.
pub fn progress(quiet: bool) -> Progress {
    match (quiet, std::io::stderr().is_terminal()) {
        (true, _) => Progress::Epochs,
        (false, true) => Progress::Bar,
        (false, false) => Progress::Lines,
    }
}

/// The options of an image model (`argen train`, `argen receptive-field`).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Image models")]
pub struct ImageModelArgs {
    /// Feature maps per stack (Gated PixelCNN) or of the residual stream (PixelCNN).
    #[arg(long, default_value_t = ImageModelOptions::default().channels)]
    pub channels: usize,
    /// Gated layers (Gated PixelCNN, default 5), residual blocks (PixelCNN, default 5), or
    /// gated residual blocks per stream at each resolution (PixelCNN++, default 1).
    #[arg(long)]
    pub layers: Option<usize>,
    /// Kernel size of the first layer (odd).
    #[arg(long, default_value_t = ImageModelOptions::default().first_kernel)]
    pub first_kernel: usize,
    /// Kernel size of the later layers (odd); PixelCNN++: the width k of its ⌈k/2⌉ × k and
    /// ⌈k/2⌉ × ⌈k/2⌉ windows.
    #[arg(long, default_value_t = ImageModelOptions::default().kernel)]
    pub kernel: usize,
    /// Width of the hidden layer of the output head.
    #[arg(long, default_value_t = ImageModelOptions::default().head)]
    pub head: usize,
    /// Gated PixelCNN, conditional: location-dependent conditioning through a map
    /// s = m(h) of this many feature planes at the image's size, entering every layer
    /// through 1x1 convolutions (default: h enters every layer as one vector).
    #[arg(long, value_name = "PLANES")]
    pub spatial: Option<usize>,
    /// Gated PixelCNN: train a PixelCNN auto-encoder, an encoder of each image to a code of
    /// D values and the Gated PixelCNN p(x | code) as its decoder, together.
    #[arg(long, value_name = "D")]
    pub latent: Option<usize>,
    /// PixelCNN++: resolutions of its down and up passes, the image and R − 1 halvings
    /// (default 3: 28×28, 14×14, 7×7); height and width must be multiples of 2^(R−1).
    #[arg(long, value_name = "R")]
    pub resolutions: Option<usize>,
}

impl ImageModelArgs {
    /// The library's options for `model`, with `dropout`, `conditional` and (PixelCNN++)
    /// the `mixture`'s components.
    pub fn options(
        &self,
        model: &str,
        dropout: Option<f64>,
        conditional: bool,
        mixture: Option<usize>,
    ) -> ImageModelOptions {
        ImageModelOptions {
            model: model.to_string(),
            channels: self.channels,
            layers: self.layers,
            first_kernel: self.first_kernel,
            kernel: self.kernel,
            head: self.head,
            dropout,
            conditional,
            spatial: self.spatial,
            latent: self.latent,
            resolutions: self.resolutions,
            mixture,
        }
    }
}

/// The options of a sequence model (`argen train --model mlp|gru|lstm|wavenet|tcn`).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Sequence models")]
pub struct SequenceModelArgs {
    /// Hidden units (MLP, RNN) or residual channels (WaveNet, TCN).
    #[arg(long, default_value_t = SequenceModelOptions::default().hidden)]
    pub hidden: usize,
    /// Hidden layers (MLP), stacked layers (RNN), or layers per block with dilations
    /// 1, 2, ..., 2^(depth−1) (WaveNet, TCN).
    #[arg(long, default_value_t = SequenceModelOptions::default().depth)]
    pub depth: usize,
    /// WaveNet, TCN: repeats of the dilation cycle.
    #[arg(long, default_value_t = SequenceModelOptions::default().blocks)]
    pub blocks: usize,
    /// MLP: the window τ (past steps read).
    #[arg(long, default_value_t = SequenceModelOptions::default().window)]
    pub window: usize,
    /// WaveNet, TCN: kernel size of the dilated convolutions.
    #[arg(long, default_value_t = SequenceModelOptions::default().kernel)]
    pub conv_kernel: usize,
    /// WaveNet, TCN: kernel size of the first convolution (which excludes the current step).
    #[arg(long, default_value_t = SequenceModelOptions::default().first_kernel)]
    pub conv_first_kernel: usize,
    /// GRU, LSTM: truncated backpropagation through time, in chunks of this many steps.
    #[arg(long)]
    pub tbptt: Option<usize>,
    /// Output a discretised mixture of this many logistics instead of a softmax (data over
    /// ordered levels, such as the digits); PixelCNN++: the components of its pixel mixture
    /// (default 5).
    #[arg(long)]
    pub mixture: Option<usize>,
    /// Real series: predict the mean under a Gaussian of unit variance in standardised units
    /// (least squares) instead of learning the variance too. The NLL is then that of the
    /// fixed variance; the forecasts' MSE is often lower on short noisy series.
    #[arg(long)]
    pub fixed_variance: bool,
    /// WaveNet, TCN: weight normalisation of the dilated convolutions (w = g · v / ‖v‖ per
    /// output channel, as in Bai et al.'s TCN).
    #[arg(long)]
    pub weight_norm: bool,
}

impl SequenceModelArgs {
    /// The library's options, with `dropout` and `conditional`.
    pub fn options(&self, dropout: Option<f64>, conditional: bool) -> SequenceModelOptions {
        SequenceModelOptions {
            hidden: self.hidden,
            depth: self.depth,
            blocks: self.blocks,
            window: self.window,
            kernel: self.conv_kernel,
            first_kernel: self.conv_first_kernel,
            mixture: self.mixture,
            fixed_variance: self.fixed_variance,
            weight_norm: self.weight_norm,
            dropout,
            conditional,
        }
    }
}
