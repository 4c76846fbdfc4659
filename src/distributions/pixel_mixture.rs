//! The discretised logistic mixture over whole pixels (Salimans et al. 2017, PixelCNN++,
//! arXiv:1701.05517): the output distribution of [`crate::models::PixelCnnPp`].
//!
//! Each pixel has C colours (1 grey, or 3: R, G, B) of L levels, level l at the centre
//! y_l = 2l/(L−1) − 1 of its bin (see [`super::logistic_mixture`] for one channel). The
//! network gives, per pixel, K mixture logits a_k, and for each colour c and component k a
//! mean μ_{c,k} and a log-scale ln s_{c,k}; for colour, also three coefficients per
//! component, α_k, β_k, γ_k = tanh(·). The colours are ordered R → G → B and each mean reads
//! the colours before it:
//!
//! ```text
//! m_{R,k} = μ_{R,k},   m_{G,k} = μ_{G,k} + α_k y_R,   m_{B,k} = μ_{B,k} + β_k y_R + γ_k y_G
//! p(x) = Σ_k π_k Π_c P_logistic(bin of x_c | m_{c,k}, s_{c,k}),   π = softmax(a)
//! ```
//!
//! One mixture covers the whole pixel, so the colours are dependent twice over: through
//! the linear means and through the shared component. The network conditions on whole
//! pixels (no sub-pixel masks); the colour order lives here.
//!
//! Parameters come per pixel as K(1 + 2C + C(C−1)/2) channels (3K grey, 10K colour): the
//! K logits, the means (μ_{c,k} at channel K + cK + k), the log-scales (ln s_{c,k} at
//! K + CK + cK + k), then the C(C−1)/2 coefficients, K each (see [`Layout`]).
//!
//! Two readings of the same distribution:
//! - [`log_prob`]: ln p(x) of observed images (training and evaluation), without ever
//!   forming the L levels;
//! - [`level_log_probs`]: for every colour c, the conditional ln p(x_c = l | x_<c) of all L
//!   levels given the pixel's earlier colours: the "logits" [batch, L, C, H, W] that
//!   sampling, completion and receptive fields read, as they read every image model's.
//!
//! The conditionals multiply back to the joint (the chain rule), which the tests check.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use super::logistic_mixture::{bin_log_prob, log_sum_exp};

/// The most mixture components a model may have.
pub const MAX_COMPONENTS: usize = 64;

/// Where each parameter sits among a pixel's channels, for K components and C colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Mixture components K.
    pub components: usize,
    /// Colours C per pixel (1 or 3).
    pub colours: usize,
}

impl Layout {
    /// The layout of K components over C colours (C must be 1 or 3).
    pub fn new(components: usize, colours: usize) -> Self {
        Self {
            components,
            colours,
        }
    }

    /// Parameter channels per pixel: K(1 + 2C + C(C−1)/2).
    pub fn channels(&self) -> usize {
        let c = self.colours;
        self.components * (1 + 2 * c + c * (c - 1) / 2)
    }

    /// First channel of the means of colour `c`.
    fn mean(&self, c: usize) -> usize {
        self.components * (1 + c)
    }

    /// First channel of the log-scales of colour `c`.
    fn log_scale(&self, c: usize) -> usize {
        self.components * (1 + self.colours + c)
    }

    /// First channel of coefficient `j` (0: α, G on R; 1: β, B on R; 2: γ, B on G).
    fn coefficient(&self, j: usize) -> usize {
        self.components * (1 + 2 * self.colours + j)
    }

    /// Index of the coefficient by which colour `c`'s mean reads colour `earlier` < c.
    fn coefficient_index(c: usize, earlier: usize) -> usize {
        c * (c - 1) / 2 + earlier
    }
}

/// Checks that a mixture of `components` over `colours` can be built.
pub fn validate(components: usize, colours: usize) -> Result<(), String> {
    if components == 0 || components > MAX_COMPONENTS {
        return Err(format!(
            "the mixture needs 1 to {MAX_COMPONENTS} components, got {components}"
        ));
    }
    if colours != 1 && colours != 3 {
        return Err(format!(
            "the pixel mixture models grey (1) or RGB (3) pixels, not {colours} colours"
        ));
    }
    Ok(())
}

