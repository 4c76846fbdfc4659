//! Naive generation: the whole network runs once for every pixel, on the image sampled so
//! far (later pixels are zeros, which the causal network never reads).

use burn::prelude::*;

use super::{SampleRequest, choose_levels, image_streams, label_tensor};
use crate::models::GatedPixelCnn;

/// Generates images pixel by pixel, rerunning the whole network for each pixel.
/// Returns levels, [image][row][column] flattened.
pub fn sample_naive(model: &GatedPixelCnn, request: &SampleRequest, device: &Device) -> Vec<u8> {
    let (h, w) = (request.height, request.width);
    let levels = model.levels();
    let mut out = Vec::with_capacity(request.labels.len() * h * w);
    let batch = request.batch.max(1);
    for (b, labels) in request.labels.chunks(batch).enumerate() {
        let n = labels.len();
        let mut rngs = image_streams(request, b * batch, n);
        let labels = label_tensor(model, labels, device);
        let mut pixels = vec![0i64; n * h * w];
        for pixel in 0..h * w {
            let (row, col) = (pixel / w, pixel % w);
            let x = Tensor::<3, Int>::from_data(TensorData::new(pixels.clone(), [n, h, w]), device);
            let logits = model
                .forward(x, labels.clone())
                .slice([0..n, 0..levels, row..row + 1, col..col + 1])
                .reshape([n, levels])
                .into_data();
            let chosen = choose_levels(request, logits, levels, b * batch, pixel, &mut rngs);
            for (i, level) in chosen.into_iter().enumerate() {
                pixels[i * h * w + pixel] = i64::from(level);
            }
        }
        out.extend(pixels.iter().map(|&v| v as u8));
    }
    out
}
