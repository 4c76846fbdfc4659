//! PixelCNN++ (Salimans, Karpathy, Chen and Kingma 2017, "PixelCNN++: Improving the
//! PixelCNN with Discretized Logistic Mixture Likelihood and Other Modifications",
//! arXiv:1701.05517).
//!
//! The model gives, for every pixel x_i (raster order), the distribution
//! p(x_i | x_<i, h) of the whole pixel, a discretised logistic mixture
//! ([`crate::distributions::pixel_mixture`]) whose colours are ordered R → G → B inside the
//! mixture: the network itself conditions on whole pixels.
//!
//! ```text
//!  x ─► [y, 1] ─┬─► above      (rows strictly above)              ─┐
//!               └─► above-left (rows above, and this row's left)  ─┤
//!   down pass:  at each resolution, N gated residual blocks per stream, then a stride-2
//!               convolution (28×28 → 14×14 → 7×7); every output is kept ───────┐
//!   up pass:    from the coarsest resolution back, N (coarsest) or N + 1 blocks, each  │
//!               also reading its twin of the down pass (short-cuts) ◄─────────────────┘
//!               then a stride-2 transposed convolution (7×7 → 14×14 → 28×28)
//!   head:       ELU ─► 1×1 ─► the mixture's K(1 + 2C + C(C−1)/2) parameters per pixel
//! ```
//!
//! Two streams replace masks, as in the Gated PixelCNN, so there is no blind spot:
//! - **above**: convolutions of a ⌈k/2⌉ × k window that ends at the output's row and is
//!   centred on its column ("down-shifted"), its first layer shifted down one row, so
//!   it only ever sees rows strictly above;
//! - **above-left**: convolutions of a ⌈k/2⌉ × ⌈k/2⌉ window that ends at the output's row
//!   and column ("down-right-shifted"), its first layer a row above plus the pixels to the
//!   left (a 1 × k window shifted down and a ⌈k/2⌉ × 1 window shifted right); each of its
//!   blocks also reads the above stream at the same position.
//!
//! A gated residual block computes, with concat-ELU(v) = ELU([v, −v]):
//! ```text
//! c = concat-ELU(W₁ * concat-ELU(x) + V₁ concat-ELU(a))   (a: the auxiliary input, if any)
//! [p, q] = W₂ * dropout(c) + V₂ h                          (h: the class or vector, if any)
//! out = x + p ⊙ σ(q)
//! ```
//! The stride-2 convolutions use the same two window shapes (2 × 3 and 2 × 2), so a coarse
//! position still sees only the pixels before the block of pixels it covers; the transposed
//! convolutions give every fine position exactly one coarse input, never a later one. Both
//! claims are what the causality tests check at 1, 2 and 3 resolutions.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Dropout, DropoutConfig};
use burn::prelude::*;
use burn::tensor::activation::{elu, sigmoid};
use burn::tensor::ops::ConvOptions;

use super::conditioning::{Condition, ConditionMap, ConditionWidth};
use crate::distributions::pixel_mixture::{self, Layout};
use crate::fused::conv2d;
use crate::fused::dropout::dropout;

/// The most resolutions (halvings + 1) a PixelCNN++ may have.
pub const MAX_RESOLUTIONS: usize = 8;

/// Settings of a PixelCNN++; saved as `config.json` next to the weights.
#[derive(Config, Debug, PartialEq)]
pub struct PixelCnnPpConfig {
    /// Number of discrete values per colour channel (256 for 8-bit images).
    pub levels: usize,
    /// Colour channels per pixel: 1 grey or 3 RGB.
    #[config(default = 1)]
    pub colours: usize,
    /// Feature maps F of both streams.
    #[config(default = 32)]
    pub channels: usize,
    /// Gated residual blocks N per stream at each resolution of the down pass (N + 1 in the
    /// up pass, except at the coarsest resolution).
    #[config(default = 1)]
    pub blocks: usize,
    /// Resolutions: the image, then R − 1 halvings of it by stride-2 convolutions.
    #[config(default = 3)]
    pub resolutions: usize,
    /// Kernel width k (odd): the above stream reads ⌈k/2⌉ × k windows, the above-left stream
    /// ⌈k/2⌉ × ⌈k/2⌉.
    #[config(default = 3)]
    pub kernel: usize,
    /// Logistic components K of the output mixture.
    #[config(default = 5)]
    pub mixture: usize,
    /// Dropout probability inside every residual block during training (0 turns it off).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Number of classes for p(x | class); `None` for p(x).
    #[config(default = "None")]
    pub num_classes: Option<usize>,
    /// Dimension D of conditioning vectors h of p(x | h); `None` for p(x) or a class model.
    #[config(default = "None")]
    pub vector_dim: Option<usize>,
}

