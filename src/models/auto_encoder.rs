//! The PixelCNN auto-encoder (van den Oord et al. 2016, "Conditional Image Generation with
//! PixelCNN Decoders", section 2.4 and 3.4): a convolutional encoder maps an image x to a
//! code h = e(x) of D numbers, and a conditional Gated PixelCNN decodes
//! p(x | h) = Π_i p(x_i | x_<i, h). Both are trained together on −log p(x | e(x)).
//!
//! ```text
//! x ─► levels/(L−1) ─► 3x3 conv ─► ReLU ─► 3x3 conv /2 ─► ReLU ─► 3x3 conv /2 ─► ReLU ─► linear ─► h (D)
//! x ───────────────────────────────────────────────────────────────► Gated PixelCNN decoder p(x | h)
//! ```
//!
//! Its likelihood is **conditional**: −log p(x | e(x)) is not −log p(x) (the code carries
//! information about x that a likelihood of x alone would have to pay for), and `argen eval`
//! says so. Sampling draws images given codes (of chosen images, or along a line between two
//! codes); given a code, the decoder is an ordinary conditional Gated PixelCNN and never
//! reads the image it draws.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::conditioning::Condition;
use super::{GatedPixelCnn, GatedPixelCnnConfig};

/// Settings of the PixelCNN auto-encoder; saved in `config.json`.
#[derive(Config, Debug, PartialEq)]
pub struct AutoEncoderConfig {
    /// The decoder: a Gated PixelCNN conditioned on vectors of `latent` values
    /// (`vector_dim` = `latent`).
    pub decoder: GatedPixelCnnConfig,
    /// Dimension D of the code h.
    pub latent: usize,
    /// Channels of the encoder's first convolution (the later ones have twice as many).
    #[config(default = 32)]
    pub encoder_channels: usize,
    /// Image height the encoder reads.
    pub height: usize,
    /// Image width the encoder reads.
    pub width: usize,
}

impl AutoEncoderConfig {
    /// The encoder's first channels when none are asked for.
    pub const DEFAULT_ENCODER_CHANNELS: usize = 32;
    /// Feature planes of the decoder's conditioning map s = m(h) when none are asked for.
    pub const DEFAULT_MAP_PLANES: usize = 8;

    /// Checks that the settings describe a model that can be built.
    pub fn validate(&self) -> Result<(), String> {
        if self.latent == 0 || self.latent > super::conditioning::MAX_CONDITION_DIM {
            return Err(format!(
                "the code needs 1..={} dimensions, got {}",
                super::conditioning::MAX_CONDITION_DIM,
                self.latent
            ));
        }
        if self.decoder.vector_dim != Some(self.latent) || self.decoder.num_classes.is_some() {
            return Err("the decoder must be conditioned on vectors of the code's size".into());
        }
        if self.encoder_channels == 0 || self.height == 0 || self.width == 0 {
            return Err("the encoder needs at least one channel and one pixel".into());
        }
        self.decoder.validate()
    }

    /// Builds the model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> AutoEncoder {
        let (c, colours) = (self.encoder_channels, self.decoder.colours);
        let conv = |c_in, c_out, stride| {
            Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        // Two stride-2 convolutions: each side becomes ⌈side / 2⌉, twice.
        let (h, w) = (
            self.height.div_ceil(2).div_ceil(2),
            self.width.div_ceil(2).div_ceil(2),
        );
        AutoEncoder {
            encoder: Encoder {
                first: conv(colours, c, 1),
                down1: conv(c, 2 * c, 2),
                down2: conv(2 * c, 2 * c, 2),
                code: LinearConfig::new(2 * c * h * w, self.latent).init(device),
                levels: self.decoder.levels,
            },
            decoder: self.decoder.init(device),
        }
    }
}

/// The encoder e: image → code h.
#[derive(Module, Debug)]
pub struct Encoder {
    first: Conv2d,
    down1: Conv2d,
    down2: Conv2d,
    code: Linear,
    levels: usize,
}

impl Encoder {
    /// The codes [batch, D] of images [batch, colours, height, width] of levels.
    pub fn forward(&self, x: Tensor<4, Int>) -> Tensor<2> {
        let scale = (self.levels - 1).max(1) as f64;
        let x = x.float().div_scalar(scale);
        let y = relu(self.first.forward(x));
        let y = relu(self.down1.forward(y));
        let y = relu(self.down2.forward(y));
        let [batch, c, h, w] = y.dims();
        self.code.forward(y.reshape([batch, c * h * w]))
    }
}

/// The PixelCNN auto-encoder: an [`Encoder`] and a Gated PixelCNN decoder.
#[derive(Module, Debug)]
pub struct AutoEncoder {
    /// x → h.
    pub encoder: Encoder,
    /// p(x | h).
    pub decoder: GatedPixelCnn,
}

impl AutoEncoder {
    /// Dimension D of the code.
    pub fn encoder_latent(&self) -> usize {
        self.encoder.code.weight.dims()[1]
    }

    /// Logits of p(x | h) for images `x` [batch, colours, height, width]: h is the given code
    /// (`Condition::Vectors`, sampling), or e(x) when none is given (training, evaluation).
    pub fn forward(&self, x: Tensor<4, Int>, code: Option<Condition>) -> Tensor<5> {
        let code = self.code_of(&x, code);
        self.decoder.forward(x, Some(code))
    }

    /// log p(x | h) of each image of `x` in nats, h its code as in [`Self::forward`]; the
    /// decoder's head and likelihood as one operation (see [`GatedPixelCnn::log_prob`]).
    pub fn log_prob(&self, x: Tensor<4, Int>, code: Option<Condition>) -> Tensor<1> {
        let code = self.code_of(&x, code);
        self.decoder.log_prob(x, Some(code))
    }

    /// The code given, or the encoder's code of `x`.
    fn code_of(&self, x: &Tensor<4, Int>, code: Option<Condition>) -> Condition {
        match code {
            Some(c @ Condition::Vectors(_)) => c,
            _ => Condition::Vectors(self.encoder.forward(x.clone())),
        }
    }
}
