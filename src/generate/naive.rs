//! Naive generation: the whole network runs once for every generated value, on the image
//! sampled so far (later values are zeros, which the causal network never reads).

use burn::prelude::*;

use super::{SampleRequest, choose_levels, image_streams, in_batches_over};
use crate::models::ImageModel;

/// Generates images value by value (pixel by pixel, colour by colour within a pixel),
/// rerunning the whole network for each. Returns levels, images one after the other, each
/// [colour][row][column].
pub fn sample_naive(model: &ImageModel, request: &SampleRequest, device: &Device) -> Vec<u8> {
    sample_naive_on(model, request, std::slice::from_ref(device))
}

/// [`sample_naive`] with the batches dealt over several devices (the same images).
pub fn sample_naive_on(model: &ImageModel, request: &SampleRequest, devices: &[Device]) -> Vec<u8> {
    if let ImageModel::PixelCnnPp(_) = model {
        // Its network reads whole pixels: once per pixel, then the colours from the mixture.
        return super::pixelcnn_pp::sample_naive(model, request, devices);
    }
    in_batches_over(model, request, devices, |model, first, labels, device| {
        naive_batch(model, request, labels, first, device)
    })
}

/// One batch of images, `labels` the classes of the request's images `first..`.
fn naive_batch(
    model: &ImageModel,
    request: &SampleRequest,
    labels: &[Option<usize>],
    first: usize,
    device: &Device,
) -> Vec<u8> {
    let (c, h, w) = (request.colours, request.height, request.width);
    let size = request.image_size();
    let levels = model.levels();
    let n = labels.len();
    let mut rngs = image_streams(request, first, n);
    let condition = request.condition(model, first..first + n, device);
    let mut values = vec![0i64; n * size];
    for position in 0..size {
        let (row, col, colour) = request.place(position);
        let x = Tensor::<4, Int>::from_data(TensorData::new(values.clone(), [n, c, h, w]), device);
        let logits = model
            .forward(x, condition.clone())
            .slice([
                0..n,
                0..levels,
                colour..colour + 1,
                row..row + 1,
                col..col + 1,
            ])
            .reshape([n, levels])
            .into_data();
        let chosen = choose_levels(request, logits, levels, first, position, &mut rngs);
        let at = request.index(position);
        for (i, level) in chosen.into_iter().enumerate() {
            values[i * size + at] = i64::from(level);
        }
    }
    values.iter().map(|&v| v as u8).collect()
}
