//! Turning images of a data set into tensors.

use burn::prelude::*;

use crate::data::ImageSet;

/// The images at `indices` as levels of shape [batch, channels, height, width] and their
/// labels of shape [batch].
pub fn image_batch(
    set: &ImageSet,
    indices: &[usize],
    device: &Device,
) -> (Tensor<4, Int>, Tensor<1, Int>) {
    let mut pixels = Vec::with_capacity(indices.len() * set.image_size());
    let mut labels = Vec::with_capacity(indices.len());
    for &i in indices {
        pixels.extend(set.image(i).iter().map(|&v| i64::from(v)));
        labels.push(i64::from(set.labels[i]));
    }
    let batch = indices.len();
    let x = Tensor::from_data(
        TensorData::new(pixels, [batch, set.channels, set.height, set.width]),
        device,
    );
    let y = Tensor::from_data(TensorData::new(labels, [batch]), device);
    (x, y)
}
