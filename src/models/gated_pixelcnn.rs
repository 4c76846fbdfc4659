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
use burn::tensor::activation::relu;

use crate::fused::conv2d;
use crate::layers::masked_conv::mask_values;
use crate::layers::{HorizontalConv, MaskType, VerticalConv};
use burn::tensor::ops::ConvOptions;

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
    /// Colour channels per pixel (1 grey, 3 RGB, generated R → G → B); `channels` and
    /// `head` must be multiples of it.
    #[config(default = 1)]
    pub colours: usize,
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
        let c = self.colours;
        if c == 0 || !self.channels.is_multiple_of(c) || !self.head.is_multiple_of(c) {
            return Err(format!(
                "channels ({}) and head ({}) must be multiples of the colour channels ({c})",
                self.channels, self.head
            ));
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
                GatedLayer::new(
                    p,
                    kernel,
                    first,
                    self.num_classes,
                    self.dropout,
                    self.colours,
                    device,
                )
            })
            .collect();
        let conv1x1 = |c_in, c_out| Conv2dConfig::new([c_in, c_out], [1, 1]).init(device);
        let c = self.colours;
        GatedPixelCnn {
            embedding: super::level_embedding(self.levels, p / c, device),
            layers,
            head_hidden: conv1x1(p, self.head),
            head_hidden_mask: colour_mask_1x1(p, self.head, c, device),
            head_out: conv1x1(self.head, c * self.levels),
            head_out_mask: colour_mask_1x1(self.head, c * self.levels, c, device),
            levels: self.levels,
            colours: c,
        }
    }
}

/// For colour images, the 0/1 mask [out, in, 1, 1] that keeps a 1x1 convolution's colour
/// groups in order (output colour g reads input colours ≤ g); `None` for grey images.
fn colour_mask_1x1(
    c_in: usize,
    c_out: usize,
    colours: usize,
    device: &Device,
) -> Option<Tensor<4>> {
    (colours > 1).then(|| {
        let values = mask_values(c_out, c_in, 1, colours, MaskType::B);
        Tensor::from_data(TensorData::new(values, [c_out, c_in, 1, 1]), device)
    })
}

/// A 1x1 convolution, with its weights masked when `mask` is given.
pub(crate) fn conv1x1(conv: &Conv2d, mask: Option<&Tensor<4>>, x: Tensor<4>) -> Tensor<4> {
    let weight = match mask {
        None => conv.weight.val(),
        Some(mask) => conv.weight.val() * mask.clone(),
    };
    let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
    conv2d(x, weight, conv.bias.as_ref().map(|b| b.val()), options)
}

/// tanh(a) ⊙ σ(b), where a and b are the two halves of `x` along the channel axis (one
/// fused operation, see [`crate::fused`]).
pub(crate) fn gate(x: Tensor<4>) -> Tensor<4> {
    crate::fused::gated_activation(x)
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
    /// Its colour mask (colour images only; a constant).
    pub(crate) horizontal_out_mask: Option<Tensor<4>>,
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
        colours: usize,
        device: &Device,
    ) -> Self {
        let class_embedding = || num_classes.map(|n| EmbeddingConfig::new(n, 2 * p).init(device));
        Self {
            vertical: VerticalConv::new(p, 2 * p, kernel, first, device),
            // Grey: the first layer's window stops left of the pixel. Colour: it includes the
            // pixel, whose earlier colours the mask lets through (mask A, then B).
            horizontal: if colours == 1 {
                HorizontalConv::new(p, 2 * p, kernel, first, device)
            } else {
                let mask = if first { MaskType::A } else { MaskType::B };
                HorizontalConv::new_colour(p, 2 * p, kernel, colours, mask, device)
            },
            vertical_to_horizontal: Conv2dConfig::new([2 * p, 2 * p], [1, 1]).init(device),
            horizontal_out: Conv2dConfig::new([p, p], [1, 1]).init(device),
            horizontal_out_mask: colour_mask_1x1(p, p, colours, device),
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
        let mut h_pre = self.horizontal.forward(h.clone())
            + conv1x1(&self.vertical_to_horizontal, None, v_pre.clone());
        if let Some(labels) = labels {
            v_pre = v_pre + class_bias(self.class_vertical.as_ref(), labels);
            h_pre = h_pre + class_bias(self.class_horizontal.as_ref(), labels);
        }
        let v_out = gate(v_pre);
        let h_gated = self.horizontal_out_forward(self.dropout.forward(gate(h_pre)));
        // The first layer's input includes the current pixel: no residual there.
        let h_out = if self.first { h_gated } else { h + h_gated };
        (v_out, h_out)
    }
}

impl GatedLayer {
    /// The 1x1 convolution after the horizontal gate (masked for colour images).
    pub(crate) fn horizontal_out_forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv1x1(&self.horizontal_out, self.horizontal_out_mask.as_ref(), x)
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
    head_hidden_mask: Option<Tensor<4>>,
    pub(crate) head_out: Conv2d,
    head_out_mask: Option<Tensor<4>>,
    levels: usize,
    colours: usize,
}

impl GatedPixelCnn {
    /// Logits of p(x_{i,c} | x_<i, x_{i,<c}, class) for every pixel and colour, shape
    /// [batch, levels, colours, height, width],
    /// from images `x` of shape [batch, colours, height, width] holding levels in 0..L.
    /// `labels` (shape [batch]) must be given exactly when the model is conditional.
    pub fn forward(&self, x: Tensor<4, Int>, labels: Option<Tensor<1, Int>>) -> Tensor<5> {
        self.forward_embedded(self.embed(x), labels)
    }

    /// The input representation: each pixel's level replaced by its learned vector,
    /// shape [batch, channels, height, width].
    pub fn embed(&self, x: Tensor<4, Int>) -> Tensor<4> {
        super::embed_colour_blocks(&self.embedding, x)
    }

    /// The logits from an embedded input (see [`Self::embed`]); differentiable with respect
    /// to that input, which is how the tests and receptive-field maps measure dependencies.
    pub fn forward_embedded(&self, input: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<5> {
        let [batch, _, height, width] = input.dims();
        let (mut v, mut h) = (input.clone(), input);
        for layer in &self.layers {
            (v, h) = layer.forward(v, h, labels.as_ref());
        }
        // Output channel c·L + l is level l of colour c.
        self.head(h)
            .reshape([batch, self.colours, self.levels, height, width])
            .swap_dims(1, 2)
    }

    /// The output head on the horizontal stack's last features: ReLU, 1x1, ReLU, 1x1 to
    /// colours·L logits per pixel (channel c·L + l is level l of colour c).
    pub(crate) fn head(&self, h: Tensor<4>) -> Tensor<4> {
        let hidden = relu(conv1x1(
            &self.head_hidden,
            self.head_hidden_mask.as_ref(),
            relu(h),
        ));
        conv1x1(&self.head_out, self.head_out_mask.as_ref(), hidden)
    }

    /// Number of grey levels L the model's softmax ranges over.
    pub fn levels(&self) -> usize {
        self.levels
    }

    /// Colour channels per pixel.
    pub fn colours(&self) -> usize {
        self.colours
    }

    /// Whether the model is class-conditional.
    pub fn is_conditional(&self) -> bool {
        self.layers
            .first()
            .is_some_and(|l| l.class_vertical.is_some())
    }
}
