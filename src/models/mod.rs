//! The networks, one file each, readable top to bottom.
//!
//! An image model maps images [batch, colours, height, width] of levels in 0..L (and, when
//! conditional, their classes) to logits [batch, L, colours, height, width]: the parameters
//! of p(x_{i,c} | x_<i, x_{i,<c}, class) for every pixel i and colour c.

pub mod causal_conv;
pub mod gated_pixelcnn;
pub mod pixelcnn;
pub mod rnn;
pub mod sequence;
pub mod window_mlp;

pub use gated_pixelcnn::{GatedPixelCnn, GatedPixelCnnConfig};
pub use pixelcnn::{PixelCnn, PixelCnnConfig};
pub use sequence::{SequenceModel, SequenceModelConfig, SequenceModelKind};

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
}

impl ImageModelConfig {
    /// Checks that the settings describe a model that can be built.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::GatedPixelcnn(c) => c.validate(),
            Self::Pixelcnn(c) => c.validate(),
        }
    }

    /// A short name of the architecture (also written into the weights' metadata).
    pub fn name(&self) -> &'static str {
        match self {
            Self::GatedPixelcnn(_) => "gated-pixelcnn",
            Self::Pixelcnn(_) => "pixelcnn",
        }
    }

    /// Number of levels per channel.
    pub fn levels(&self) -> usize {
        match self {
            Self::GatedPixelcnn(c) => c.levels,
            Self::Pixelcnn(c) => c.levels,
        }
    }

    /// Number of classes of a conditional model.
    pub fn num_classes(&self) -> Option<usize> {
        match self {
            Self::GatedPixelcnn(c) => c.num_classes,
            Self::Pixelcnn(c) => c.num_classes,
        }
    }

    /// Colour channels per pixel the model generates.
    pub fn colours(&self) -> usize {
        match self {
            Self::GatedPixelcnn(c) => c.colours,
            Self::Pixelcnn(c) => c.colours,
        }
    }

    /// Builds the model with freshly initialised weights (drawn lazily from the device's
    /// generator).
    pub fn init(&self, device: &Device) -> ImageModel {
        match self {
            Self::GatedPixelcnn(c) => ImageModel::Gated(c.init(device)),
            Self::Pixelcnn(c) => ImageModel::PixelCnn(c.init(device)),
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

/// Embeds images [batch, colours, height, width] of levels as [batch, colours·e, height,
/// width]: each value replaced by its learned vector of e values, the channels in colour
/// blocks (R's e channels, then G's, then B's), as the colour masks expect.
pub(crate) fn embed_colour_blocks(embedding: &burn::nn::Embedding, x: Tensor<4, Int>) -> Tensor<4> {
    let [batch, colours, height, width] = x.dims();
    let e = embedding.weight.dims()[1];
    embedding
        .forward(x.reshape([batch, colours * height * width])) // [batch, c·pixels, e]
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
}

impl ImageModel {
    /// Logits [batch, levels, colours, height, width] for images [batch, colours, height, width].
    pub fn forward(&self, x: Tensor<4, Int>, labels: Option<Tensor<1, Int>>) -> Tensor<5> {
        match self {
            Self::Gated(m) => m.forward(x, labels),
            Self::PixelCnn(m) => m.forward(x, labels),
        }
    }

    /// The input representation the network's first layer reads (see each model's `embed`).
    pub fn embed(&self, x: Tensor<4, Int>) -> Tensor<4> {
        match self {
            Self::Gated(m) => m.embed(x),
            Self::PixelCnn(m) => m.embed(x),
        }
    }

    /// The logits from an embedded input; differentiable with respect to it.
    pub fn forward_embedded(&self, input: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<5> {
        match self {
            Self::Gated(m) => m.forward_embedded(input, labels),
            Self::PixelCnn(m) => m.forward_embedded(input, labels),
        }
    }

    /// Number of levels L per channel.
    pub fn levels(&self) -> usize {
        match self {
            Self::Gated(m) => m.levels(),
            Self::PixelCnn(m) => m.levels(),
        }
    }

    /// Colour channels per pixel.
    pub fn colours(&self) -> usize {
        match self {
            Self::Gated(m) => m.colours(),
            Self::PixelCnn(m) => m.colours(),
        }
    }

    /// Whether the model is class-conditional.
    pub fn is_conditional(&self) -> bool {
        match self {
            Self::Gated(m) => m.is_conditional(),
            Self::PixelCnn(m) => m.is_conditional(),
        }
    }
}
