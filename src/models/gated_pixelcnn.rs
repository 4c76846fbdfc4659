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
use burn::nn::{Dropout, DropoutConfig, Embedding};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::conditioning::{Condition, ConditionMap, ConditionWidth, SpatialConfig, SpatialMap};
use crate::fused::conv2d;
use crate::fused::dropout::dropout;
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
    /// Dimension D of the conditioning vectors h of p(x | h) (`--condition vectors:FILE`);
    /// `None` for p(x) or a class model.
    #[config(default = "None")]
    pub vector_dim: Option<usize>,
    /// Location-dependent conditioning: h enters every layer through a map s = m(h) at the
    /// image's size and 1x1 convolutions, instead of one vector per layer; `None`: global.
    #[config(default = "None")]
    pub spatial: Option<SpatialConfig>,
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
        ConditionWidth::validate_fields(self.num_classes, self.vector_dim)?;
        if let Some(spatial) = self.spatial {
            if self.condition().is_none() {
                return Err("location-dependent conditioning needs classes or vectors".into());
            }
            if spatial.channels == 0 || spatial.height == 0 || spatial.width == 0 {
                return Err("the conditioning map needs at least one channel and pixel".into());
            }
        }
        Ok(())
    }

    /// What the model is conditioned on (`None` for p(x)).
    pub fn condition(&self) -> Option<ConditionWidth> {
        ConditionWidth::from_fields(self.num_classes, self.vector_dim)
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
            .map(|i| GatedLayer::new(self, i == 0, device))
            .collect();
        let conv1x1 = |c_in, c_out| Conv2dConfig::new([c_in, c_out], [1, 1]).init(device);
        let c = self.colours;
        GatedPixelCnn {
            embedding: super::level_embedding(self.levels, p / c, device),
            spatial: self
                .spatial
                .zip(self.condition())
                .map(|(s, w)| SpatialMap::new(w, s, device)),
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
    let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
    conv2d(
        x,
        masked_weight(conv, mask),
        conv.bias.as_ref().map(|b| b.val()),
        options,
    )
}

/// [`conv1x1`] plus `addend` (of the output's shape), summed as the product is written
/// ([`crate::fused::conv2d_add`]).
pub(crate) fn conv1x1_add(
    conv: &Conv2d,
    mask: Option<&Tensor<4>>,
    x: Tensor<4>,
    addend: Tensor<4>,
) -> Tensor<4> {
    let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
    crate::fused::conv2d_add(
        x,
        masked_weight(conv, mask),
        conv.bias.as_ref().map(|b| b.val()),
        addend,
        options,
    )
}

/// The weights [out, in, 1, 1] of a 1x1 convolution, masked when `mask` is given.
fn masked_weight(conv: &Conv2d, mask: Option<&Tensor<4>>) -> Tensor<4> {
    match mask {
        None => conv.weight.val(),
        Some(mask) => conv.weight.val() * mask.clone(),
    }
}

/// A 1x1 convolution as a matrix [out, in] (masked when `mask` is given) and its bias [out]
/// (zeros when it has none).
fn pointwise_parameters(conv: &Conv2d, mask: Option<&Tensor<4>>) -> (Tensor<2>, Tensor<1>) {
    let weight = masked_weight(conv, mask);
    let [c_out, c_in, _, _] = weight.dims();
    let bias = match &conv.bias {
        Some(b) => b.val(),
        None => Tensor::zeros([c_out], &weight.device()),
    };
    (weight.reshape([c_out, c_in]), bias)
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
    /// Vᵀh added to the vertical gate pre-activations (global conditioning).
    pub(crate) condition_vertical: Option<ConditionMap>,
    /// Vᵀh added to the horizontal gate pre-activations.
    pub(crate) condition_horizontal: Option<ConditionMap>,
    /// 1x1 convolution of the map s = m(h) into the vertical gates (location-dependent).
    pub(crate) map_vertical: Option<Conv2d>,
    /// 1x1 convolution of s into the horizontal gates.
    pub(crate) map_horizontal: Option<Conv2d>,
    /// The first layer excludes the current pixel and has no residual connection.
    pub(crate) first: bool,
}

impl GatedLayer {
    /// A layer of the model `config`; the `first` one uses the first kernel and excludes
    /// the current pixel.
    fn new(config: &GatedPixelCnnConfig, first: bool, device: &Device) -> Self {
        let (p, colours, dropout) = (config.channels, config.colours, config.dropout);
        let kernel = if first {
            config.first_kernel
        } else {
            config.kernel
        };
        let spatial_channels = config.spatial.map(|s| s.channels);
        let global = config.condition().filter(|_| spatial_channels.is_none());
        let condition_map = || global.map(|w| ConditionMap::new(w, 2 * p, device));
        let map_conv =
            || spatial_channels.map(|s| Conv2dConfig::new([s, 2 * p], [1, 1]).init(device));
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
            condition_vertical: condition_map(),
            condition_horizontal: condition_map(),
            map_vertical: map_conv(),
            map_horizontal: map_conv(),
            first,
        }
    }

    /// Maps the two stacks (v, h) to the next layer's, given the batch's conditioning.
    fn forward(
        &self,
        v: Tensor<4>,
        h: Tensor<4>,
        condition: Option<&ImageCondition>,
    ) -> (Tensor<4>, Tensor<4>) {
        let mut v_pre = self.vertical.forward(v);
        let mut h_pre = conv1x1_add(
            &self.vertical_to_horizontal,
            None,
            v_pre.clone(),
            self.horizontal.forward(h.clone()),
        );
        if let Some(condition) = condition {
            let (bias_v, bias_h) = self.condition_biases(condition);
            v_pre = v_pre + bias_v;
            h_pre = h_pre + bias_h;
        }
        let v_out = gate(v_pre);
        let gated = dropout(&self.dropout, gate(h_pre));
        // The first layer's input includes the current pixel: no residual there.
        let h_out = if self.first {
            self.horizontal_out_forward(gated)
        } else {
            conv1x1_add(
                &self.horizontal_out,
                self.horizontal_out_mask.as_ref(),
                gated,
                h,
            )
        };
        (v_out, h_out)
    }
}

