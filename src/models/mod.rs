//! The networks, one file each, readable top to bottom.
//!
//! An image model maps images [batch, colours, height, width] of levels in 0..L (and, when
//! conditional, their classes) to logits [batch, L, colours, height, width]: the parameters
//! of p(x_{i,c} | x_<i, x_{i,<c}, class) for every pixel i and colour c.

pub mod auto_encoder;
pub mod causal_conv;
pub mod conditioning;
pub mod gated_pixelcnn;
pub mod options;
pub mod pixelcnn;
pub mod pixelcnn_pp;
pub mod rnn;
pub mod sequence;
pub mod window_mlp;

pub use auto_encoder::{AutoEncoder, AutoEncoderConfig};
pub use conditioning::{Condition, ConditionWidth};
pub use gated_pixelcnn::{GatedPixelCnn, GatedPixelCnnConfig};
pub use options::{ImageFormat, ImageModelOptions, SequenceModelOptions};
pub use pixelcnn::{PixelCnn, PixelCnnConfig};
pub use pixelcnn_pp::{PixelCnnPp, PixelCnnPpConfig};
pub use sequence::{SequenceModel, SequenceModelConfig, SequenceModelKind, SequenceNetwork};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// The settings of any image model; `kind` in `config.json` says which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ImageModelConfig {
    /// The Gated PixelCNN (vertical and horizontal stacks, no blind spot).
    GatedPixelcnn(GatedPixelCnnConfig),
    /// The PixelCNN of masked convolutions.
    Pixelcnn(PixelCnnConfig),
    /// The PixelCNN auto-encoder: an encoder to a code h and a Gated PixelCNN p(x | h).
    AutoEncoder(AutoEncoderConfig),
    /// PixelCNN++: two shifted streams over several resolutions, a logistic mixture per
    /// pixel.
    PixelcnnPp(PixelCnnPpConfig),
}

