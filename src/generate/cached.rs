//! Cached generation for the Gated PixelCNN.
//!
//! Each layer's output at a position depends on a small window of the previous layer's
//! outputs (see [`crate::layers::shifted_conv`]), so nothing needs recomputing:
//!
//! - at the start of row r, the **vertical stack** is computed for row r only, layer after
//!   layer, each from the ⌈k/2⌉ rows of its input it reads (kept from earlier rows); it
//!   depends only on rows above, which are complete;
//! - for each pixel (r, c), the **horizontal stack** is computed for that pixel only, each
//!   layer from the ⌈k/2⌉ columns of the current row of its input it reads, plus the 1x1
//!   link from the vertical stack's row r;
//! - the **output head** runs on that one pixel.
//!
//! Colour images are generated colour by colour within a pixel (R → G → B): the pixel's
//! column of every horizontal layer is recomputed once per colour, after the colours drawn
//! so far have joined its input; the colour masks keep colour g from reading colours ≥ g.
//!
//! A pixel then costs one column of every layer instead of a whole-image pass. The caches
//! are the per-layer lists of rows (vertical) and of the current row's columns
//! (horizontal); they start empty for each batch.

use burn::prelude::*;

use super::{SampleRequest, choose_levels, image_streams};
use crate::models::gated_pixelcnn::gate;
use crate::models::{GatedPixelCnn, ImageModel};

/// Generates images with per-layer caches; the same images as [`super::sample_naive`] for
/// the same request. The Gated PixelCNN (grey or colour) and the PixelCNN++ (with strides,
/// [`super::pixelcnn_pp`]) have cached paths; the PixelCNN is generated naively.
pub fn sample_cached(model: &ImageModel, request: &SampleRequest, device: &Device) -> Vec<u8> {
    sample_cached_on(model, request, std::slice::from_ref(device))
}

/// [`sample_cached`] with the batches dealt over several devices (the same images).
pub fn sample_cached_on(
    model: &ImageModel,
    request: &SampleRequest,
    devices: &[Device],
) -> Vec<u8> {
    match model {
        ImageModel::Gated(_) | ImageModel::AutoEncoder(_) => {}
        ImageModel::PixelCnnPp(_) => {
            return super::pixelcnn_pp::sample_cached(model, request, devices);
        }
        _ => return super::sample_naive_on(model, request, devices),
    }
    super::in_batches_over(model, request, devices, |model, first, labels, device| {
        let gated = match model {
            ImageModel::Gated(gated) => gated,
            ImageModel::AutoEncoder(ae) => &ae.decoder,
            _ => unreachable!("matched above"),
        };
        sample_batch(gated, model, request, labels, first, device)
    })
}

/// `rows[i]`, or zeros (the convolutions' padding) when `i` is above or left of the image.
fn row_or_zeros(rows: &[Tensor<4>], i: isize, zeros: &Tensor<4>) -> Tensor<4> {
    if i < 0 {
        zeros.clone()
    } else {
        rows[i as usize].clone()
    }
}

/// The window a shifted convolution reads, stacked along `dim`: the `size` entries ending at
/// `last` (inclusive), zeros before the start.
fn window(
    entries: &[Tensor<4>],
    last: isize,
    size: usize,
    zeros: &Tensor<4>,
    dim: usize,
) -> Tensor<4> {
    let parts = (0..size as isize)
        .map(|k| row_or_zeros(entries, last - size as isize + 1 + k, zeros))
        .collect();
    Tensor::cat(parts, dim)
}