impl GatedLayer {
    /// The 1x1 convolution after the horizontal gate (masked for colour images).
    pub(crate) fn horizontal_out_forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv1x1(&self.horizontal_out, self.horizontal_out_mask.as_ref(), x)
    }
}

impl GatedLayer {
    /// What the conditioning adds to the (vertical, horizontal) gate pre-activations:
    /// [batch, 2p, 1, 1] each for the global form (Vᵀh at every pixel), [batch, 2p, H, W]
    /// for the location-dependent one (a 1x1 convolution of s = m(h)).
    pub(crate) fn condition_biases(&self, condition: &ImageCondition) -> (Tensor<4>, Tensor<4>) {
        match condition {
            ImageCondition::Global(h) => (
                self.condition_vertical
                    .as_ref()
                    .expect("a globally conditioned layer has its maps")
                    .forward_image(h),
                self.condition_horizontal
                    .as_ref()
                    .expect("a globally conditioned layer has its maps")
                    .forward_image(h),
            ),
            ImageCondition::Map(s) => (
                self.map_vertical
                    .as_ref()
                    .expect("a location-conditioned layer has its 1x1 convolutions")
                    .forward(s.clone()),
                self.map_horizontal
                    .as_ref()
                    .expect("a location-conditioned layer has its 1x1 convolutions")
                    .forward(s.clone()),
            ),
        }
    }
}

/// The conditioning of a batch as the layers read it: h itself (global form) or the map
/// s = m(h) [batch, C, H, W] (location-dependent form).
#[derive(Debug, Clone)]
pub enum ImageCondition {
    /// h, added to each layer as Vᵀh.
    Global(Condition),
    /// s = m(h), added to each layer through 1x1 convolutions.
    Map(Tensor<4>),
}