impl ImageModelConfig {
    /// Checks that the settings describe a model that can be built.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::GatedPixelcnn(c) => c.validate(),
            Self::Pixelcnn(c) => c.validate(),
            Self::AutoEncoder(c) => c.validate(),
            Self::PixelcnnPp(c) => c.validate(),
        }
    }

    /// Checks that the model can run on images of `height` × `width` (the PixelCNN++ halves
    /// them `resolutions − 1` times; the other models run at any size).
    pub fn check_image_size(&self, height: usize, width: usize) -> Result<(), String> {
        match self {
            Self::PixelcnnPp(c) => c.check_image_size(height, width),
            _ => Ok(()),
        }
    }

    /// A short name of the architecture (also written into the weights' metadata).
    pub fn name(&self) -> &'static str {
        match self {
            Self::GatedPixelcnn(_) => "gated-pixelcnn",
            Self::Pixelcnn(_) => "pixelcnn",
            Self::AutoEncoder(_) => "gated-pixelcnn-ae",
            Self::PixelcnnPp(_) => "pixelcnn-pp",
        }
    }

    /// A one-line description of the architecture and its size.
    pub fn describe(&self) -> String {
        match self {
            Self::GatedPixelcnn(c) => format!(
                "Gated PixelCNN ({} channels, {} layers)",
                c.channels, c.layers
            ),
            Self::Pixelcnn(c) => format!(
                "PixelCNN ({} channels, {} residual blocks, {} colours)",
                c.channels, c.blocks, c.colours
            ),
            Self::AutoEncoder(c) => format!(
                "PixelCNN auto-encoder (code of {}, Gated PixelCNN decoder of {} channels, {} layers)",
                c.latent, c.decoder.channels, c.decoder.layers
            ),
            Self::PixelcnnPp(c) => format!(
                "PixelCNN++ ({} channels, {} resolutions, {} blocks per resolution, mixture of {})",
                c.channels, c.resolutions, c.blocks, c.mixture
            ),
        }
    }

    /// Number of levels per channel.
    pub fn levels(&self) -> usize {
        match self {
            Self::GatedPixelcnn(c) => c.levels,
            Self::Pixelcnn(c) => c.levels,
            Self::AutoEncoder(c) => c.decoder.levels,
            Self::PixelcnnPp(c) => c.levels,
        }
    }

    /// Number of classes of a class-conditional model.
    pub fn num_classes(&self) -> Option<usize> {
        match self.condition() {
            Some(ConditionWidth::Classes(k)) => Some(k),
            _ => None,
        }
    }

    /// What a conditional model is conditioned on (`None` for p(x), and for the
    /// auto-encoder, whose code comes from the image itself).
    pub fn condition(&self) -> Option<ConditionWidth> {
        match self {
            Self::GatedPixelcnn(c) => c.condition(),
            Self::Pixelcnn(c) => c.condition(),
            Self::PixelcnnPp(c) => c.condition(),
            Self::AutoEncoder(_) => None,
        }
    }

    /// The size of the auto-encoder's code (`None` for the other models).
    pub fn latent(&self) -> Option<usize> {
        match self {
            Self::AutoEncoder(c) => Some(c.latent),
            _ => None,
        }
    }

    /// Colour channels per pixel the model generates.
    pub fn colours(&self) -> usize {
        match self {
            Self::GatedPixelcnn(c) => c.colours,
            Self::Pixelcnn(c) => c.colours,
            Self::AutoEncoder(c) => c.decoder.colours,
            Self::PixelcnnPp(c) => c.colours,
        }
    }

    /// Builds the model with freshly initialised weights (drawn lazily from the device's
    /// generator).
    pub fn init(&self, device: &Device) -> ImageModel {
        match self {
            Self::GatedPixelcnn(c) => ImageModel::Gated(c.init(device)),
            Self::Pixelcnn(c) => ImageModel::PixelCnn(c.init(device)),
            Self::AutoEncoder(c) => ImageModel::AutoEncoder(c.init(device)),
            Self::PixelcnnPp(c) => ImageModel::PixelCnnPp(c.init(device)),
        }
    }

    /// Builds the model with initial weights fixed by `seed`.
    pub fn init_seeded(&self, seed: u64, device: &Device) -> ImageModel {
        crate::rng::with_device_seed(device, seed, || {
            let model = self.init(device);
            model.visit(&mut InitialiseNow);
            model
        })
    }
}

impl From<GatedPixelCnnConfig> for ImageModelConfig {
    fn from(config: GatedPixelCnnConfig) -> Self {
        ImageModelConfig::GatedPixelcnn(config)
    }
}

impl From<PixelCnnPpConfig> for ImageModelConfig {
    fn from(config: PixelCnnPpConfig) -> Self {
        ImageModelConfig::PixelcnnPp(config)
    }
}

impl From<PixelCnnConfig> for ImageModelConfig {
    fn from(config: PixelCnnConfig) -> Self {
        ImageModelConfig::Pixelcnn(config)
    }
}

/// Highest frequency, in half-periods over the whole range of levels, of the initial level
/// embedding (see [`level_embedding`]).
const LEVEL_EMBEDDING_MAX_HALF_PERIODS: f64 = 8.0;

/// A learned vector of `dim` values for each of `levels` ordered levels, initialised so
/// that near levels start with near vectors: component j of level l is
/// √2 · cos(π f_j · l/(L−1) + φ_j), with f_j ~ U(0, 8) and φ_j ~ U(0, 2π) drawn once.
///
/// Each component still has unit mean square (as with the usual N(0, 1) initialisation),
/// but the network does not have to learn from scratch that level 200 looks like level 201:
/// with 256 levels, a randomly initialised embedding sees each level too rarely in one epoch
/// to learn that. The vectors are free parameters from then on.
pub(crate) fn level_embedding(levels: usize, dim: usize, device: &Device) -> burn::nn::Embedding {
    use burn::tensor::Distribution;
    let mut embedding = burn::nn::EmbeddingConfig::new(levels, dim).init(device);
    let max_frequency = std::f64::consts::PI * LEVEL_EMBEDDING_MAX_HALF_PERIODS;
    let frequency =
        Tensor::<2>::random([1, dim], Distribution::Uniform(0.0, max_frequency), device);
    let phase = Tensor::<2>::random(
        [1, dim],
        Distribution::Uniform(0.0, std::f64::consts::TAU),
        device,
    );
    let position = Tensor::<1, Int>::arange(0..levels as i64, device)
        .float()
        .div_scalar((levels - 1).max(1) as f64)
        .reshape([levels, 1]);
    let weight = (position * frequency + phase).cos() * std::f64::consts::SQRT_2;
    embedding.weight = burn::module::Param::from_tensor(weight);
    embedding
}

