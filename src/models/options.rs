//! From a user's options to a model's config: the one mapping that `argen train`,
//! `argen receptive-field` and every other front end share, so that the same options always
//! build the same network.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::auto_encoder::AutoEncoderConfig;
use super::causal_conv::CausalConvConfig;
use super::conditioning::SpatialConfig;
use super::rnn::RnnConfig;
use super::window_mlp::WindowMlpConfig;
use super::{
    GatedPixelCnnConfig, ImageModelConfig, PixelCnnConfig, PixelCnnPpConfig, SequenceModelConfig,
    SequenceModelKind, SequenceNetwork,
};
use crate::distributions::OutputDistribution;

/// The image models by their `--model` names.
pub const IMAGE_MODELS: [&str; 3] = ["gated-pixelcnn", "pixelcnn", "pixelcnn-pp"];

/// Whether `name` is an image model (`gated-pixelcnn`, `pixelcnn`, `pixelcnn-pp`).
pub fn is_image_model(name: &str) -> bool {
    IMAGE_MODELS.contains(&name)
}

/// The default dropout of the Gated PixelCNN on `data`: 0.2 on the digits, whose 1,000
/// training images are easy to overfit (and on their colour version); 0 otherwise.
pub fn default_dropout(data: &str) -> f64 {
    if data.strip_prefix("colour:").unwrap_or(data) == "digits" {
        0.2
    } else {
        0.0
    }
}

/// The options that describe an image model; [`ImageModelOptions::default`] gives the
/// command line's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageModelOptions {
    /// `gated-pixelcnn` (vertical and horizontal stacks, no blind spot), `pixelcnn`
    /// (masked convolutions) or `pixelcnn-pp` (PixelCNN++).
    pub model: String,
    /// Feature maps per stack (Gated PixelCNN) or of the residual stream (PixelCNN).
    pub channels: usize,
    /// Gated layers (Gated PixelCNN), residual blocks (PixelCNN), or gated residual blocks
    /// per stream and resolution (PixelCNN++; `None`: the model's default).
    pub layers: Option<usize>,
    /// Kernel size of the first layer (odd).
    pub first_kernel: usize,
    /// Kernel size of the later layers (odd); PixelCNN++: the width k of its windows.
    pub kernel: usize,
    /// Width of the hidden layer of the output head.
    pub head: usize,
    /// Gated PixelCNN: dropout on the residual branch of the horizontal stack during
    /// training (`None`: [`default_dropout`] of the data).
    pub dropout: Option<f64>,
    /// Model p(x | class) instead of p(x).
    pub conditional: bool,
    /// Gated PixelCNN: condition through a map s = m(h) of this many feature planes at the
    /// image's size (location-dependent), instead of one vector per layer (`None`).
    pub spatial: Option<usize>,
    /// Gated PixelCNN: make it the decoder of a PixelCNN auto-encoder whose encoder maps
    /// each image to a code of this many values.
    pub latent: Option<usize>,
    /// PixelCNN++: resolutions (the image and its halvings).
    pub resolutions: Option<usize>,
    /// PixelCNN++: logistic components of the output mixture.
    pub mixture: Option<usize>,
}

impl Default for ImageModelOptions {
    /// A Gated PixelCNN of 32 channels, 5 layers, kernels 7 then 3, a head of 256.
    fn default() -> Self {
        Self {
            model: "gated-pixelcnn".into(),
            channels: 32,
            layers: None,
            first_kernel: 7,
            kernel: 3,
            head: 256,
            dropout: None,
            conditional: false,
            spatial: None,
            latent: None,
            resolutions: None,
            mixture: None,
        }
    }
}

impl ImageModelOptions {
    /// Gated layers or residual blocks of the Gated PixelCNN and the PixelCNN when
    /// `--layers` is not given.
    pub const DEFAULT_LAYERS: usize = 5;
}

/// What a model needs to know of the images it models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageFormat {
    /// Levels per channel.
    pub levels: usize,
    /// Colour channels (1 grey, 3 RGB).
    pub colours: usize,
    /// Classes of the labels.
    pub classes: usize,
    /// Dimension of the images' conditioning vectors, when they have them.
    pub vector_dim: Option<usize>,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
}

impl ImageFormat {
    /// The format of the images of `data`.
    pub fn of(data: &crate::data::ImageData) -> Self {
        Self {
            levels: data.levels,
            colours: data.train.channels,
            classes: data.num_classes,
            vector_dim: data.train.vectors.as_ref().map(|v| v.dim),
            height: data.train.height,
            width: data.train.width,
        }
    }
}