/// The Gated PixelCNN: the two stacks of [`GatedLayer`]s and the output head.
#[derive(Module, Debug)]
pub struct GatedPixelCnn {
    /// A learned vector for each of the L grey levels: the input representation.
    pub(crate) embedding: Embedding,
    /// The network m of the location-dependent conditioning (absent otherwise).
    pub(crate) spatial: Option<SpatialMap>,
    pub(crate) layers: Vec<GatedLayer>,
    pub(crate) head_hidden: Conv2d,
    head_hidden_mask: Option<Tensor<4>>,
    pub(crate) head_out: Conv2d,
    head_out_mask: Option<Tensor<4>>,
    levels: usize,
    colours: usize,
}

impl GatedPixelCnn {
    /// Logits of p(x_{i,c} | x_<i, x_{i,<c}, h) for every pixel and colour, shape
    /// [batch, levels, colours, height, width],
    /// from images `x` of shape [batch, colours, height, width] holding levels in 0..L.
    /// `condition` (h for each image) must be given exactly when the model is conditional.
    pub fn forward(&self, x: Tensor<4, Int>, condition: Option<Condition>) -> Tensor<5> {
        self.forward_embedded(self.embed(x), condition)
    }

    /// The conditioning as the layers read it (see [`ImageCondition`]).
    pub(crate) fn image_condition(&self, condition: Option<Condition>) -> Option<ImageCondition> {
        let condition = condition?;
        Some(match &self.spatial {
            Some(map) => ImageCondition::Map(map.forward(&condition)),
            None => ImageCondition::Global(condition),
        })
    }

    /// The input representation: each pixel's level replaced by its learned vector,
    /// shape [batch, channels, height, width].
    pub fn embed(&self, x: Tensor<4, Int>) -> Tensor<4> {
        super::embed_colour_blocks(&self.embedding, x)
    }

    /// The logits from an embedded input (see [`Self::embed`]); differentiable with respect
    /// to that input, which is how the tests and receptive-field maps measure dependencies.
    pub fn forward_embedded(&self, input: Tensor<4>, condition: Option<Condition>) -> Tensor<5> {
        let [batch, _, height, width] = input.dims();
        let h = self.features(input, condition);
        // Output channel c·L + l is level l of colour c.
        self.head(h)
            .reshape([batch, self.colours, self.levels, height, width])
            .swap_dims(1, 2)
    }

    /// log p(x | h) of each image of `x` [batch, colours, height, width], in nats: the
    /// features of the two stacks, then the output head and the categorical log-likelihood
    /// as one operation ([`crate::fused::head_log_prob`]), which never forms the logits.
    pub fn log_prob(&self, x: Tensor<4, Int>, condition: Option<Condition>) -> Tensor<1> {
        let h = self.features(self.embed(x.clone()), condition);
        let (w1, b1) = pointwise_parameters(&self.head_hidden, self.head_hidden_mask.as_ref());
        let (w2, b2) = pointwise_parameters(&self.head_out, self.head_out_mask.as_ref());
        crate::fused::head_log_prob(h, w1, b1, w2, b2, x)
    }

    /// The horizontal stack's last features [batch, channels, height, width], which the
    /// output head reads.
    fn features(&self, input: Tensor<4>, condition: Option<Condition>) -> Tensor<4> {
        let condition = self.image_condition(condition);
        let (mut v, mut h) = (input.clone(), input);
        for layer in &self.layers {
            (v, h) = layer.forward(v, h, condition.as_ref());
        }
        h
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

    /// Whether the model is conditional (on classes or vectors).
    pub fn is_conditional(&self) -> bool {
        self.spatial.is_some()
            || self
                .layers
                .first()
                .is_some_and(|l| l.condition_vertical.is_some())
    }
}
