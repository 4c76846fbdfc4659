//! Receptive fields measured from the model itself: which input pixels the distribution of
//! one output value depends on, by the gradient of its logits with respect to the network's
//! input.
//!
//! The measured set is compared with the model's *nominal field*: the pixels before the
//! target (raster order) inside the box its convolutions can reach. A nominal pixel with zero
//! influence is a **blind spot**. The PixelCNN's stacked masked convolutions leave one above
//! and to the right of the target; the Gated PixelCNN's two stacks leave none.

use burn::prelude::*;
use serde::Serialize;

use crate::models::{ImageModel, ImageModelConfig};

/// How far a model's convolutions reach from the target pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Reach {
    /// Rows above the target.
    pub up: usize,
    /// Columns to each side, in the rows above.
    pub side: usize,
    /// Columns to the left, in the target's row.
    pub left: usize,
}

/// The nominal reach of a configuration, from its kernel sizes and depth.
///
/// Gated PixelCNN with L layers, first kernel k₀ and kernel k (half-widths n₀ = ⌊k₀/2⌋,
/// n = ⌊k/2⌋): up n₀ + 1 + n(L−1), side n₀ + n(L−1), left n₀ + 1 + n(L−1).
/// PixelCNN with B blocks: every masked k x k layer reaches n further: n₀ + nB each way.
/// PixelCNN++: the box of its full-resolution convolutions (a lower bound of its field).
pub fn nominal_reach(config: &ImageModelConfig) -> Reach {
    match config {
        ImageModelConfig::AutoEncoder(ae) => {
            nominal_reach(&ImageModelConfig::GatedPixelcnn(ae.decoder.clone()))
        }
        ImageModelConfig::GatedPixelcnn(c) => {
            let (n0, n, l) = (c.first_kernel / 2, c.kernel / 2, c.layers);
            let grow = n * l.saturating_sub(1);
            Reach {
                up: n0 + 1 + grow,
                side: n0 + grow,
                left: n0 + 1 + grow,
            }
        }
        ImageModelConfig::Pixelcnn(c) => {
            let r = c.first_kernel / 2 + (c.kernel / 2) * c.blocks;
            Reach {
                up: r,
                side: r,
                left: r,
            }
        }
        // The box its full-resolution convolutions alone reach (the coarser resolutions
        // reach further): the first layers, then the longest chain of window convolutions,
        // each n = ⌊k/2⌋ further up and to the side (above stream) or up and to the left
        // (above-left).
        ImageModelConfig::PixelcnnPp(c) => {
            let n = c.kernel / 2;
            let grow = n * c.full_resolution_convolutions();
            Reach {
                up: n + 1 + grow,
                side: n + grow,
                left: 1 + grow,
            }
        }
    }
}

/// The measured receptive field of one output pixel.
#[derive(Debug, Clone, Serialize)]
pub struct ReceptiveField {
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// The target pixel (row, column) and the colour channel whose distribution is measured.
    pub target: (usize, usize, usize),
    /// The nominal reach the map is compared against.
    pub reach: Reach,
    /// Influence of every input pixel (row-major): Σ |∂ logits / ∂ input|, over the input
    /// pixel's colours and embedding, averaged over a batch of random images.
    pub influence: Vec<f32>,
}

impl ReceptiveField {
    /// Whether pixel (row, col) is in the nominal field: before the target in raster order
    /// and within the reach box.
    pub fn in_nominal_field(&self, row: usize, col: usize) -> bool {
        let (tr, tc, _) = self.target;
        let above = row < tr && tr - row <= self.reach.up && col.abs_diff(tc) <= self.reach.side;
        let left = row == tr && col < tc && tc - col <= self.reach.left;
        above || left
    }

    /// Pixels the target depends on: (row, column, influence).
    pub fn dependencies(&self) -> Vec<(usize, usize, f32)> {
        (0..self.height * self.width)
            .filter(|&i| self.influence[i] > 0.0)
            .map(|i| (i / self.width, i % self.width, self.influence[i]))
            .collect()
    }

    /// Pixels of the nominal field with no influence at all: the blind spot.
    pub fn blind_spot(&self) -> Vec<(usize, usize)> {
        (0..self.height * self.width)
            .map(|i| (i / self.width, i % self.width))
            .filter(|&(r, c)| {
                self.in_nominal_field(r, c) && self.influence[r * self.width + c] == 0.0
            })
            .collect()
    }

    /// Pixels the target depends on although they are at or after it: a causality violation
    /// (empty for a correct model).
    pub fn leaks(&self) -> Vec<(usize, usize)> {
        let (tr, tc, _) = self.target;
        self.dependencies()
            .into_iter()
            .filter(|&(r, c, _)| (r, c) >= (tr, tc) && !(r == tr && c == tc && self.target.2 > 0))
            .map(|(r, c, _)| (r, c))
            .collect()
    }
}

/// Measures the receptive field of the logits of colour `colour` at pixel (`row`, `col`) of a
/// `height` x `width` image, with `images` random input images (levels drawn from the seeded
/// device generator) and class `class` for a conditional model.
#[allow(clippy::too_many_arguments)]
pub fn measure(
    model: &ImageModel,
    config: &ImageModelConfig,
    height: usize,
    width: usize,
    (row, col, colour): (usize, usize, usize),
    class: Option<usize>,
    images: usize,
    seed: u64,
) -> ReceptiveField {
    // The model's own device, with autodiff (the gradients are the measurement).
    let device = model
        .devices()
        .first()
        .cloned()
        .unwrap_or_else(Device::flex)
        .autodiff();
    let model = model.clone().to_device(&device);
    let (levels, colours) = (model.levels(), model.colours());
    let n = images.max(1);
    let mut rng = crate::rng::seeded(seed);
    let values: Vec<i64> = (0..n * colours * height * width)
        .map(|_| {
            use rand::RngExt;
            rng.random_range(0..levels as i64)
        })
        .collect();
    let x = Tensor::<4, Int>::from_data(
        TensorData::new(values, [n, colours, height, width]),
        &device,
    );
    // A conditional model reads h = e_class (class 0 by default; for a vector model the
    // first unit vector): the map does not depend on h, which never reads x.
    let labels = model.is_conditional().then(|| {
        let values = vec![class.unwrap_or(0) as i64; n];
        crate::models::Condition::Classes(Tensor::<1, Int>::from_data(
            TensorData::new(values, [n]),
            &device,
        ))
    });
    let input = model.embed(x).detach().require_grad();
    let logits = model.forward_embedded(input.clone(), labels);
    let target = logits.slice([
        0..n,
        0..levels,
        colour..colour + 1,
        row..row + 1,
        col..col + 1,
    ]);
    let grads = target.sum().backward();
    let grad = input
        .grad(&grads)
        .expect("the input takes part in the logits");
    let influence = grad
        .abs()
        .sum_dim(0)
        .sum_dim(1)
        .reshape([height * width])
        .div_scalar(n as f64)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 influence");
    ReceptiveField {
        height,
        width,
        target: (row, col, colour),
        reach: nominal_reach(config),
        influence,
    }
}
