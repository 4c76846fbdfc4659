//! The Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with
//! PixelCNN Decoders", arXiv:1606.05328).
//!
//! The model gives, for every pixel x_i of an image (raster order), the distribution
//! p(x_i | x_<i, h) over L grey levels, in one parallel pass:
//!
//! ```text
//! x ──embed──┬─► vertical stack   (rows strictly above)      v_1 … v_n
//!            └─► horizontal stack (same row, to the left) ◄── link from v_l
//!                                  h_n ─► ReLU ─► 1x1 ─► ReLU ─► 1x1 ─► L logits per pixel
//! ```
//!
//! Each layer computes, for both stacks, a gated activation
//! `tanh(W_f * x + V_f h) ⊙ σ(W_g * x + V_g h)`. The vertical stack sees a ⌈k/2⌉ x k window
//! of the rows above; the horizontal stack sees a 1 x ⌈k/2⌉ window of the current row to the
//! left, plus the vertical stack's features (a 1x1 link), and keeps a residual connection.
//! In the first layer both stacks exclude the current pixel (the role of "mask A"); the
//! union of the two receptive fields then covers every pixel above and to the left, so
//! there is no blind spot. See [`crate::layers::shifted_conv`] for the exact windows.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use crate::layers::{HorizontalConv, VerticalConv};