/// The centre y = 2l/(L−1) − 1 of level `level` of `levels`, in f32 exactly as [`scaled`]
/// computes it (so that generation feeds the network the very values training did).
pub fn centre_f32(level: usize, levels: usize) -> f32 {
    level as f32 * (2.0 / (levels - 1) as f64) as f32 - 1.0
}

/// The level centres y = 2l/(L−1) − 1 of images `x` of levels.
pub fn scaled(x: Tensor<4, Int>, levels: usize) -> Tensor<4> {
    x.float()
        .mul_scalar(2.0 / (levels - 1) as f64)
        .sub_scalar(1.0)
}

/// The parameters of one pixel grid, split: each [batch, K, H, W].
struct Parts {
    logits: Tensor<4>,
    means: Vec<Tensor<4>>,
    log_scales: Vec<Tensor<4>>,
    coefficients: Vec<Tensor<4>>,
}

fn split(params: Tensor<4>, layout: Layout) -> Parts {
    let k = layout.components;
    let c = layout.colours;
    let part = |at: usize| params.clone().narrow(1, at, k);
    Parts {
        logits: part(0),
        means: (0..c).map(|g| part(layout.mean(g))).collect(),
        log_scales: (0..c).map(|g| part(layout.log_scale(g))).collect(),
        coefficients: (0..c * (c - 1) / 2)
            .map(|j| part(layout.coefficient(j)).tanh())
            .collect(),
    }
}

impl Parts {
    /// m_{c,k}: the mean of colour `c` of every component given the earlier colours `y`
    /// (each [batch, 1, H, W], level centres).
    fn mean(&self, c: usize, y: &[Tensor<4>]) -> Tensor<4> {
        (0..c).fold(self.means[c].clone(), |m, earlier| {
            m + self.coefficients[Layout::coefficient_index(c, earlier)].clone()
                * y[earlier].clone()
        })
    }

    /// ln P(x_c | component k, x_<c) for colour `c` at the observed centres `y`:
    /// [batch, K, H, W].
    fn component_log_prob(&self, c: usize, y: &[Tensor<4>], levels: usize) -> Tensor<4> {
        let half = 1.0 / (levels - 1) as f64;
        let k = self.logits.dims()[1];
        let centre = y[c].clone();
        let is_first = centre.clone().lower_elem(-1.0 + half).repeat_dim(1, k);
        let is_last = centre.clone().greater_elem(1.0 - half).repeat_dim(1, k);
        let centred = centre - self.mean(c, y);
        bin_log_prob(centred, self.log_scales[c].clone(), is_first, is_last, half)
    }
}

/// The colours of `y` [batch, C, H, W] one by one, each [batch, 1, H, W].
fn colours_of(y: Tensor<4>) -> Vec<Tensor<4>> {
    let c = y.dims()[1];
    (0..c).map(|g| y.clone().narrow(1, g, 1)).collect()
}

/// ln p(x) of each image, in nats: `params` [batch, channels, H, W] as [`Layout`] says,
/// `x` levels [batch, C, H, W]; the result is [batch], the sum over the pixels of
/// ln Σ_k π_k Π_c P(x_c | k, x_<c).
pub fn log_prob(
    params: Tensor<4>,
    x: Tensor<4, Int>,
    levels: usize,
    components: usize,
) -> Tensor<1> {
    let [batch, colours, ..] = x.dims();
    let layout = Layout::new(components, colours);
    let parts = split(params, layout);
    let y = colours_of(scaled(x, levels));
    let joint = (0..colours).fold(log_softmax(parts.logits.clone(), 1), |acc, c| {
        acc + parts.component_log_prob(c, &y, levels)
    });
    log_sum_exp(joint, 1).sum_dim(2).sum_dim(3).reshape([batch])
}

/// For every colour c, ln p(x_c = l | x_<c) of every level l given the pixel's earlier
/// colours as `y` holds them ([batch, C, H, W] level centres; colour c's own and later
/// entries are not read): [batch, L, C, H, W], the form of every image model's logits.
///
/// The earlier colours enter twice: in the means, and in the components' weights, which
/// become the posterior π_k Π_{c'<c} P(x_c' | k) / Σ_j π_j Π_{c'<c} P(x_c' | j).
pub fn level_log_probs(
    params: Tensor<4>,
    y: Tensor<4>,
    levels: usize,
    components: usize,
) -> Tensor<5> {
    let colours = y.dims()[1];
    Tensor::cat(conditionals(params, y, levels, components, 0..colours), 2)
}

