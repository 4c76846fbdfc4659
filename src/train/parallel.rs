//! Data parallelism: one batch split over several devices, one gradient.
//!
//! With B examples split into shards S_1..S_n (one per device), each device holds a replica of
//! the model and computes the gradient of its shard's part of the batch loss,
//! L_i = Σ_{e ∈ S_i} ℓ(e) / N, where N normalises the whole batch (its example or step count).
//! Then L = Σ_i L_i is the ordinary batch loss, and ∇L = Σ_i ∇L_i: the shards' gradients are
//! moved to the model's device and added. One optimiser step follows, as with one device.

use anyhow::{Result, bail};
use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;

/// Splits `items` into at most `parts` contiguous shards of sizes differing by at most one,
/// leaving out empty shards.
pub fn shards<T>(items: &[T], parts: usize) -> Vec<&[T]> {
    let parts = parts.max(1);
    let (base, extra) = (items.len() / parts, items.len() % parts);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for i in 0..parts {
        let len = base + usize::from(i < extra);
        if len > 0 {
            out.push(&items[start..start + len]);
        }
        start += len;
    }
    out
}

/// The autodiff versions of the devices a run trains on (at least one; the model lives on the
/// first).
pub fn training_devices(devices: &[Device]) -> Result<Vec<Device>> {
    if devices.is_empty() {
        bail!("no device to train on");
    }
    Ok(devices.iter().map(|d| d.clone().autodiff()).collect())
}

/// The gradient of one batch, and its loss value, computed on `devices` (autodiff devices; the
/// model lives on the first).
///
/// `shard_loss(model, shard, device)` returns the shard's part of the batch loss (a scalar on
/// `device`, normalised by the whole batch, so that the parts add up to the batch loss).
/// With one device this is `shard_loss` of the whole batch and its backward pass; with more,
/// each shard runs on its own thread and device, on a replica of the model.
pub fn batch_gradients<M, T, F>(
    model: &M,
    devices: &[Device],
    batch: &[T],
    shard_loss: F,
) -> (GradientsParams, f64)
where
    M: Module,
    T: Sync,
    F: Fn(&M, &[T], &Device) -> Tensor<1> + Sync,
{
    if devices.len() <= 1 {
        let device = devices
            .first()
            .cloned()
            .unwrap_or_else(|| model_device(model));
        let loss = shard_loss(model, batch, &device);
        let value = loss.clone().into_scalar::<f64>();
        return (GradientsParams::from_grads(loss.backward(), model), value);
    }
    let main = &devices[0];
    let parts: Vec<(GradientsParams, f64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = shards(batch, devices.len())
            .into_iter()
            .zip(devices)
            .map(|(shard, device)| {
                let replica = model.clone().fork(device);
                let shard_loss = &shard_loss;
                scope.spawn(move || {
                    let loss = shard_loss(&replica, shard, device);
                    let value = loss.clone().into_scalar::<f64>();
                    let grads = GradientsParams::from_grads(loss.backward(), &replica);
                    (grads.to_device(main, &replica), value)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(part) => part,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    let mut total = GradientsAccumulator::<M>::new();
    let mut value = 0.0;
    for (grads, v) in parts {
        total.accumulate(model, grads);
        value += v;
    }
    (total.grads(), value)
}

/// The device of a model's first parameter (the CPU for a model without parameters).
fn model_device<M: Module>(model: &M) -> Device {
    model
        .devices()
        .first()
        .cloned()
        .unwrap_or_else(Device::flex)
}

#[cfg(test)]
mod tests {
    use super::shards;

    #[test]
    fn shards_cover_the_batch_in_order() {
        let items: Vec<usize> = (0..10).collect();
        for parts in 1..=12 {
            let s = shards(&items, parts);
            assert!(s.len() <= parts);
            assert_eq!(s.concat(), items, "{parts} parts");
            let (min, max) = (
                s.iter().map(|x| x.len()).min().unwrap(),
                s.iter().map(|x| x.len()).max().unwrap(),
            );
            assert!(
                max - min <= 1 && min > 0,
                "{parts} parts: sizes {min}..{max}"
            );
        }
    }
}
