//! The PixelCNN (van den Oord et al. 2016, "Pixel Recurrent Neural Networks",
//! arXiv:1601.06759, section 3.5), with colour channels in the order R → G → B.
//!
//! ```text
//! x ─embed─► 7x7 conv, mask A ─► [residual block] x n ─► ReLU ─► 1x1 ─► ReLU ─► 1x1 ─► C·L logits
//!
//! residual block (2h channels):  x + 1x1↑( ReLU( 3x3 mask B( ReLU( 1x1↓( ReLU(x) ))))))
//!                                        h → 2h           h → h          2h → h
//! ```
//!
//! Every convolution is masked ([`crate::layers::masked_conv`]), so the logits of channel c
//! at pixel i depend on the pixels before i and on channels < c of pixel i only. The masks
//! leave a **blind spot**: stacking k x k masked convolutions grows the receptive field as a
//! wedge that never reaches the pixels above and to the right beyond the first layer's
//! reach. `argen receptive-field` draws it; the Gated PixelCNN has none.

use burn::nn::Embedding;
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::conditioning::{Condition, ConditionMap, ConditionWidth};

use crate::layers::{MaskType, MaskedConv2d};

/// Settings of a PixelCNN; saved in `config.json`.
#[derive(Config, Debug, PartialEq)]
pub struct PixelCnnConfig {
    /// Number of discrete values per channel.
    pub levels: usize,
    /// Colour channels per pixel (1 grey, 3 RGB).
    #[config(default = 1)]
    pub colours: usize,
    /// Channels of the residual stream (2h in the paper); divisible by `colours`.
    #[config(default = 64)]
    pub channels: usize,
    /// Number of residual blocks.
    #[config(default = 5)]
    pub blocks: usize,
    /// Kernel size of the first (mask A) convolution (odd).
    #[config(default = 7)]
    pub first_kernel: usize,
    /// Kernel size of the blocks' mask-B convolutions (odd).
    #[config(default = 3)]
    pub kernel: usize,
    /// Width of the hidden 1x1 layer of the output head; divisible by `colours`.
    #[config(default = 256)]
    pub head: usize,
    /// Number of classes for p(x | class); `None` for p(x).
    #[config(default = "None")]
    pub num_classes: Option<usize>,
    /// Dimension D of the conditioning vectors of p(x | h); `None` for p(x) or classes.
    #[config(default = "None")]
    pub vector_dim: Option<usize>,
}

impl PixelCnnConfig {
    /// Checks that the settings describe a model that can be built.
    pub fn validate(&self) -> Result<(), String> {
        if self.levels < 2 {
            return Err(format!("levels must be at least 2, got {}", self.levels));
        }
        if self.colours == 0 {
            return Err("an image needs at least one colour channel".into());
        }
        let c = self.colours;
        if self.channels < 2 * c
            || !self.channels.is_multiple_of(2 * c)
            || !self.head.is_multiple_of(c)
            || self.head == 0
        {
            return Err(format!(
                "channels ({}) must be a positive multiple of 2 x colours ({}) and head ({}) of colours",
                self.channels,
                2 * c,
                self.head
            ));
        }
        for (name, k) in [("first kernel", self.first_kernel), ("kernel", self.kernel)] {
            if k % 2 == 0 {
                return Err(format!(
                    "the {name} size must be odd (1, 3, 5, ...), got {k}"
                ));
            }
        }
        ConditionWidth::validate_fields(self.num_classes, self.vector_dim)?;
        if self.condition().is_some() && self.blocks == 0 {
            return Err("a conditional PixelCNN needs at least one residual block".into());
        }
        Ok(())
    }

    /// What the model is conditioned on (`None` for p(x)).
    pub fn condition(&self) -> Option<ConditionWidth> {
        ConditionWidth::from_fields(self.num_classes, self.vector_dim)
    }

    /// Builds a model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> PixelCnn {
        let (c, f) = (self.colours, self.channels);
        let embed_dim = f / c;
        let blocks = (0..self.blocks)
            .map(|_| ResidualBlock::new(f, self.kernel, c, self.condition(), device))
            .collect();
        PixelCnn {
            embedding: super::level_embedding(self.levels, embed_dim, device),
            input: MaskedConv2d::new(c * embed_dim, f, self.first_kernel, c, MaskType::A, device),
            blocks,
            head_hidden: MaskedConv2d::new(f, self.head, 1, c, MaskType::B, device),
            head_out: MaskedConv2d::new(self.head, c * self.levels, 1, c, MaskType::B, device),
            levels: self.levels,
            colours: c,
        }
    }
}