impl PixelCnnPpConfig {
    /// Checks that the settings describe a model that can be built.
    pub fn validate(&self) -> Result<(), String> {
        if self.levels < 2 {
            return Err(format!("levels must be at least 2, got {}", self.levels));
        }
        if self.channels == 0 || self.blocks == 0 {
            return Err("channels and blocks (--layers) must be at least 1".into());
        }
        if self.resolutions == 0 || self.resolutions > MAX_RESOLUTIONS {
            return Err(format!(
                "--resolutions must be 1 to {MAX_RESOLUTIONS}, got {}",
                self.resolutions
            ));
        }
        if self.kernel < 3 || self.kernel.is_multiple_of(2) || self.kernel > 15 {
            return Err(format!(
                "the PixelCNN++ kernel must be odd, 3 to 15, got {}",
                self.kernel
            ));
        }
        pixel_mixture::validate(self.mixture, self.colours)?;
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        ConditionWidth::validate_fields(self.num_classes, self.vector_dim)
    }

    /// Checks that images of `height` × `width` can be halved `resolutions − 1` times.
    pub fn check_image_size(&self, height: usize, width: usize) -> Result<(), String> {
        let factor = 1usize << (self.resolutions - 1);
        if !height.is_multiple_of(factor) || !width.is_multiple_of(factor) {
            let fits = (1..=self.resolutions)
                .rev()
                .find(|r| {
                    let f = 1usize << (r - 1);
                    height.is_multiple_of(f) && width.is_multiple_of(f)
                })
                .unwrap_or(1);
            return Err(format!(
                "PixelCNN++ with {} resolutions halves the image {} times, so its height and \
                 width must be multiples of {factor}; {height}×{width} is not (--resolutions \
                 {fits} fits)",
                self.resolutions,
                self.resolutions - 1
            ));
        }
        Ok(())
    }

    /// What the model is conditioned on (`None` for p(x)).
    pub fn condition(&self) -> Option<ConditionWidth> {
        ConditionWidth::from_fields(self.num_classes, self.vector_dim)
    }

    /// Rows ⌈k/2⌉ of both streams' windows.
    pub fn window_rows(&self) -> usize {
        self.kernel.div_ceil(2)
    }

    /// The longest chain of full-resolution window convolutions after the first layer, in
    /// either stream: the down pass's 2N, then (with coarser resolutions) the up pass's
    /// first block from its short-cut on (its second convolution only) and its N other
    /// blocks, or (one resolution) the up pass's N blocks continuing the stream: 4N + 1, or
    /// 4N.
    pub fn full_resolution_convolutions(&self) -> usize {
        if self.resolutions > 1 {
            4 * self.blocks + 1
        } else {
            4 * self.blocks
        }
    }

    /// Blocks per stream of the up pass at resolution `r` (0 the image, R − 1 the coarsest).
    fn up_blocks(&self, r: usize) -> usize {
        if r + 1 == self.resolutions {
            self.blocks
        } else {
            self.blocks + 1
        }
    }

