//! Masked convolution (van den Oord et al. 2016, "Pixel Recurrent Neural Networks").
//!
//! A k x k convolution whose weights are multiplied by a fixed 0/1 mask so that the output
//! at a pixel reads only pixels before it in raster order. With colour images the feature
//! maps are split into C equal groups (R, G, B for C = 3), and within the current pixel a
//! group may read only the groups before it:
//!
//! - **mask A** (first layer): the current pixel's channel c reads input groups < c;
//! - **mask B** (later layers): the current pixel's group c reads input groups ≤ c.
//!
//! Pixels above, and to the left in the same row, are read in full by every group. The mask
//! is a constant of the module: it is neither trained nor saved.

use crate::fused::conv2d;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::ops::ConvOptions;

/// Which taps of the current pixel the mask keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskType {
    /// Excludes the current pixel's own channel group (first layer).
    A,
    /// Includes it (later layers).
    B,
}

/// The group (colour) of channel `i` of `n` channels split into `groups` equal blocks.
pub fn channel_group(i: usize, n: usize, groups: usize) -> usize {
    i * groups / n
}

/// Whether, at the current pixel, output channel `o` of `out_channels` may read input channel
/// `i` of `in_channels` (`groups` colours; with `gated_output` the outputs are two halves, the
/// filter and the gate of a gated activation, each split into the colour groups).
pub fn current_pixel_allowed(
    o: usize,
    out_channels: usize,
    i: usize,
    in_channels: usize,
    groups: usize,
    mask: MaskType,
    gated_output: bool,
) -> bool {
    let group_out = if gated_output {
        let half = out_channels / 2;
        channel_group(o % half, half, groups)
    } else {
        channel_group(o, out_channels, groups)
    };
    let group_in = channel_group(i, in_channels, groups);
    match mask {
        MaskType::A => group_in < group_out,
        MaskType::B => group_in <= group_out,
    }
}

/// The 0/1 mask of shape [out, in, k, k] as a flat vector (row-major).
pub fn mask_values(
    out_channels: usize,
    in_channels: usize,
    kernel: usize,
    groups: usize,
    mask: MaskType,
) -> Vec<f32> {
    let centre = kernel / 2;
    let mut values = Vec::with_capacity(out_channels * in_channels * kernel * kernel);
    for o in 0..out_channels {
        let group_out = channel_group(o, out_channels, groups);
        for i in 0..in_channels {
            let group_in = channel_group(i, in_channels, groups);
            let current_allowed = match mask {
                MaskType::A => group_in < group_out,
                MaskType::B => group_in <= group_out,
            };
            for y in 0..kernel {
                for x in 0..kernel {
                    let before = y < centre || (y == centre && x < centre);
                    let current = y == centre && x == centre;
                    values.push(f32::from(u8::from(before || (current && current_allowed))));
                }
            }
        }
    }
    values
}

/// A k x k convolution with a raster-order mask (same-size output).
#[derive(Module, Debug)]
pub struct MaskedConv2d {
    conv: Conv2d,
    /// The 0/1 mask [out, in, k, k]; a constant, not a parameter.
    mask: Tensor<4>,
}