/// Settings of a Gated PixelCNN; saved as `config.json` next to the weights, enough to
/// rebuild the model.
#[derive(Config, Debug, PartialEq)]
pub struct GatedPixelCnnConfig {
    /// Number of discrete values per pixel (17 for the 8x8 digits, 256 for 8-bit images).
    pub levels: usize,
    /// Feature maps in each stack (p in the paper).
    #[config(default = 32)]
    pub channels: usize,
    /// Number of gated layers.
    #[config(default = 5)]
    pub layers: usize,
    /// Kernel size k of the first layer (odd).
    #[config(default = 7)]
    pub first_kernel: usize,
    /// Kernel size k of the later layers (odd).
    #[config(default = 3)]
    pub kernel: usize,
    /// Width of the hidden 1x1 layer of the output head.
    #[config(default = 256)]
    pub head: usize,
    /// Number of classes for the class-conditional model p(x | class); `None` for p(x).
    #[config(default = "None")]
    pub num_classes: Option<usize>,
    /// Dropout probability on the residual branch of the horizontal stack, during training
    /// only (0 turns it off).
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl GatedPixelCnnConfig {
    /// Checks that the settings describe a model that can be built.
    pub fn validate(&self) -> Result<(), String> {
        if self.levels < 2 {
            return Err(format!("levels must be at least 2, got {}", self.levels));
        }
        if self.channels == 0 || self.layers == 0 || self.head == 0 {
            return Err("channels, layers and head must all be at least 1".into());
        }
        for (name, k) in [("first kernel", self.first_kernel), ("kernel", self.kernel)] {
            if k % 2 == 0 {
                return Err(format!(
                    "the {name} size must be odd (1, 3, 5, ...), got {k}"
                ));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        if self.num_classes == Some(0) {
            return Err("a conditional model needs at least one class".into());
        }
        Ok(())
    }

    /// Builds a model whose initial weights are fixed by `seed` (the same seed gives the same
    /// weights, whatever other threads do).
    pub fn init_seeded(&self, seed: u64, device: &Device) -> GatedPixelCnn {
        crate::rng::with_device_seed(device, seed, || {
            let model = self.init(device);
            // Parameters are initialised lazily: draw them now, under the seed.
            model.visit(&mut super::InitialiseNow);
            model
        })
    }

    /// Builds a model with freshly initialised weights on `device` (drawn lazily from the
    /// device's generator; see [`Self::init_seeded`] for reproducible weights).
    pub fn init(&self, device: &Device) -> GatedPixelCnn {
        let p = self.channels;
        let layers = (0..self.layers)
            .map(|i| {
                let first = i == 0;
                let kernel = if first {
                    self.first_kernel
                } else {
                    self.kernel
                };
                GatedLayer::new(p, kernel, first, self.num_classes, self.dropout, device)
            })
            .collect();
        let conv1x1 = |c_in, c_out| Conv2dConfig::new([c_in, c_out], [1, 1]).init(device);
        GatedPixelCnn {
            embedding: EmbeddingConfig::new(self.levels, p).init(device),
            layers,
            head_hidden: conv1x1(p, self.head),
            head_out: conv1x1(self.head, self.levels),
            levels: self.levels,
        }
    }
}

/// tanh(a) ⊙ σ(b), where a and b are the two halves of `x` along the channel axis.
pub(crate) fn gate(x: Tensor<4>) -> Tensor<4> {
    let [a, b] = x.chunk(2, 1).try_into().expect("two halves");
    a.tanh() * sigmoid(b)
}

/// One layer of both stacks.
#[derive(Module, Debug)]
pub struct GatedLayer {
    /// ⌈k/2⌉ x k convolution of the vertical stack, to 2p channels (filter and gate).
    pub(crate) vertical: VerticalConv,
    /// 1 x ⌈k/2⌉ convolution of the horizontal stack, to 2p channels.
    pub(crate) horizontal: HorizontalConv,
    /// 1x1 link from the vertical pre-activations into the horizontal stack.
    pub(crate) vertical_to_horizontal: Conv2d,
    /// 1x1 convolution after the horizontal gate, before the residual sum.
    pub(crate) horizontal_out: Conv2d,
    /// Dropout on the horizontal stack's gated features (training only).
    dropout: Dropout,
    /// Class embedding added to the vertical gate pre-activations (V h in the paper).
    pub(crate) class_vertical: Option<Embedding>,
    /// Class embedding added to the horizontal gate pre-activations.
    pub(crate) class_horizontal: Option<Embedding>,
    /// The first layer excludes the current pixel and has no residual connection.
    pub(crate) first: bool,
}

impl GatedLayer {
    fn new(
        p: usize,
        kernel: usize,
        first: bool,
        num_classes: Option<usize>,
        dropout: f64,
        device: &Device,
    ) -> Self {
        let class_embedding = || num_classes.map(|n| EmbeddingConfig::new(n, 2 * p).init(device));
        Self {
            vertical: VerticalConv::new(p, 2 * p, kernel, first, device),
            horizontal: HorizontalConv::new(p, 2 * p, kernel, first, device),
            vertical_to_horizontal: Conv2dConfig::new([2 * p, 2 * p], [1, 1]).init(device),
            horizontal_out: Conv2dConfig::new([p, p], [1, 1]).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            class_vertical: class_embedding(),
            class_horizontal: class_embedding(),
            first,
        }
    }

    /// Maps the two stacks (v, h) to the next layer's; `labels` are the classes of the batch.
    fn forward(
        &self,
        v: Tensor<4>,
        h: Tensor<4>,
        labels: Option<&Tensor<1, Int>>,
    ) -> (Tensor<4>, Tensor<4>) {
        let mut v_pre = self.vertical.forward(v);
        let mut h_pre =
            self.horizontal.forward(h.clone()) + self.vertical_to_horizontal.forward(v_pre.clone());
        if let Some(labels) = labels {
            v_pre = v_pre + class_bias(self.class_vertical.as_ref(), labels);
            h_pre = h_pre + class_bias(self.class_horizontal.as_ref(), labels);
        }
        let v_out = gate(v_pre);
        let h_gated = self
            .horizontal_out
            .forward(self.dropout.forward(gate(h_pre)));
        // The first layer's input includes the current pixel: no residual there.
        let h_out = if self.first { h_gated } else { h + h_gated };
        (v_out, h_out)
    }
}

/// The per-class vector of a class embedding, shaped [batch, 2p, 1, 1] to add to every pixel.
pub(crate) fn class_bias(embedding: Option<&Embedding>, labels: &Tensor<1, Int>) -> Tensor<4> {
    let embedding = embedding.expect("a conditional layer has class embeddings");
    let [batch] = labels.dims();
    let vectors = embedding.forward(labels.clone().reshape([batch, 1])); // [batch, 1, 2p]
    let width = vectors.dims()[2];
    vectors.reshape([batch, width, 1, 1])
}

/// The Gated PixelCNN: the two stacks of [`GatedLayer`]s and the output head.
#[derive(Module, Debug)]
pub struct GatedPixelCnn {
    /// A learned vector for each of the L grey levels: the input representation.
    pub(crate) embedding: Embedding,
    pub(crate) layers: Vec<GatedLayer>,
    pub(crate) head_hidden: Conv2d,
    pub(crate) head_out: Conv2d,
    levels: usize,
}

impl GatedPixelCnn {
    /// Logits of p(x_i | x_<i, class) for every pixel, shape [batch, levels, 1, height, width],
    /// from grey images `x` of shape [batch, 1, height, width] holding levels in 0..L.
    /// `labels` (shape [batch]) must be given exactly when the model is conditional.
    pub fn forward(&self, x: Tensor<4, Int>, labels: Option<Tensor<1, Int>>) -> Tensor<5> {
        self.forward_embedded(self.embed(x), labels)
    }

    /// The input representation: each pixel's level replaced by its learned vector,
    /// shape [batch, channels, height, width].
    pub fn embed(&self, x: Tensor<4, Int>) -> Tensor<4> {
        let [batch, _colours, height, width] = x.dims();
        let embedded = self
            .embedding
            .forward(x.reshape([batch, height * width])) // [batch, pixels, p]
            .swap_dims(1, 2);
        let p = embedded.dims()[1];
        embedded.reshape([batch, p, height, width])
    }

    /// The logits from an embedded input (see [`Self::embed`]); differentiable with respect
    /// to that input, which is how the tests and receptive-field maps measure dependencies.
    pub fn forward_embedded(&self, input: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<5> {
        let [batch, _, height, width] = input.dims();
        let (mut v, mut h) = (input.clone(), input);
        for layer in &self.layers {
            (v, h) = layer.forward(v, h, labels.as_ref());
        }
        self.head_out
            .forward(relu(self.head_hidden.forward(relu(h))))
            .reshape([batch, self.levels, 1, height, width])
    }

    /// Number of grey levels L the model's softmax ranges over.
    pub fn levels(&self) -> usize {
        self.levels
    }

    /// Whether the model is class-conditional.
    pub fn is_conditional(&self) -> bool {
        self.layers
            .first()
            .is_some_and(|l| l.class_vertical.is_some())
    }
}