    /// Builds the model with freshly initialised weights.
    pub fn init(&self, device: &Device) -> PixelCnnPp {
        let f = self.channels;
        let k = self.kernel;
        let rows = self.window_rows();
        let input = self.colours + 1;
        let condition = self.condition();
        let block = |auxiliary: usize, right: bool| {
            let window = if right { [rows, rows] } else { [rows, k] };
            GatedResidual {
                conv_in: ShiftedConv::new([2 * f, f], window, right, 1, device),
                auxiliary: (auxiliary > 0)
                    .then(|| Conv2dConfig::new([2 * auxiliary, f], [1, 1]).init(device)),
                conv_out: ShiftedConv::new([2 * f, 2 * f], window, right, 1, device),
                condition: condition.map(|w| ConditionMap::new(w, 2 * f, device)),
                dropout: DropoutConfig::new(self.dropout).init(),
            }
        };
        let r = self.resolutions;
        let down = (0..r)
            .map(|_| Level {
                above: (0..self.blocks).map(|_| block(0, false)).collect(),
                above_left: (0..self.blocks).map(|_| block(f, true)).collect(),
            })
            .collect();
        let up = (0..r)
            .rev()
            .map(|res| Level {
                above: (0..self.up_blocks(res)).map(|_| block(f, false)).collect(),
                above_left: (0..self.up_blocks(res))
                    .map(|_| block(2 * f, true))
                    .collect(),
            })
            .collect();
        let transposed = |kernel: [usize; 2]| {
            ConvTranspose2dConfig::new([f, f], kernel)
                .with_stride([2, 2])
                .init(device)
        };
        PixelCnnPp {
            first_above: ShiftedConv::new([input, f], [rows, k], false, 1, device),
            first_above_left_row: ShiftedConv::new([input, f], [1, k], false, 1, device),
            first_above_left_col: ShiftedConv::new([input, f], [rows, 1], true, 1, device),
            down,
            down_sample_above: (1..r)
                .map(|_| ShiftedConv::new([f, f], [2, 3], false, 2, device))
                .collect(),
            down_sample_above_left: (1..r)
                .map(|_| ShiftedConv::new([f, f], [2, 2], true, 2, device))
                .collect(),
            up,
            up_sample_above: (1..r).map(|_| transposed([2, 3])).collect(),
            up_sample_above_left: (1..r).map(|_| transposed([2, 2])).collect(),
            head: Conv2dConfig::new(
                [f, Layout::new(self.mixture, self.colours).channels()],
                [1, 1],
            )
            .init(device),
            levels: self.levels,
            colours: self.colours,
            components: self.mixture,
        }
    }
}

/// ELU([v, −v]) along the channels: both signs of every feature pass, each through an ELU.
pub fn concat_elu(v: Tensor<4>) -> Tensor<4> {
    elu(Tensor::cat(vec![v.clone(), v.neg()], 1), 1.0)
}

/// `x` moved down one row (a zero row on top, the last row dropped).
pub fn shift_down(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let zeros = Tensor::zeros([n, c, 1, w], &x.device());
    Tensor::cat(vec![zeros, x.narrow(2, 0, h - 1)], 2)
}

/// `x` moved right one column (a zero column on the left, the last column dropped).
pub fn shift_right(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let zeros = Tensor::zeros([n, c, h, 1], &x.device());
    Tensor::cat(vec![zeros, x.narrow(3, 0, w - 1)], 3)
}

/// A convolution whose kh × kw window ends at the output's row: centred on its column
/// (the above stream's "down-shifted" window) or ending at it (the above-left stream's
/// "down-right-shifted" window). Output (i, j) at stride s reads input rows
/// s·i − kh + 1 .. s·i and columns s·j − ⌊kw/2⌋ .. s·j + ⌊kw/2⌋ (centred) or
/// s·j − kw + 1 .. s·j (ending), zeros outside the image.
#[derive(Module, Debug)]
pub struct ShiftedConv {
    pub(crate) conv: Conv2d,
    /// The window ends at the output's column (instead of being centred on it).
    ends_at_column: bool,
    stride: usize,
}

impl ShiftedConv {
    fn new(
        channels: [usize; 2],
        kernel: [usize; 2],
        ends_at_column: bool,
        stride: usize,
        device: &Device,
    ) -> Self {
        Self {
            conv: Conv2dConfig::new(channels, kernel).init(device),
            ends_at_column,
            stride,
        }
    }

    fn kernel(&self) -> [usize; 2] {
        self.conv.kernel_size
    }

    /// Padding (left, right) of the columns.
    fn column_padding(&self) -> (usize, usize) {
        let kw = self.kernel()[1];
        if self.ends_at_column {
            (kw - 1, 0)
        } else {
            ((kw - 1) / 2, (kw - 1) / 2)
        }
    }

    fn apply(&self, x: Tensor<4>, padding: [(usize, usize); 2], stride: usize) -> Tensor<4> {
        let options = ConvOptions::new_with_padding([stride, stride], padding, [1, 1], 1);
        conv2d(
            x,
            self.conv.weight.val(),
            self.conv.bias.as_ref().map(|b| b.val()),
            options,
        )
    }

    /// The convolution of a whole map [batch, C, H, W] → [batch, C', H/s, W/s].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let top = self.kernel()[0] - 1;
        self.apply(x, [(top, 0), self.column_padding()], self.stride)
    }

    /// One output row from the kh input rows it reads ([batch, C, kh, W], zeros above the
    /// image): [batch, C', 1, W/s], equal to that row of [`Self::forward`].
    pub fn forward_rows(&self, window: Tensor<4>) -> Tensor<4> {
        self.apply(window, [(0, 0), self.column_padding()], self.stride)
    }

    /// One output position from the kh × kw inputs it reads ([batch, C, kh, kw], zeros
    /// outside the image): [batch, C', 1, 1].
    pub fn forward_at(&self, window: Tensor<4>) -> Tensor<4> {
        self.apply(window, [(0, 0), (0, 0)], 1)
    }

    /// Rows kh of the window.
    pub fn window_rows(&self) -> usize {
        self.kernel()[0]
    }

    /// Columns kw of the window.
    pub fn window_columns(&self) -> usize {
        self.kernel()[1]
    }
}