/// ln p(x_c = l | x_<c) of every level l for the one colour `colour` (the earlier colours
/// as `y` holds them, as in [`level_log_probs`]): [batch, L, 1, H, W]. Generation draws a
/// pixel colour by colour with it, computing each conditional once.
pub fn colour_log_probs(
    params: Tensor<4>,
    y: Tensor<4>,
    colour: usize,
    levels: usize,
    components: usize,
) -> Tensor<5> {
    let mut wanted = conditionals(params, y, levels, components, colour..colour + 1);
    wanted.pop().expect("one colour asked")
}

/// The conditionals of the colours in `wanted` ([batch, L, 1, H, W] each): the posterior
/// component weights are carried through every colour before the last one wanted, and the
/// L-level law is formed only for the wanted ones.
fn conditionals(
    params: Tensor<4>,
    y: Tensor<4>,
    levels: usize,
    components: usize,
    wanted: std::ops::Range<usize>,
) -> Vec<Tensor<5>> {
    let [batch, colours, height, width] = y.dims();
    let layout = Layout::new(components, colours);
    let k = components;
    let pixels = height * width;
    let device = params.device();
    let parts = split(params, layout);
    let y = colours_of(y);
    let half = 1.0 / (levels - 1) as f64;
    // The centres of the L levels, and which are the edge levels: [1, 1, L, 1] → full shape.
    let shape = [batch, k, levels, pixels];
    let level = Tensor::<1, Int>::arange(0..levels as i64, &device).reshape([1, 1, levels, 1]);
    let centres = scaled(level.clone(), levels).expand(shape);
    let is_first = level.clone().equal_elem(0).expand(shape);
    let is_last = level.equal_elem((levels - 1) as i64).expand(shape);
    let mut log_weight = log_softmax(parts.logits.clone(), 1);
    let mut out = Vec::with_capacity(wanted.len());
    for c in 0..wanted.end.min(colours) {
        if wanted.contains(&c) {
            let posterior = (log_weight.clone() - log_sum_exp(log_weight.clone(), 1))
                .reshape([batch, k, 1, pixels]);
            let mean = parts.mean(c, &y).reshape([batch, k, 1, pixels]);
            let log_scale = parts.log_scales[c]
                .clone()
                .reshape([batch, k, 1, pixels])
                .expand(shape);
            let log_p = bin_log_prob(
                centres.clone() - mean,
                log_scale,
                is_first.clone(),
                is_last.clone(),
                half,
            );
            out.push(log_sum_exp(posterior + log_p, 1).reshape([batch, levels, 1, height, width]));
        }
        if c + 1 < wanted.end {
            log_weight = log_weight + parts.component_log_prob(c, &y, levels);
        }
    }
    out
}

/// p(x) of one pixel in f64, from its parameters (`params`, [`Layout`]'s channels) and its
/// levels (one per colour): the reference the tests compare the tensor forms with.
pub fn pixel_probability(params: &[f32], pixel: &[usize], levels: usize, components: usize) -> f64 {
    let layout = Layout::new(components, pixel.len());
    let k = components;
    let p = |i: usize| f64::from(params[i]);
    let max = (0..k).map(p).fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = (0..k).map(|j| (p(j) - max).exp()).sum();
    let y: Vec<f64> = pixel
        .iter()
        .map(|&l| super::logistic_mixture::centre(l, levels))
        .collect();
    (0..k)
        .map(|j| {
            let mut prob = (p(j) - max).exp() / total;
            for (c, &level) in pixel.iter().enumerate() {
                let mut mean = p(layout.mean(c) + j);
                for (earlier, &y_earlier) in y.iter().enumerate().take(c) {
                    let coefficient =
                        p(layout.coefficient(Layout::coefficient_index(c, earlier)) + j).tanh();
                    mean += coefficient * y_earlier;
                }
                let log_scale = p(layout.log_scale(c) + j);
                prob *= super::logistic_mixture::bin_probability(level, levels, mean, log_scale);
            }
            prob
        })
        .sum()
}
