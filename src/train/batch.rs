//! Turning images of a data set into tensors.

use burn::prelude::*;

use crate::data::ImageSet;
use crate::models::Condition;

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

/// The descriptions h of the images at `indices` for a conditional model (`None` when
/// `conditional` is false): their vectors [batch, D] when the set has them, their classes
/// [batch] otherwise.
pub fn image_condition(
    set: &ImageSet,
    indices: &[usize],
    conditional: bool,
    device: &Device,
) -> Option<Condition> {
    if !conditional {
        return None;
    }
    Some(match &set.vectors {
        Some(v) => {
            let values: Vec<f32> = indices.iter().flat_map(|&i| v.row(i).to_vec()).collect();
            Condition::Vectors(Tensor::from_data(
                TensorData::new(values, [indices.len(), v.dim]),
                device,
            ))
        }
        None => {
            let labels: Vec<i64> = indices.iter().map(|&i| i64::from(set.labels[i])).collect();
            Condition::Classes(Tensor::from_data(
                TensorData::new(labels, [indices.len()]),
                device,
            ))
        }
    })
}