/// A gated residual block: out = x + p ⊙ σ(q), [p, q] = W₂ * dropout(c) + V₂ h,
/// c = concat-ELU(W₁ * concat-ELU(x) + V₁ concat-ELU(a)).
#[derive(Module, Debug)]
pub struct GatedResidual {
    pub(crate) conv_in: ShiftedConv,
    /// V₁: the 1×1 map of the auxiliary input a (absent for the down pass's above stream).
    pub(crate) auxiliary: Option<Conv2d>,
    pub(crate) conv_out: ShiftedConv,
    /// V₂: how h enters the gates (absent for p(x)).
    pub(crate) condition: Option<ConditionMap>,
    dropout: Dropout,
}

impl GatedResidual {
    /// The block on whole maps: `x` [batch, F, H, W], `a` the auxiliary input.
    pub fn forward(
        &self,
        x: Tensor<4>,
        a: Option<Tensor<4>>,
        condition: Option<&Condition>,
    ) -> Tensor<4> {
        let inner = self.inner(self.conv_in.forward(concat_elu(x.clone())), a);
        let bias = self.condition_bias(condition);
        self.outer(self.conv_out.forward(inner), x, bias)
    }

    /// c = dropout(concat-ELU(`convolved` + V₁ concat-ELU(a))), from W₁ * concat-ELU(x).
    pub(crate) fn inner(&self, convolved: Tensor<4>, a: Option<Tensor<4>>) -> Tensor<4> {
        let c = match (&self.auxiliary, a) {
            (Some(map), Some(a)) => convolved + map.forward(concat_elu(a)),
            (None, None) => convolved,
            _ => unreachable!("a block reads an auxiliary input exactly when it has its map"),
        };
        dropout(&self.dropout, concat_elu(c))
    }

    /// x + p ⊙ σ(q) from `convolved` = W₂ * c and the conditioning `bias` V₂ h.
    pub(crate) fn outer(
        &self,
        convolved: Tensor<4>,
        x: Tensor<4>,
        bias: Option<Tensor<4>>,
    ) -> Tensor<4> {
        let pre = match bias {
            Some(bias) => convolved + bias,
            None => convolved,
        };
        let f = x.dims()[1];
        let p = pre.clone().narrow(1, 0, f);
        let q = pre.narrow(1, f, f);
        x + p * sigmoid(q)
    }

    /// V₂ h [batch, 2F, 1, 1], or `None` when the block or the batch is unconditional.
    pub(crate) fn condition_bias(&self, condition: Option<&Condition>) -> Option<Tensor<4>> {
        Some(self.condition.as_ref()?.forward_image(condition?))
    }
}

/// The blocks of both streams at one resolution of one pass.
#[derive(Module, Debug)]
pub struct Level {
    pub(crate) above: Vec<GatedResidual>,
    pub(crate) above_left: Vec<GatedResidual>,
}

/// PixelCNN++: the two streams, down and up passes, and the mixture head.
#[derive(Module, Debug)]
pub struct PixelCnnPp {
    pub(crate) first_above: ShiftedConv,
    pub(crate) first_above_left_row: ShiftedConv,
    pub(crate) first_above_left_col: ShiftedConv,
    /// The down pass, finest resolution first.
    pub(crate) down: Vec<Level>,
    pub(crate) down_sample_above: Vec<ShiftedConv>,
    pub(crate) down_sample_above_left: Vec<ShiftedConv>,
    /// The up pass, coarsest resolution first.
    pub(crate) up: Vec<Level>,
    /// `up_sample_*[i]` leads from up level i to up level i + 1.
    pub(crate) up_sample_above: Vec<ConvTranspose2d>,
    pub(crate) up_sample_above_left: Vec<ConvTranspose2d>,
    pub(crate) head: Conv2d,
    levels: usize,
    colours: usize,
    components: usize,
}

