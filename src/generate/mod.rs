//! Ancestral sampling: draw x_1 from p(x_1), then x_2 from p(x_2 | x_1), and so on in
//! raster order, each draw feeding the next.

use burn::prelude::*;

use crate::distributions::categorical;
use crate::models::GatedPixelCnn;
use crate::rng::{SeededRng, seeded};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SampleRequest {
    /// Image height and width.
    pub height: usize,
    pub width: usize,
    /// One entry per image: its class for a conditional model, `None` otherwise.
    pub labels: Vec<Option<usize>>,
    /// Softmax temperature (1 samples the model; lower is more conservative).
    pub temperature: f64,
    /// Seed of the random draws.
    pub seed: u64,
    /// Images generated at once (bounds memory).
    pub batch: usize,
}

/// Generates images pixel by pixel, rerunning the whole network for each pixel
/// ("naive" generation). Returns levels, [image][row][column] flattened.
///
/// The random draws are taken in a fixed order: batch after batch, pixel after pixel in
/// raster order, image after image within a batch.
pub fn sample_naive(model: &GatedPixelCnn, request: &SampleRequest, device: &Device) -> Vec<u8> {
    let (h, w) = (request.height, request.width);
    let levels = model.levels();
    let mut rng: SeededRng = seeded(request.seed);
    let mut out = Vec::with_capacity(request.labels.len() * h * w);
    for labels in request.labels.chunks(request.batch.max(1)) {
        let n = labels.len();
        let mut pixels = vec![0i64; n * h * w];
        let label_tensor = model.is_conditional().then(|| {
            let values: Vec<i64> = labels.iter().map(|l| l.unwrap_or(0) as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(values, [n]), device)
        });
        for row in 0..h {
            for col in 0..w {
                let x =
                    Tensor::<3, Int>::from_data(TensorData::new(pixels.clone(), [n, h, w]), device);
                let logits = model
                    .forward(x, label_tensor.clone())
                    .slice([0..n, 0..levels, row..row + 1, col..col + 1])
                    .reshape([n, levels])
                    .into_data()
                    .convert::<f32>();
                let logits = logits.as_slice::<f32>().expect("f32 logits");
                for (i, row_logits) in logits.chunks(levels).enumerate() {
                    let level = categorical::sample_row(row_logits, request.temperature, &mut rng);
                    pixels[i * h * w + row * w + col] = level as i64;
                }
            }
        }
        out.extend(pixels.iter().map(|&v| v as u8));
    }
    out
}
