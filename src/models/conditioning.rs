//! Conditioning, shared by every model: p(x | h) = Π_t p(x_t | x_<t, h) for a description h
//! of each example.
//!
//! h is either a **class** (the one-hot vector e_k of class k among K) or any **vector** of D
//! numbers given per example (`--condition vectors:FILE`). Every conditional layer holds a
//! learned linear map V (a [`ConditionMap`], weight [width of h, channels]) and adds Vᵀh to
//! its pre-activations, broadcast over every position: for the Gated PixelCNN,
//! tanh(W_f∗x + V_fᵀh) ⊙ σ(W_g∗x + V_gᵀh). Classes are the one-hot case of the same map:
//! Vᵀe_k is row k of V, so a class model and a vector model with the same weights, fed e_k,
//! give the same numbers (a test checks it through the whole pipeline).
//!
//! The location-dependent form ([`SpatialMap`]) first maps h to a map s = m(h) at the
//! image's size; each layer then adds a 1×1 convolution of s. Neither form reads x, so
//! neither can break the autoregressive order.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

/// The description h of each example of a batch.
#[derive(Debug, Clone)]
pub enum Condition {
    /// One class per example, shape [batch]; h is its one-hot vector.
    Classes(Tensor<1, Int>),
    /// One vector per example, shape [batch, D].
    Vectors(Tensor<2>),
}

impl Condition {
    /// Number of examples described.
    pub fn batch(&self) -> usize {
        match self {
            Condition::Classes(c) => c.dims()[0],
            Condition::Vectors(v) => v.dims()[0],
        }
    }

    /// h as a float matrix [batch, width]: the vectors, or the one-hot vectors of the classes.
    pub fn as_vectors(&self, width: usize) -> Tensor<2> {
        match self {
            Condition::Classes(c) => c.clone().one_hot::<2>(width).float(),
            Condition::Vectors(v) => v.clone(),
        }
    }

    /// The descriptions of the examples at `indices` (in that order).
    pub fn select(&self, indices: Tensor<1, Int>) -> Condition {
        match self {
            Condition::Classes(c) => Condition::Classes(c.clone().select(0, indices)),
            Condition::Vectors(v) => Condition::Vectors(v.clone().select(0, indices)),
        }
    }

    /// The same descriptions, each repeated `times` times in a row (example i becomes
    /// examples i·times .. (i+1)·times − 1).
    pub fn repeat_each(&self, times: usize) -> Condition {
        let n = self.batch();
        let indices: Vec<i64> = (0..n as i64)
            .flat_map(|i| std::iter::repeat_n(i, times))
            .collect();
        let device = match self {
            Condition::Classes(c) => c.device(),
            Condition::Vectors(v) => v.device(),
        };
        let len = indices.len();
        self.select(Tensor::from_data(TensorData::new(indices, [len]), &device))
    }
}

impl From<Tensor<1, Int>> for Condition {
    fn from(classes: Tensor<1, Int>) -> Self {
        Condition::Classes(classes)
    }
}

impl From<Tensor<2>> for Condition {
    fn from(vectors: Tensor<2>) -> Self {
        Condition::Vectors(vectors)
    }
}

/// What a conditional model is conditioned on, as its config records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditionWidth {
    /// A class among K (h = e_k, K numbers).
    Classes(usize),
    /// A vector of D numbers.
    Vectors(usize),
}

impl ConditionWidth {
    /// From a config's two fields (`num_classes`, `vector_dim`); at most one may be set.
    pub fn from_fields(num_classes: Option<usize>, vector_dim: Option<usize>) -> Option<Self> {
        match (num_classes, vector_dim) {
            (Some(k), _) => Some(ConditionWidth::Classes(k)),
            (None, Some(d)) => Some(ConditionWidth::Vectors(d)),
            (None, None) => None,
        }
    }