impl MaskedConv2d {
    /// A masked convolution from `in_channels` to `out_channels` (both divisible by `groups`,
    /// the number of colour channels) with an odd kernel size.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        groups: usize,
        mask: MaskType,
        device: &Device,
    ) -> Self {
        let half = kernel / 2;
        let conv = Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
            .with_padding(PaddingConfig2d::Explicit(half, half, half, half))
            .init(device);
        let values = mask_values(out_channels, in_channels, kernel, groups, mask);
        let mask = Tensor::from_data(
            TensorData::new(values, [out_channels, in_channels, kernel, kernel]),
            device,
        );
        Self { conv, mask }
    }

    /// The mask, [out, in, k, k].
    pub fn mask(&self) -> Tensor<4> {
        self.mask.clone()
    }

    /// A 1×1 masked convolution as a matrix [out, in] (the masked weights) and its bias [out]
    /// (zeros when it has none): what [`crate::fused::head_log_prob`] reads.
    pub fn pointwise_parameters(&self) -> (Tensor<2>, Tensor<1>) {
        let [c_out, c_in, kh, kw] = self.conv.weight.dims();
        assert_eq!([kh, kw], [1, 1], "a 1x1 convolution");
        let weight = (self.conv.weight.val() * self.mask.clone()).reshape([c_out, c_in]);
        let bias = match &self.conv.bias {
            Some(b) => b.val(),
            None => Tensor::zeros([c_out], &weight.device()),
        };
        (weight, bias)
    }

    /// Applies the masked convolution to `x` [batch, in, height, width].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let half = self.conv.kernel_size[0] / 2;
        let weight = self.conv.weight.val() * self.mask.clone();
        let options = ConvOptions::new([1, 1], [half, half], [1, 1], 1);
        conv2d(x, weight, self.conv.bias.as_ref().map(|b| b.val()), options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mask of one (out, in) channel pair as k rows of k taps.
    fn taps(values: &[f32], o: usize, i: usize, in_channels: usize, k: usize) -> Vec<Vec<u8>> {
        let start = (o * in_channels + i) * k * k;
        values[start..start + k * k]
            .chunks(k)
            .map(|row| row.iter().map(|&v| v as u8).collect())
            .collect()
    }

    #[test]
    fn grey_masks_have_the_papers_zero_pattern() {
        let a = mask_values(1, 1, 3, 1, MaskType::A);
        let b = mask_values(1, 1, 3, 1, MaskType::B);
        assert_eq!(
            taps(&a, 0, 0, 1, 3),
            vec![vec![1, 1, 1], vec![1, 0, 0], vec![0, 0, 0]]
        );
        assert_eq!(
            taps(&b, 0, 0, 1, 3),
            vec![vec![1, 1, 1], vec![1, 1, 0], vec![0, 0, 0]]
        );
        for k in [3, 5, 7] {
            let a = mask_values(1, 1, k, 1, MaskType::A);
            let b = mask_values(1, 1, k, 1, MaskType::B);
            let rows_a = taps(&a, 0, 0, 1, k);
            let rows_b = taps(&b, 0, 0, 1, k);
            for y in 0..k {
                for x in 0..k {
                    let before = y < k / 2 || (y == k / 2 && x < k / 2);
                    assert_eq!(rows_a[y][x] == 1, before, "mask A, k {k}, tap {y},{x}");
                    assert_eq!(
                        rows_b[y][x] == 1,
                        before || (y == k / 2 && x == k / 2),
                        "mask B, k {k}"
                    );
                }
            }
            assert_eq!(a.iter().sum::<f32>() as usize, (k * k - 1) / 2);
            assert_eq!(b.iter().sum::<f32>() as usize, (k * k).div_ceil(2));
        }
    }

    #[test]
    fn colour_masks_order_the_channels_r_g_b_at_the_current_pixel() {
        for k in [3, 5, 7] {
            let c = k / 2;
            let a = mask_values(3, 3, k, 3, MaskType::A);
            let b = mask_values(3, 3, k, 3, MaskType::B);
            for o in 0..3 {
                for i in 0..3 {
                    let (ta, tb) = (taps(&a, o, i, 3, k), taps(&b, o, i, 3, k));
                    // Centre tap: A strictly lower triangular (out > in), B with the diagonal.
                    assert_eq!(ta[c][c] == 1, i < o, "mask A centre, out {o}, in {i}");
                    assert_eq!(tb[c][c] == 1, i <= o, "mask B centre, out {o}, in {i}");
                    // Every other tap is the grey pattern, for every pair of colours.
                    assert_eq!(ta[c - 1], vec![1; k]);
                    assert_eq!(ta[c][..c], vec![1; c][..]);
                    assert!(
                        ta[c][c + 1..]
                            .iter()
                            .chain(ta[c + 1..].iter().flatten())
                            .all(|&v| v == 0)
                    );
                }
            }
        }
        // Feature maps split into equal colour groups: 6 maps are R R G G B B.
        assert_eq!(
            (0..6).map(|i| channel_group(i, 6, 3)).collect::<Vec<_>>(),
            vec![0, 0, 1, 1, 2, 2]
        );
    }
}