/// Embeds images [batch, colours, height, width] of levels as [batch, colours·e, height,
/// width]: each value replaced by its learned vector of e values, the channels in colour
/// blocks (R's e channels, then G's, then B's), as the colour masks expect.
///
/// On the CPU the vectors are gathered by index; elsewhere (GPU devices) the lookup is the
/// product one_hot(x) · table, whose gradient for the table, one_hot(x)ᵀ · g, is a matrix
/// product too, where a scatter of the gradient rows by index runs serially per table column
/// on burn's GPU kernels.
pub(crate) fn embed_colour_blocks(embedding: &burn::nn::Embedding, x: Tensor<4, Int>) -> Tensor<4> {
    let [batch, colours, height, width] = x.dims();
    let [levels, e] = embedding.weight.dims();
    let values = batch * colours * height * width;
    let vectors = if crate::fused::is_flex(&x.device()) {
        embedding.forward(x.reshape([batch, colours * height * width])) // [batch, c·pixels, e]
    } else {
        let one_hot: Tensor<2> = x.reshape([values]).one_hot::<2>(levels).float();
        one_hot
            .matmul(embedding.weight.val())
            .reshape([batch, values / batch, e])
    };
    vectors
        .reshape([batch, colours, height * width, e])
        .swap_dims(2, 3) // [batch, c, e, pixels]
        .reshape([batch, colours * e, height, width])
}

/// Reads every parameter once, which makes lazily initialised parameters draw their values.
pub(crate) struct InitialiseNow;