impl ImageModelOptions {
    /// The config of the model for images of `format`; `data` names the data set (for the
    /// default dropout).
    pub fn build(&self, format: ImageFormat, data: &str) -> Result<ImageModelConfig> {
        if self.conditional && format.vector_dim.is_some() {
            bail!(
                "--conditional conditions on the classes, --condition vectors:FILE on vectors: \
                 choose one"
            );
        }
        if let Some(d) = self.latent {
            if self.model != "gated-pixelcnn" {
                bail!(
                    "--latent applies to the gated-pixelcnn, not to the {}",
                    self.model
                );
            }
            if self.conditional || format.vector_dim.is_some() {
                bail!(
                    "the auto-encoder (--latent) conditions on its own codes, not on classes or \
                     given vectors"
                );
            }
            // The code enters the decoder through a map at the image's size (the
            // location-dependent form; 8 planes unless --spatial says otherwise): on the
            // digits it lowers the conditional NLL about twice as much as the global form.
            let decoder = Self {
                latent: None,
                spatial: Some(
                    self.spatial
                        .unwrap_or(AutoEncoderConfig::DEFAULT_MAP_PLANES),
                ),
                ..self.clone()
            }
            .build(
                ImageFormat {
                    vector_dim: Some(d),
                    ..format
                },
                data,
            )?;
            let ImageModelConfig::GatedPixelcnn(decoder) = decoder else {
                unreachable!("the decoder of a gated-pixelcnn is a gated-pixelcnn")
            };
            let config = ImageModelConfig::AutoEncoder(AutoEncoderConfig {
                decoder,
                latent: d,
                encoder_channels: AutoEncoderConfig::DEFAULT_ENCODER_CHANNELS,
                height: format.height,
                width: format.width,
            });
            config.validate().map_err(anyhow::Error::msg)?;
            return Ok(config);
        }
        let num_classes = self.conditional.then_some(format.classes);
        let vector_dim = format.vector_dim;
        let spatial = self.spatial.map(|channels| SpatialConfig {
            channels,
            height: format.height,
            width: format.width,
        });
        if spatial.is_some() && num_classes.is_none() && vector_dim.is_none() {
            // (The auto-encoder's decoder gets its vectors from the code, above.)
            bail!("--spatial needs --conditional or --condition vectors:FILE");
        }
        if self.model != "pixelcnn-pp" {
            for (given, option) in [
                (self.resolutions.is_some(), "--resolutions"),
                (self.mixture.is_some(), "--mixture"),
            ] {
                if given {
                    bail!(
                        "{option} applies to the pixelcnn-pp among the image models, not to the {}",
                        self.model
                    );
                }
            }
        }
        let layers = self.layers.unwrap_or(Self::DEFAULT_LAYERS);
        if spatial.is_some() && self.model != "gated-pixelcnn" {
            bail!(
                "--spatial applies to the gated-pixelcnn, not to the {}",
                self.model
            );
        }
        let config = match self.model.as_str() {
            "gated-pixelcnn" => ImageModelConfig::GatedPixelcnn(GatedPixelCnnConfig {
                levels: format.levels,
                channels: self.channels,
                layers,
                first_kernel: self.first_kernel,
                kernel: self.kernel,
                head: self.head,
                num_classes,
                vector_dim,
                spatial,
                dropout: self.dropout.unwrap_or_else(|| default_dropout(data)),
                colours: format.colours,
            }),
            "pixelcnn" => {
                if self.dropout.is_some_and(|p| p != 0.0) {
                    bail!("--dropout applies to the gated-pixelcnn, not to the pixelcnn");
                }
                ImageModelConfig::Pixelcnn(PixelCnnConfig {
                    levels: format.levels,
                    colours: format.colours,
                    channels: self.channels,
                    blocks: layers,
                    first_kernel: self.first_kernel,
                    kernel: self.kernel,
                    head: self.head,
                    num_classes,
                    vector_dim,
                })
            }
            "pixelcnn-pp" => {
                let defaults = Self::default();
                for (changed, option) in [
                    (self.first_kernel != defaults.first_kernel, "--first-kernel"),
                    (self.head != defaults.head, "--head"),
                ] {
                    if changed {
                        bail!("{option} does not apply to the pixelcnn-pp");
                    }
                }
                let pp_defaults = PixelCnnPpConfig::new(format.levels);
                let pp = PixelCnnPpConfig {
                    levels: format.levels,
                    colours: format.colours,
                    channels: self.channels,
                    blocks: self.layers.unwrap_or(pp_defaults.blocks),
                    resolutions: self.resolutions.unwrap_or(pp_defaults.resolutions),
                    kernel: self.kernel,
                    mixture: self.mixture.unwrap_or(pp_defaults.mixture),
                    dropout: self.dropout.unwrap_or_else(|| default_dropout(data)),
                    num_classes,
                    vector_dim,
                };
                pp.validate().map_err(anyhow::Error::msg)?;
                pp.check_image_size(format.height, format.width)
                    .map_err(anyhow::Error::msg)?;
                ImageModelConfig::PixelcnnPp(pp)
            }
            other => bail!(
                "unknown image model {other}: the image models are {}",
                IMAGE_MODELS.join(", ")
            ),
        };
        config.validate().map_err(anyhow::Error::msg)?;
        Ok(config)
    }
}

