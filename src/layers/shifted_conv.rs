//! Shifted convolutions: the two receptive fields of the Gated PixelCNN.
//!
//! Pixels are ordered in raster order (row by row, left to right). A convolution keeps that
//! order causal if it pads the input on the "past" side only and, where needed, shifts the
//! output by one so that the current position is excluded.
//!
//! - [`VerticalConv`]: a ⌈k/2⌉ x k kernel that reads whole rows above the output position
//!   (all columns within k/2 of it, to the left and to the right). In the first layer it
//!   reads rows r-⌈k/2⌉..r-1 (strictly above); in later layers, whose inputs already only see
//!   rows above, it reads rows r-⌊k/2⌋..r.
//! - [`HorizontalConv`]: a 1 x ⌈k/2⌉ kernel that reads the output's own row, to the left.
//!   In the first layer it reads columns c-⌈k/2⌉..c-1 (excluding the current pixel, the
//!   "mask A" of the PixelCNN); in later layers columns c-⌊k/2⌋..c.
//!
//! No weight is ever masked: the shape of the kernel and the padding alone decide what an
//! output can see, which is why the two stacks together have no blind spot.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::ops::ConvOptions;

use crate::fused::conv2d;
use crate::layers::masked_conv::{MaskType, current_pixel_allowed};

/// The convolution of `conv` applied with the given `[(top, bottom), (left, right)]` padding.
fn conv_with_padding(conv: &Conv2d, x: Tensor<4>, padding: [(usize, usize); 2]) -> Tensor<4> {
    let options = ConvOptions::new_with_padding([1, 1], padding, [1, 1], 1);
    conv2d(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|b| b.val()),
        options,
    )
}

/// Builds a convolution with explicit `(top, left, bottom, right)` padding.
fn padded_conv(
    channels: [usize; 2],
    kernel: [usize; 2],
    padding: (usize, usize, usize, usize),
    device: &Device,
) -> Conv2d {
    let (top, left, bottom, right) = padding;
    Conv2dConfig::new(channels, kernel)
        .with_padding(PaddingConfig2d::Explicit(top, left, bottom, right))
        .init(device)
}

/// A convolution over the rows above each pixel: output (r, c) reads input rows
/// `r-h..r-1` (`strict`) or `r-h+1..r` (not strict), columns `c-k/2..c+k/2`, with h = ⌈k/2⌉.
#[derive(Module, Debug)]
pub struct VerticalConv {
    conv: Conv2d,
    /// When true, the output at row r depends on input rows < r only.
    strict: bool,
}

impl VerticalConv {
    /// A vertical convolution with an odd kernel width `kernel` (its height is ⌈kernel/2⌉).
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        strict: bool,
        device: &Device,
    ) -> Self {
        let half = kernel / 2;
        // Strict: one extra row of padding on top; the surplus last output row is dropped.
        let top = if strict { half + 1 } else { half };
        let conv = padded_conv(
            [in_channels, out_channels],
            [half + 1, kernel],
            (top, half, 0, half),
            device,
        );
        Self { conv, strict }
    }

    /// Applies the convolution to `x` of shape [batch, channels, height, width]; the output
    /// has the same height and width.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let height = x.dims()[2];
        let half = self.conv.kernel_size[1] / 2;
        let top = if self.strict { half + 1 } else { half };
        let y = conv_with_padding(&self.conv, x, [(top, 0), (half, half)]);
        if self.strict {
            y.narrow(2, 0, height)
        } else {
            y
        }
    }
}

impl VerticalConv {
    /// Number of input rows one output row reads: ⌈k/2⌉.
    pub fn window_rows(&self) -> usize {
        self.conv.kernel_size[0]
    }

    /// Whether an output row reads only the rows strictly above it.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// One output row from exactly the input rows it reads, for generation row by row:
    /// `window` [batch, channels, ⌈k/2⌉, width] holds rows r-⌈k/2⌉..r-1 (strict) or
    /// r-⌊k/2⌋..r (not strict), zeros above the image; the result is row r,
    /// [batch, out_channels, 1, width], equal to row r of [`Self::forward`].
    pub fn forward_window(&self, window: Tensor<4>) -> Tensor<4> {
        let half = self.conv.kernel_size[1] / 2;
        conv_with_padding(&self.conv, window, [(0, 0), (half, half)])
    }
}