/// One batch of images, pixel by pixel, with caches.
fn sample_batch(
    model: &GatedPixelCnn,
    image_model: &ImageModel,
    request: &SampleRequest,
    labels: &[Option<usize>],
    first_image: usize,
    device: &Device,
) -> Vec<u8> {
    let (h, w, n, c) = (request.height, request.width, labels.len(), request.colours);
    let size = request.image_size();
    let mut rngs = image_streams(request, first_image, n);
    let levels = model.levels();
    // Channels of each stack: the embedding's width per colour, times the colours.
    let p = model.embedding.weight.dims()[1] * c;
    let condition =
        model.image_condition(request.condition(image_model, first_image..first_image + n, device));
    // What the conditioning adds to every layer's (vertical, horizontal) gates, computed
    // once: [n, 2p, 1, 1] (global) or [n, 2p, h, w] (location-dependent).
    let biases: Vec<Option<(Tensor<4>, Tensor<4>)>> = model
        .layers
        .iter()
        .map(|l| condition.as_ref().map(|c| l.condition_biases(c)))
        .collect();

    let zero_row = Tensor::<4>::zeros([n, p, 1, w], device);
    let zero_col = Tensor::<4>::zeros([n, p, 1, 1], device);
    let depth = model.layers.len();
    // Vertical caches: the embedded input's rows, and each layer's output rows.
    let mut input_rows: Vec<Tensor<4>> = Vec::with_capacity(h);
    let mut vertical_rows: Vec<Vec<Tensor<4>>> = vec![Vec::with_capacity(h); depth];
    let mut pixels = vec![0u8; n * size];

    for row in 0..h {
        // The vertical stack at this row, bottom-up; keep each layer's link into the
        // horizontal stack ([n, 2p, 1, w]).
        let mut links = Vec::with_capacity(depth);
        for (l, layer) in model.layers.iter().enumerate() {
            let source = if l == 0 {
                &input_rows
            } else {
                &vertical_rows[l - 1]
            };
            let last = if layer.vertical.is_strict() {
                row as isize - 1
            } else {
                row as isize
            };
            let v_window = window(source, last, layer.vertical.window_rows(), &zero_row, 2);
            let mut v_pre = layer.vertical.forward_window(v_window);
            links.push(layer.vertical_to_horizontal.forward(v_pre.clone()));
            if let Some((bias, _)) = &biases[l] {
                v_pre = v_pre + at_rows(bias, row..row + 1);
            }
            vertical_rows[l].push(gate(v_pre));
        }

        // The horizontal stack and the head, pixel by pixel; within a pixel, colour by
        // colour: the current pixel's column of every layer is recomputed once its earlier
        // colours are known (the colour masks keep colour g from reading colours >= g).
        let mut input_cols: Vec<Tensor<4>> = Vec::with_capacity(w);
        let mut horizontal_cols: Vec<Vec<Tensor<4>>> = vec![Vec::with_capacity(w); depth];
        for col in 0..w {
            let pixel = row * w + col;
            // The current pixel's levels, [image][colour]; colours not yet drawn are 0, as
            // in the naive path (and unread).
            let mut levels_now = vec![0i64; n * c];
            for colour in 0..c {
                let embedded = embed_pixel(model, &levels_now, n, c, device);
                set_column(&mut input_cols, col, embedded);
                for (l, layer) in model.layers.iter().enumerate() {
                    let source = if l == 0 {
                        &input_cols
                    } else {
                        &horizontal_cols[l - 1]
                    };
                    let last = if layer.horizontal.is_strict() {
                        col as isize - 1
                    } else {
                        col as isize
                    };
                    let h_window = window(
                        source,
                        last,
                        layer.horizontal.window_columns(),
                        &zero_col,
                        3,
                    );
                    let link = links[l].clone().slice([0..n, 0..2 * p, 0..1, col..col + 1]);
                    let mut h_pre = layer.horizontal.forward_window(h_window) + link;
                    if let Some((_, bias)) = &biases[l] {
                        h_pre = h_pre + at_pixel(bias, row, col);
                    }
                    let gated = layer.horizontal_out_forward(gate(h_pre));
                    let h_out = if layer.first {
                        gated
                    } else {
                        source[col].clone() + gated
                    };
                    set_column(&mut horizontal_cols[l], col, h_out);
                }
                let top = horizontal_cols[depth - 1][col].clone();
                // [n, c·L, 1, 1]: level l of colour g is channel g·L + l.
                let logits = model
                    .head(top)
                    .reshape([n, c, levels])
                    .narrow(1, colour, 1)
                    .reshape([n, levels])
                    .into_data();
                let position = pixel * c + colour;
                let chosen =
                    choose_levels(request, logits, levels, first_image, position, &mut rngs);
                let at = request.index(position);
                for (i, &level) in chosen.iter().enumerate() {
                    pixels[i * size + at] = level;
                    levels_now[i * c + colour] = i64::from(level);
                }
            }
            // The finished pixel joins the input.
            let embedded = embed_pixel(model, &levels_now, n, c, device);
            set_column(&mut input_cols, col, embedded);
        }
        input_rows.push(Tensor::cat(input_cols, 3));
    }
    pixels
}

/// Rows `rows` of a conditioning bias [n, C, H, W]; a global bias [n, C, 1, 1] as it is
/// (it broadcasts).
fn at_rows(bias: &Tensor<4>, rows: std::ops::Range<usize>) -> Tensor<4> {
    if bias.dims()[2] == 1 {
        bias.clone()
    } else {
        bias.clone().narrow(2, rows.start, rows.len())
    }
}

/// The conditioning bias at pixel (`row`, `col`), [n, C, 1, 1].
fn at_pixel(bias: &Tensor<4>, row: usize, col: usize) -> Tensor<4> {
    let rows = at_rows(bias, row..row + 1);
    if rows.dims()[3] == 1 {
        rows
    } else {
        rows.narrow(3, col, 1)
    }
}

/// The embedded input of one pixel of every image, [n, p, 1, 1], from its levels
/// ([image][colour]).
fn embed_pixel(
    model: &GatedPixelCnn,
    levels: &[i64],
    n: usize,
    colours: usize,
    device: &Device,
) -> Tensor<4> {
    let x =
        Tensor::<4, Int>::from_data(TensorData::new(levels.to_vec(), [n, colours, 1, 1]), device);
    model.embed(x)
}

/// Sets entry `index` of a row's column cache: appended when new, replaced when the same
/// pixel is recomputed for its next colour.
fn set_column(columns: &mut Vec<Tensor<4>>, index: usize, value: Tensor<4>) {
    if index < columns.len() {
        columns[index] = value;
    } else {
        columns.push(value);
    }
}