impl burn::module::ModuleVisitor for InitialiseNow {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Any image model. (Held once per run: the size difference of the variants costs nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ImageModel {
    /// A Gated PixelCNN.
    Gated(GatedPixelCnn),
    /// A PixelCNN.
    PixelCnn(PixelCnn),
    /// A PixelCNN auto-encoder.
    AutoEncoder(AutoEncoder),
    /// A PixelCNN++.
    PixelCnnPp(PixelCnnPp),
}

impl ImageModel {
    /// Logits [batch, levels, colours, height, width] for images [batch, colours, height, width]
    /// and, for a conditional model, their descriptions h.
    pub fn forward(&self, x: Tensor<4, Int>, condition: Option<Condition>) -> Tensor<5> {
        match self {
            Self::Gated(m) => m.forward(x, condition),
            Self::PixelCnn(m) => m.forward(x, condition),
            Self::AutoEncoder(m) => m.forward(x, condition),
            Self::PixelCnnPp(m) => m.forward(x, condition),
        }
    }

    /// log p(x | h) of each image of `x` [batch, colours, height, width], in nats:
    /// the sum over its pixels and colours of the log-probability of the observed level.
    pub fn log_prob(&self, x: Tensor<4, Int>, condition: Option<Condition>) -> Tensor<1> {
        let condition = if self.is_conditional() {
            condition
        } else {
            None
        };
        match self {
            // The mixture scores whole pixels without forming the L levels.
            Self::PixelCnnPp(m) => m.log_prob(x, condition),
            // The head and the likelihood in one operation, without the logits.
            Self::Gated(m) => m.log_prob(x, condition),
            Self::PixelCnn(m) => m.log_prob(x, condition),
            Self::AutoEncoder(m) => m.log_prob(x, condition),
        }
    }

    /// The input representation the network's first layer reads (see each model's `embed`).
    pub fn embed(&self, x: Tensor<4, Int>) -> Tensor<4> {
        match self {
            Self::Gated(m) => m.embed(x),
            Self::PixelCnn(m) => m.embed(x),
            Self::AutoEncoder(m) => m.decoder.embed(x),
            Self::PixelCnnPp(m) => m.embed(x),
        }
    }

    /// The logits from an embedded input; differentiable with respect to it.
    pub fn forward_embedded(&self, input: Tensor<4>, condition: Option<Condition>) -> Tensor<5> {
        match self {
            Self::Gated(m) => m.forward_embedded(input, condition),
            Self::PixelCnn(m) => m.forward_embedded(input, condition),
            Self::PixelCnnPp(m) => m.forward_embedded(input, condition),
            // The decoder given a code (zeros when none is given: the dependencies on x are
            // those of the decoder, whatever the code).
            Self::AutoEncoder(m) => {
                let code = match condition {
                    Some(c @ Condition::Vectors(_)) => c,
                    _ => {
                        let [batch, ..] = input.dims();
                        let latent = m.encoder_latent();
                        Condition::Vectors(Tensor::zeros([batch, latent], &input.device()))
                    }
                };
                m.decoder.forward_embedded(input, Some(code))
            }
        }
    }

    /// Number of levels L per channel.
    pub fn levels(&self) -> usize {
        match self {
            Self::Gated(m) => m.levels(),
            Self::PixelCnn(m) => m.levels(),
            Self::AutoEncoder(m) => m.decoder.levels(),
            Self::PixelCnnPp(m) => m.levels(),
        }
    }

    /// Colour channels per pixel.
    pub fn colours(&self) -> usize {
        match self {
            Self::Gated(m) => m.colours(),
            Self::PixelCnn(m) => m.colours(),
            Self::AutoEncoder(m) => m.decoder.colours(),
            Self::PixelCnnPp(m) => m.colours(),
        }
    }

    /// Whether the model is conditional on a given h (classes or vectors); the auto-encoder
    /// is not (its code comes from the image).
    pub fn is_conditional(&self) -> bool {
        match self {
            Self::Gated(m) => m.is_conditional(),
            Self::PixelCnn(m) => m.is_conditional(),
            Self::PixelCnnPp(m) => m.is_conditional(),
            Self::AutoEncoder(_) => false,
        }
    }

    /// Whether the model is a PixelCNN auto-encoder.
    pub fn is_auto_encoder(&self) -> bool {
        matches!(self, Self::AutoEncoder(_))
    }

    /// Whether drawing from the model needs an h per image: a conditional model, or the
    /// auto-encoder (which draws given codes).
    pub fn reads_vectors_when_sampling(&self) -> bool {
        self.is_conditional() || self.is_auto_encoder()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_embedding_starts_smooth_in_the_level_with_unit_mean_square() {
        let device = Device::flex();
        let (levels, dim) = (256, 64);
        let embedding =
            crate::rng::with_device_seed(&device, 1, || level_embedding(levels, dim, &device));
        let w: Vec<f32> = embedding
            .weight
            .val()
            .into_data()
            .convert::<f32>()
            .iter::<f32>()
            .collect();
        let row = |l: usize| &w[l * dim..(l + 1) * dim];
        let distance = |a: usize, b: usize| -> f32 {
            row(a)
                .iter()
                .zip(row(b))
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f32>()
                .sqrt()
        };
        let near: f32 = (0..levels - 1).map(|l| distance(l, l + 1)).sum::<f32>() / 255.0;
        let far: f32 = (0..levels / 2).map(|l| distance(l, l + 128)).sum::<f32>() / 128.0;
        // Neighbours differ by a phase step of at most 8π/255: about 0.06 of a unit vector's
        // length; levels half the range apart are about as far as independent vectors.
        assert!(
            near < 0.1 * far,
            "neighbours {near}, half the range apart {far}"
        );
        let mean_square = w.iter().map(|x| x * x).sum::<f32>() / w.len() as f32;
        assert!((mean_square - 1.0).abs() < 0.3, "mean square {mean_square}");
        // Distinct levels stay distinct.
        assert!((0..levels - 1).all(|l| distance(l, l + 1) > 0.0));
    }
}