    /// Checks a config's two fields: not both, neither zero.
    pub fn validate_fields(
        num_classes: Option<usize>,
        vector_dim: Option<usize>,
    ) -> Result<(), String> {
        match (num_classes, vector_dim) {
            (Some(_), Some(_)) => {
                Err("a model is conditioned on classes or on vectors, not on both".into())
            }
            (Some(0), _) => Err("a conditional model needs at least one class".into()),
            (_, Some(0)) => Err("conditioning vectors need at least one dimension".into()),
            (_, Some(d)) if d > MAX_CONDITION_DIM => Err(format!(
                "conditioning vectors of {d} dimensions: at most {MAX_CONDITION_DIM} are supported"
            )),
            _ => Ok(()),
        }
    }

    /// The number of values of h.
    pub fn width(self) -> usize {
        match self {
            ConditionWidth::Classes(k) | ConditionWidth::Vectors(k) => k,
        }
    }
}

/// The most dimensions a conditioning vector may have.
pub const MAX_CONDITION_DIM: usize = 65_536;

/// A learned linear map V of h to `channels` values: Vᵀh, weight [width of h, channels], no
/// bias (the layer it feeds has one). For a class k it is row k of V (an embedding lookup).
#[derive(Module, Debug)]
pub struct ConditionMap {
    /// V, shape [width of h, channels].
    pub weight: Param<Tensor<2>>,
}

impl ConditionMap {
    /// A map of h (`width`) to `channels` values. A class's row starts N(0, 1) (as an
    /// embedding would); a vector's weights N(0, 1/D), so that Vᵀh starts at the scale of
    /// h's entries.
    pub fn new(width: ConditionWidth, channels: usize, device: &Device) -> Self {
        let std = match width {
            ConditionWidth::Classes(_) => 1.0,
            ConditionWidth::Vectors(d) => 1.0 / (d as f64).sqrt(),
        };
        let weight = Initializer::Normal { mean: 0.0, std }.init([width.width(), channels], device);
        Self { weight }
    }

    /// Vᵀh for every example: [batch, channels].
    pub fn forward(&self, condition: &Condition) -> Tensor<2> {
        match condition {
            Condition::Classes(c) => self.weight.val().select(0, c.clone()),
            Condition::Vectors(v) => v.clone().matmul(self.weight.val()),
        }
    }

    /// Vᵀh shaped [batch, channels, 1, 1], to add at every pixel of an image layer.
    pub fn forward_image(&self, condition: &Condition) -> Tensor<4> {
        let v = self.forward(condition);
        let [batch, channels] = v.dims();
        v.reshape([batch, channels, 1, 1])
    }

    /// Vᵀh shaped [batch, channels, 1], to add at every step of a sequence layer.
    pub fn forward_sequence(&self, condition: &Condition) -> Tensor<3> {
        let v = self.forward(condition);
        let [batch, channels] = v.dims();
        v.reshape([batch, channels, 1])
    }
}

/// A map for each of `layers` layers, or none for an unconditional model.
pub(crate) fn condition_maps(
    width: Option<ConditionWidth>,
    channels: usize,
    layers: usize,
    device: &Device,
) -> Vec<ConditionMap> {
    match width {
        Some(w) => (0..layers)
            .map(|_| ConditionMap::new(w, channels, device))
            .collect(),
        None => Vec::new(),
    }
}

/// `x` [batch, C, time] plus Vᵀh at every step; `x` unchanged when the layer or the batch
/// is unconditional.
pub(crate) fn add_condition(
    x: Tensor<3>,
    map: Option<&ConditionMap>,
    condition: Option<&Condition>,
) -> Tensor<3> {
    match (map, condition) {
        (Some(map), Some(condition)) => x + map.forward_sequence(condition),
        _ => x,
    }
}

/// Vᵀh [batch, C] of a layer, or `None` when the layer or the batch is unconditional.
pub(crate) fn condition_vectors(
    map: Option<&ConditionMap>,
    condition: Option<&Condition>,
) -> Option<Tensor<2>> {
    Some(map?.forward(condition?))
}

/// Settings of the location-dependent conditioning: h → s = m(h), a map of `channels`
/// feature planes at the image's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpatialConfig {
    /// Feature planes of the map s.
    pub channels: usize,
    /// Image height the map is made for.
    pub height: usize,
    /// Image width the map is made for.
    pub width: usize,
}

