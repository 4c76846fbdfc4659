//! Adam (Kingma & Ba), one pass over each parameter: for gradient g at step t,
//!
//! ```text
//! m ← β₁ m + (1 − β₁) g          v ← β₂ v + (1 − β₂) g²
//! θ ← θ − lr · (m · √(1 − β₂ᵗ) / (1 − β₁ᵗ)) / (√v + ε √(1 − β₂ᵗ))
//! ```
//!
//! burn's `Adam` computes the same as about ten tensor operations, each a pass over the
//! parameter with a new buffer; for a recurrent model of 357,000 weights that was an eighth
//! of a training step (BENCHMARKS.md). [`FusedAdam`] does every operation of burn's, in
//! burn's order, in one loop per parameter on the CPU backend, so its values are burn's to
//! the bit (tested), and keeps burn's state type, so optimiser files saved by either load
//! into the other. Elsewhere (the GPU) and with `--plain-ops` it is burn's `Adam`.

use burn::optim::{
    AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::prelude::*;

/// β₁, the decay of the gradient's running mean.
pub const BETA_1: f32 = 0.9;
/// β₂, the decay of the squared gradient's running mean.
pub const BETA_2: f32 = 0.999;

/// Adam with β₁ = 0.9, β₂ = 0.999 and the given ε, no weight decay (see the module's
/// documentation).
#[derive(Clone)]
pub struct FusedAdam {
    epsilon: f32,
    /// burn's Adam with the same settings: the path off the CPU backend.
    plain: burn::optim::Adam,
}

impl FusedAdam {
    /// Adam with ε = `epsilon`.
    pub fn new(epsilon: f32) -> Self {
        FusedAdam {
            epsilon,
            plain: AdamConfig::new()
                .with_beta_1(BETA_1)
                .with_beta_2(BETA_2)
                .with_epsilon(epsilon)
                .build(),
        }
    }
}

/// The optimiser of argen's training loops: [`FusedAdam`] over every parameter of a module.
pub fn adam(epsilon: f32) -> ModuleOptimizer {
    ModuleOptimizer::from(FusedAdam::new(epsilon))
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let device = tensor.device();
        if !(crate::fused::enabled() && crate::fused::is_flex(&device)) {
            return self.plain.step(lr, tensor, grad, state);
        }
        let shape = tensor.shape();
        let (time, m, v) = match state {
            Some(s) => (s.momentum.time, s.momentum.moment_1, s.momentum.moment_2),
            // Zero moments give exactly burn's first step: β·0 + x = x.
            None => (
                0,
                Tensor::zeros(shape.clone(), &device),
                Tensor::zeros(shape.clone(), &device),
            ),
        };
        let time = time + 1;
        let mut values = [tensor, m, v].map(|t| t.into_data().convert::<f32>());
        let g = grad.into_data().convert::<f32>();
        let [theta, m, v] = &mut values;
        crate::fused::adam_update(
            theta.as_mut_slice::<f32>().expect("f32 values"),
            m.as_mut_slice::<f32>().expect("f32 values"),
            v.as_mut_slice::<f32>().expect("f32 values"),
            g.as_slice::<f32>().expect("f32 values"),
            self.constants(time, lr),
        );
        let [theta, m, v] = values.map(|data| Tensor::from_data(data, &device));
        let momentum = AdaptiveMomentumState::new(time, m, v);
        (theta, Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <burn::optim::Adam as Optimizer>::to_device(state, device)
    }
}

impl FusedAdam {
    /// The step's scalars, computed in f32 as burn computes them.
    fn constants(&self, time: usize, lr: LearningRate) -> crate::fused::AdamConstants {
        let t = time as i32;
        let correction_2 = (1.0 - BETA_2.powi(t)).sqrt();
        crate::fused::AdamConstants {
            beta_1: BETA_1,
            beta_2: BETA_2,
            factor: correction_2 / (1.0 - BETA_1.powi(t)),
            epsilon: self.epsilon * correction_2,
            lr: lr as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;

    use super::*;

    /// The weights of `model` as f32 values, parameter after parameter.
    fn weights(model: &Linear) -> Vec<f32> {
        let bias = model.bias.as_ref().expect("a bias").val();
        [model.weight.val().into_data(), bias.into_data()]
            .iter()
            .flat_map(|d| d.iter::<f32>().collect::<Vec<_>>())
            .collect()
    }

    /// Takes `steps` Adam steps on a least-squares loss whose gradients change every step.
    fn train(
        mut optim: ModuleOptimizer,
        mut model: Linear,
        steps: usize,
    ) -> (Linear, ModuleOptimizer) {
        let device = Device::flex().autodiff();
        for step in 0..steps {
            let x = Tensor::<2>::from_data(
                TensorData::new(
                    (0..21)
                        .map(|i| ((i * 7 + step * 3) % 11) as f32 / 5.0 - 1.0)
                        .collect(),
                    [3, 7],
                ),
                &device,
            );
            let loss = model.forward(x).powi_scalar(2).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-2 * (step + 1) as f64, model, grads);
        }
        (model, optim)
    }

    #[test]
    fn fused_adam_takes_burns_steps_to_the_bit_and_reads_its_state() {
        let device = Device::flex().autodiff();
        let start = LinearConfig::new(7, 5).init(&device);
        let burns = || AdamConfig::new().with_epsilon(1e-8).init();
        let (by_burn, _) = train(burns(), start.clone(), 5);
        let (fused, _) = train(adam(1e-8), start.clone(), 5);
        assert_eq!(weights(&fused), weights(&by_burn));
        assert_ne!(
            weights(&fused),
            weights(&start),
            "the steps moved the weights"
        );
        // Three steps with burn's Adam, then two more from its state, by burn's Adam and by
        // the fused one: the state carries over (the step count and both moments).
        let (half, optim) = train(burns(), start, 3);
        let (by_burn, _) = train(burns().load_record(optim.to_record()), half.clone(), 2);
        let (fused, _) = train(adam(1e-8).load_record(optim.to_record()), half.clone(), 2);
        assert_eq!(weights(&fused), weights(&by_burn));
        let (fresh, _) = train(adam(1e-8), half, 2);
        assert_ne!(
            weights(&fresh),
            weights(&fused),
            "the state changed the steps"
        );
    }
}