/// The options that describe a sequence model; [`SequenceModelOptions::default`] gives the
/// command line's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceModelOptions {
    /// Hidden units (MLP, RNN) or residual channels (WaveNet, TCN).
    pub hidden: usize,
    /// Hidden layers (MLP), stacked layers (RNN), or layers per block (WaveNet, TCN).
    pub depth: usize,
    /// WaveNet, TCN: repeats of the dilation cycle.
    pub blocks: usize,
    /// MLP: the window τ.
    pub window: usize,
    /// WaveNet, TCN: kernel size of the dilated convolutions.
    pub kernel: usize,
    /// WaveNet, TCN: kernel size of the first convolution.
    pub first_kernel: usize,
    /// A discretised mixture of this many logistics instead of a softmax.
    pub mixture: Option<usize>,
    /// Real series: a Gaussian of unit variance (least squares on the mean).
    pub fixed_variance: bool,
    /// WaveNet, TCN: weight normalisation of the dilated convolutions.
    pub weight_norm: bool,
    /// Dropout after each hidden activation during training.
    pub dropout: Option<f64>,
    /// Model p(x | class) instead of p(x).
    pub conditional: bool,
}

impl Default for SequenceModelOptions {
    /// 64 hidden units, depth 2, one block, a window of 4, kernels of 2, a softmax or learned
    /// Gaussian, no dropout.
    fn default() -> Self {
        Self {
            hidden: 64,
            depth: 2,
            blocks: 1,
            window: 4,
            kernel: 2,
            first_kernel: 2,
            mixture: None,
            fixed_variance: false,
            weight_norm: false,
            dropout: None,
            conditional: false,
        }
    }
}

impl SequenceModelOptions {
    /// The config of network `kind` for steps encoded in `input_channels` channels whose
    /// data distribution is `output`, with `classes` classes; `data` names the data.
    pub fn build(
        &self,
        kind: SequenceModelKind,
        input_channels: usize,
        output: OutputDistribution,
        classes: usize,
        data: &str,
    ) -> Result<SequenceModelConfig> {
        let output = match (self.fixed_variance, output) {
            (false, output) => output,
            (true, OutputDistribution::Gaussian { dims, .. }) => OutputDistribution::Gaussian {
                dims,
                fixed_variance: true,
            },
            (true, other) => {
                bail!("--fixed-variance needs a real-valued series; {data} has {other:?} steps")
            }
        };
        let output = match (self.mixture, output) {
            (None, output) => output,
            (Some(k), OutputDistribution::Categorical { levels }) => {
                OutputDistribution::LogisticMixture {
                    levels,
                    components: k,
                }
            }
            (Some(_), other) => {
                bail!("--mixture needs data over ordered levels; {data} has {other:?} steps")
            }
        };
        let defaults = Self::default();
        let conv_only = [
            (self.blocks != defaults.blocks, "--blocks"),
            (self.kernel != defaults.kernel, "--conv-kernel"),
            (
                self.first_kernel != defaults.first_kernel,
                "--conv-first-kernel",
            ),
            (self.weight_norm, "--weight-norm"),
        ];
        let network = match kind {
            SequenceModelKind::Mlp => SequenceNetwork::Mlp(WindowMlpConfig {
                hidden: self.hidden,
                layers: self.depth,
                window: self.window,
            }),
            SequenceModelKind::Gru | SequenceModelKind::Lstm => {
                let rnn = RnnConfig {
                    hidden: self.hidden,
                    layers: self.depth,
                };
                if kind == SequenceModelKind::Gru {
                    SequenceNetwork::Gru(rnn)
                } else {
                    SequenceNetwork::Lstm(rnn)
                }
            }
            SequenceModelKind::Wavenet | SequenceModelKind::Tcn => {
                let conv = CausalConvConfig {
                    hidden: self.hidden,
                    layers: self.depth,
                    blocks: self.blocks,
                    kernel: self.kernel,
                    first_kernel: self.first_kernel,
                    weight_norm: self.weight_norm.then_some(true),
                };
                if kind == SequenceModelKind::Wavenet {
                    SequenceNetwork::Wavenet(conv)
                } else {
                    SequenceNetwork::Tcn(conv)
                }
            }
        };
        let convolutional = matches!(
            network,
            SequenceNetwork::Wavenet(_) | SequenceNetwork::Tcn(_)
        );
        if let Some((_, option)) = conv_only.iter().find(|(set, _)| *set && !convolutional) {
            bail!(
                "{option} applies to wavenet and tcn, not to {}",
                kind.name()
            );
        }
        if kind != SequenceModelKind::Mlp && self.window != defaults.window {
            bail!("--window applies to the mlp, not to {}", kind.name());
        }
        let config = SequenceModelConfig {
            network,
            input_channels,
            output,
            num_classes: self.conditional.then_some(classes),
            vector_dim: None,
            covariates: None,
            dropout: self.dropout,
        };
        config.validate().map_err(anyhow::Error::msg)?;
        Ok(config)
    }
}