/// The small upsampling network m of the location-dependent form:
/// h → linear → [C, ⌈H/2⌉, ⌈W/2⌉] → ReLU → transposed 2×2 convolution of stride 2 (to twice
/// the size, cropped to H × W) → ReLU → 3×3 convolution → s, shape [batch, C, H, W].
#[derive(Module, Debug)]
pub struct SpatialMap {
    /// h to the coarse map (a [`ConditionMap`] plus a bias per value).
    coarse: ConditionMap,
    coarse_bias: Param<Tensor<1>>,
    up: ConvTranspose2d,
    smooth: Conv2d,
    channels: usize,
    height: usize,
    width: usize,
}

impl SpatialMap {
    /// The network for h of `width` and the map `config`.
    pub fn new(width: ConditionWidth, config: SpatialConfig, device: &Device) -> Self {
        let (c, h0, w0) = (
            config.channels,
            config.height.div_ceil(2),
            config.width.div_ceil(2),
        );
        Self {
            coarse: ConditionMap::new(width, c * h0 * w0, device),
            coarse_bias: Initializer::Zeros.init([c * h0 * w0], device),
            up: ConvTranspose2dConfig::new([c, c], [2, 2])
                .with_stride([2, 2])
                .init(device),
            smooth: Conv2dConfig::new([c, c], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            channels: c,
            height: config.height,
            width: config.width,
        }
    }

    /// s = m(h): [batch, C, H, W].
    pub fn forward(&self, condition: &Condition) -> Tensor<4> {
        let (c, h, w) = (self.channels, self.height, self.width);
        let (h0, w0) = (h.div_ceil(2), w.div_ceil(2));
        let coarse = self.coarse.forward(condition) + self.coarse_bias.val().unsqueeze();
        let batch = coarse.dims()[0];
        let coarse = relu(coarse.reshape([batch, c, h0, w0]));
        let fine = relu(self.up.forward(coarse)).slice([0..batch, 0..c, 0..h, 0..w]);
        self.smooth.forward(fine)
    }

    /// The height and width of the map.
    pub fn size(&self) -> (usize, usize) {
        (self.height, self.width)
    }
}

/// What a sequence network needs to know of its steps, whatever its kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepShape {
    /// Channels of the encoded input at each step.
    pub input_channels: usize,
    /// Output features per step (the parameters of the output distribution).
    pub features: usize,
    /// What a conditional network is conditioned on (`None`: p(x)).
    pub condition: Option<ConditionWidth>,
    /// Values of per-step covariates each step reads (`None`: no covariates); see
    /// [`crate::data::sequences::CovariateLayout`].
    pub covariates: Option<usize>,
    /// Dropout probability during training.
    pub dropout: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_is_the_one_hot_case_of_the_vector_map() {
        let device = Device::flex();
        let map = crate::rng::with_device_seed(&device, 3, || {
            ConditionMap::new(ConditionWidth::Classes(4), 5, &device)
        });
        let classes = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64, 0, 3], [3]), &device);
        let by_class = map.forward(&Condition::Classes(classes.clone()));
        let one_hot = Condition::Classes(classes).as_vectors(4);
        let by_vector = map.forward(&Condition::Vectors(one_hot));
        let a: Vec<f32> = by_class.into_data().iter::<f32>().collect();
        let b: Vec<f32> = by_vector.into_data().iter::<f32>().collect();
        assert_eq!(a, b, "one-hot vectors must give exactly the class rows");
        let w: Vec<f32> = map.weight.val().into_data().iter::<f32>().collect();
        assert_eq!(&a[0..5], &w[10..15], "class 2 reads row 2");
    }

    #[test]
    fn the_spatial_map_has_the_image_size_for_odd_and_even_sides() {
        let device = Device::flex();
        for (h, w) in [(8, 8), (7, 5), (1, 3)] {
            let config = SpatialConfig {
                channels: 3,
                height: h,
                width: w,
            };
            let map = SpatialMap::new(ConditionWidth::Vectors(2), config, &device);
            let v = Tensor::<2>::ones([4, 2], &device);
            assert_eq!(map.forward(&Condition::Vectors(v)).dims(), [4, 3, h, w]);
        }
    }
}