/// The paper's residual block: 1x1 down to h, k x k mask B, 1x1 up to 2h, with ReLUs.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    down: MaskedConv2d,
    masked: MaskedConv2d,
    up: MaskedConv2d,
    /// Vᵀh added to the masked convolution's output (p(x | h)).
    condition: Option<ConditionMap>,
}

impl ResidualBlock {
    fn new(
        channels: usize,
        kernel: usize,
        colours: usize,
        condition: Option<ConditionWidth>,
        device: &Device,
    ) -> Self {
        let h = channels / 2;
        Self {
            down: MaskedConv2d::new(channels, h, 1, colours, MaskType::B, device),
            masked: MaskedConv2d::new(h, h, kernel, colours, MaskType::B, device),
            up: MaskedConv2d::new(h, channels, 1, colours, MaskType::B, device),
            condition: condition.map(|w| ConditionMap::new(w, h, device)),
        }
    }

    fn forward(&self, x: Tensor<4>, condition: Option<&Condition>) -> Tensor<4> {
        let mut y = self
            .masked
            .forward(relu(self.down.forward(relu(x.clone()))));
        if let (Some(map), Some(condition)) = (&self.condition, condition) {
            y = y + map.forward_image(condition);
        }
        x + self.up.forward(relu(y))
    }
}

/// The PixelCNN: mask-A input convolution, residual blocks, output head.
#[derive(Module, Debug)]
pub struct PixelCnn {
    embedding: Embedding,
    input: MaskedConv2d,
    blocks: Vec<ResidualBlock>,
    head_hidden: MaskedConv2d,
    head_out: MaskedConv2d,
    levels: usize,
    colours: usize,
}

impl PixelCnn {
    /// Logits [batch, levels, colours, height, width] of p(x_{i,c} | x_<i, x_{i,<c}, h)
    /// for images `x` [batch, colours, height, width] of levels in 0..L.
    pub fn forward(&self, x: Tensor<4, Int>, condition: Option<Condition>) -> Tensor<5> {
        self.forward_embedded(self.embed(x), condition)
    }

    /// The input representation [batch, colours·e, height, width]: each channel's level
    /// replaced by a learned vector of e = channels / colours values, colour blocks in order.
    pub fn embed(&self, x: Tensor<4, Int>) -> Tensor<4> {
        super::embed_colour_blocks(&self.embedding, x)
    }

    /// The logits from an embedded input (see [`Self::embed`]); differentiable with respect
    /// to that input.
    pub fn forward_embedded(&self, input: Tensor<4>, condition: Option<Condition>) -> Tensor<5> {
        let [batch, _, height, width] = input.dims();
        let x = self.features(input, condition);
        let logits = self
            .head_out
            .forward(relu(self.head_hidden.forward(relu(x))));
        // Output channel c·L + l is level l of colour c.
        logits
            .reshape([batch, self.colours, self.levels, height, width])
            .swap_dims(1, 2)
    }

    /// log p(x | h) of each image of `x` [batch, colours, height, width], in nats: the
    /// residual blocks' features, then the output head and the categorical log-likelihood as
    /// one operation ([`crate::fused::head_log_prob`]), which never forms the logits.
    pub fn log_prob(&self, x: Tensor<4, Int>, condition: Option<Condition>) -> Tensor<1> {
        let h = self.features(self.embed(x.clone()), condition);
        let (w1, b1) = self.head_hidden.pointwise_parameters();
        let (w2, b2) = self.head_out.pointwise_parameters();
        crate::fused::head_log_prob(h, w1, b1, w2, b2, x)
    }

    /// The last residual block's features [batch, channels, height, width], which the
    /// output head reads.
    fn features(&self, input: Tensor<4>, condition: Option<Condition>) -> Tensor<4> {
        let mut x = self.input.forward(input);
        for block in &self.blocks {
            x = block.forward(x, condition.as_ref());
        }
        x
    }

    /// Number of levels L per channel.
    pub fn levels(&self) -> usize {
        self.levels
    }

    /// Colour channels per pixel.
    pub fn colours(&self) -> usize {
        self.colours
    }

    /// Whether the model is conditional (on classes or vectors).
    pub fn is_conditional(&self) -> bool {
        self.blocks.first().is_some_and(|b| b.condition.is_some())
    }
}