/// The above stream's transposed convolution (2 × 3, stride 2) of `x` [batch, F, H, W] to
/// [batch, F, 2H, 2W]: fine row i reads coarse row ⌊i/2⌋ only.
pub(crate) fn up_sample_above(conv: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let w = x.dims()[3];
    // (2H, 2W + 1): the window is centred, so the first column is dropped.
    conv.forward(x).narrow(3, 1, 2 * w)
}

impl PixelCnnPp {
    /// The network's input: the level centres y = 2l/(L−1) − 1 of every colour, and a
    /// plane of ones (so that the zero padding outside the image differs from a pixel):
    /// [batch, C + 1, H, W].
    pub fn embed(&self, x: Tensor<4, Int>) -> Tensor<4> {
        let [n, _, h, w] = x.dims();
        let ones = Tensor::ones([n, 1, h, w], &x.device());
        Tensor::cat(vec![pixel_mixture::scaled(x, self.levels), ones], 1)
    }

    /// The mixture's parameters for every pixel, [batch, K(1 + 2C + C(C−1)/2), H, W],
    /// from the embedded input (see [`Self::embed`]).
    pub fn parameters(&self, input: Tensor<4>, condition: Option<Condition>) -> Tensor<4> {
        let h = condition.as_ref();
        let mut above = shift_down(self.first_above.forward(input.clone()));
        let mut above_left = shift_down(self.first_above_left_row.forward(input.clone()))
            + shift_right(self.first_above_left_col.forward(input));
        // Every output of the down pass, for the up pass's short-cuts.
        let mut kept = vec![(above.clone(), above_left.clone())];
        for (r, level) in self.down.iter().enumerate() {
            for (block, left_block) in level.above.iter().zip(&level.above_left) {
                above = block.forward(above, None, h);
                above_left = left_block.forward(above_left, Some(above.clone()), h);
                kept.push((above.clone(), above_left.clone()));
            }
            if r + 1 < self.down.len() {
                above = self.down_sample_above[r].forward(above);
                above_left = self.down_sample_above_left[r].forward(above_left);
                kept.push((above.clone(), above_left.clone()));
            }
        }
        // The up pass starts from the coarsest outputs, which are `above` and `above_left`.
        kept.pop();
        for (i, level) in self.up.iter().enumerate() {
            if i > 0 {
                above = up_sample_above(&self.up_sample_above[i - 1], above);
                above_left = self.up_sample_above_left[i - 1].forward(above_left);
            }
            for (block, left_block) in level.above.iter().zip(&level.above_left) {
                let (twin, left_twin) = kept.pop().expect("one kept output per up block");
                above = block.forward(above, Some(twin), h);
                let auxiliary = Tensor::cat(vec![above.clone(), left_twin], 1);
                above_left = left_block.forward(above_left, Some(auxiliary), h);
            }
        }
        debug_assert!(kept.is_empty(), "every kept output is read once");
        self.head.forward(elu(above_left, 1.0))
    }

    /// ln p(x | h) of each image, in nats ([batch]).
    pub fn log_prob(&self, x: Tensor<4, Int>, condition: Option<Condition>) -> Tensor<1> {
        let params = self.parameters(self.embed(x.clone()), condition);
        pixel_mixture::log_prob(params, x, self.levels, self.components)
    }

    /// The conditionals ln p(x_{i,c} = l | x_<i, x_{i,<c}, h) of every level, pixel and
    /// colour, [batch, L, C, H, W] (the form of every image model's logits).
    pub fn forward(&self, x: Tensor<4, Int>, condition: Option<Condition>) -> Tensor<5> {
        self.forward_embedded(self.embed(x), condition)
    }

    /// [`Self::forward`] from an embedded input; differentiable with respect to it (the
    /// colours' centres enter the network and the mixture's colour means).
    pub fn forward_embedded(&self, input: Tensor<4>, condition: Option<Condition>) -> Tensor<5> {
        let y = input.clone().narrow(1, 0, self.colours);
        let params = self.parameters(input, condition);
        pixel_mixture::level_log_probs(params, y, self.levels, self.components)
    }

    /// Levels L per colour.
    pub fn levels(&self) -> usize {
        self.levels
    }

    /// Colours per pixel.
    pub fn colours(&self) -> usize {
        self.colours
    }

    /// Mixture components K.
    pub fn components(&self) -> usize {
        self.components
    }

    /// Whether the model is conditional (on classes or vectors).
    pub fn is_conditional(&self) -> bool {
        self.down
            .first()
            .and_then(|l| l.above.first())
            .is_some_and(|b| b.condition.is_some())
    }
}