/// A convolution along each pixel's own row, to the left: output (r, c) reads input
/// columns `c-w..c-1` (`strict`) or `c-w+1..c` (not strict) of row r, with w = ⌈k/2⌉.
///
/// For colour images the current column's tap carries a channel mask (see
/// [`HorizontalConv::new_colour`]): the R → G → B order within the pixel.
#[derive(Module, Debug)]
pub struct HorizontalConv {
    conv: Conv2d,
    /// When true, the output at column c depends on input columns < c only.
    strict: bool,
    /// 0/1 mask [out, in, 1, w] on the weights (colour images only): ones on the columns to
    /// the left, the colour order on the current column. A constant, not a parameter.
    mask: Option<Tensor<4>>,
}

impl HorizontalConv {
    /// A horizontal convolution for kernel size `kernel` (its width is ⌈kernel/2⌉).
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        strict: bool,
        device: &Device,
    ) -> Self {
        let half = kernel / 2;
        let left = if strict { half + 1 } else { half };
        let conv = padded_conv(
            [in_channels, out_channels],
            [1, half + 1],
            (0, left, 0, 0),
            device,
        );
        Self {
            conv,
            strict,
            mask: None,
        }
    }

    /// A horizontal convolution for colour images (not strict: it reads the current column)
    /// whose current-column tap lets output colour g read input colours < g (mask A, first
    /// layer) or ≤ g (mask B, later layers). The outputs are the two halves (filter, gate) of
    /// a gated activation, each in `colours` groups.
    pub fn new_colour(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        colours: usize,
        mask: MaskType,
        device: &Device,
    ) -> Self {
        let half = kernel / 2;
        let width = half + 1;
        let conv = padded_conv(
            [in_channels, out_channels],
            [1, width],
            (0, half, 0, 0),
            device,
        );
        let mut values = Vec::with_capacity(out_channels * in_channels * width);
        for o in 0..out_channels {
            for i in 0..in_channels {
                for tap in 0..width {
                    let current = tap == half;
                    let allowed = !current
                        || current_pixel_allowed(
                            o,
                            out_channels,
                            i,
                            in_channels,
                            colours,
                            mask,
                            true,
                        );
                    values.push(f32::from(u8::from(allowed)));
                }
            }
        }
        let mask = Tensor::from_data(
            TensorData::new(values, [out_channels, in_channels, 1, width]),
            device,
        );
        Self {
            conv,
            strict: false,
            mask: Some(mask),
        }
    }

    /// The weights, masked when the convolution has a colour mask.
    fn weight(&self) -> Tensor<4> {
        match &self.mask {
            Some(mask) => self.conv.weight.val() * mask.clone(),
            None => self.conv.weight.val(),
        }
    }

    /// Applies the convolution to `x` of shape [batch, channels, height, width]; the output
    /// has the same height and width.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let width = x.dims()[3];
        let half = self.conv.kernel_size[1] - 1;
        let left = if self.strict { half + 1 } else { half };
        let options = ConvOptions::new_with_padding([1, 1], [(0, 0), (left, 0)], [1, 1], 1);
        let y = conv2d(
            x,
            self.weight(),
            self.conv.bias.as_ref().map(|b| b.val()),
            options,
        );
        if self.strict {
            y.narrow(3, 0, width)
        } else {
            y
        }
    }
}

impl HorizontalConv {
    /// Number of input columns one output pixel reads: ⌈k/2⌉.
    pub fn window_columns(&self) -> usize {
        self.conv.kernel_size[1]
    }

    /// Whether an output pixel reads only the columns strictly left of it.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// One output pixel from exactly the input pixels it reads, for generation pixel by
    /// pixel: `window` [batch, channels, 1, ⌈k/2⌉] holds columns c-⌈k/2⌉..c-1 (strict) or
    /// c-⌊k/2⌋..c (not strict) of the row, zeros left of the image; the result is pixel c,
    /// [batch, out_channels, 1, 1].
    pub fn forward_window(&self, window: Tensor<4>) -> Tensor<4> {
        let options = ConvOptions::new_with_padding([1, 1], [(0, 0), (0, 0)], [1, 1], 1);
        conv2d(
            window,
            self.weight(),
            self.conv.bias.as_ref().map(|b| b.val()),
            options,
        )
    }
}
