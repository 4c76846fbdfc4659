//! Output distributions of the sequence models: one enum that turns a network's per-step
//! features into log-probabilities of the observed steps and into samples.
//!
//! A sequence network maps its inputs to features of shape [batch, P, time], where P is
//! [`OutputDistribution::params`]; the feature vector at step t parameterises
//! p(x_t | x_<t, h). An observed step x_t is a vector of `dims()` numbers: one level for the
//! categorical and the logistic mixture, D reals for the Gaussian, D bits for the Bernoullis.
//! The same step is also what the network reads at later steps, encoded by
//! [`OutputDistribution::encode_step`] (one-hot for levels, the values themselves otherwise).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{bernoulli, categorical, gaussian, logistic_mixture};
use crate::rng::SeededRng;

/// log p(x_t) of a categorical over L levels at every step: `logits` of shape
/// [batch, L, time] and levels `x` of shape [batch, time] give [batch, time].
pub fn categorical_log_prob(logits: Tensor<3>, x: Tensor<2, Int>) -> Tensor<2> {
    crate::fused::level_log_prob(logits, x)
}

/// The distribution of one step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum OutputDistribution {
    /// A softmax over `levels` values (characters, quantised values, grey levels).
    Categorical {
        /// Number of levels L.
        levels: usize,
    },
    /// `dims` independent Gaussians with a mean and a log-variance each; with
    /// `fixed_variance` the variance is 1 and −log p is half the squared error plus a constant.
    Gaussian {
        /// Number of real values per step.
        dims: usize,
        /// Ignore the predicted log-variance and use σ² = 1 (least squares).
        fixed_variance: bool,
    },
    /// `dims` independent Bernoullis (multi-hot steps, such as the 88 keys of a piano roll).
    Bernoulli {
        /// Number of bits per step.
        dims: usize,
    },
    /// A discretised mixture of `components` logistics over `levels` ordered levels.
    LogisticMixture {
        /// Number of levels L.
        levels: usize,
        /// Number of mixture components K.
        components: usize,
    },
}

/// Observed steps of a batch, as the distribution scores them.
#[derive(Debug, Clone)]
pub enum Target {
    /// Levels, shape [batch, time] (categorical, logistic mixture).
    Levels(Tensor<2, Int>),
    /// Values, shape [batch, dims, time] (Gaussian: reals; Bernoulli: 0 or 1).
    Values(Tensor<3>),
}

impl OutputDistribution {
    /// Whether a model may use this distribution for data whose own distribution is `data`:
    /// the same one, a mixture of logistics over the same ordered levels as a softmax, or a
    /// Gaussian of unit variance (least squares) in place of one with a learned variance.
    pub fn can_stand_for(self, data: OutputDistribution) -> bool {
        match (self, data) {
            (Self::LogisticMixture { levels, .. }, Self::Categorical { levels: l }) => levels == l,
            (
                Self::Gaussian {
                    dims,
                    fixed_variance: true,
                },
                Self::Gaussian {
                    dims: d,
                    fixed_variance: false,
                },
            ) => dims == d,
            _ => self == data,
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Self::Categorical { levels } | Self::LogisticMixture { levels, .. } if levels < 2 => {
                Err(format!(
                    "a distribution over levels needs at least 2, got {levels}"
                ))
            }
            Self::LogisticMixture { components: 0, .. } => {
                Err("a logistic mixture needs at least one component".into())
            }
            Self::Gaussian { dims: 0, .. } | Self::Bernoulli { dims: 0 } => {
                Err("a step needs at least one dimension".into())
            }
            _ => Ok(()),
        }
    }

    /// Number of feature channels P the network must produce per step.
    pub fn params(&self) -> usize {
        match *self {
            Self::Categorical { levels } => levels,
            Self::Gaussian { dims, .. } => 2 * dims,
            Self::Bernoulli { dims } => dims,
            Self::LogisticMixture { components, .. } => 3 * components,
        }
    }

    /// Numbers per observed step: 1 (a level) or D.
    pub fn dims(&self) -> usize {
        match *self {
            Self::Categorical { .. } | Self::LogisticMixture { .. } => 1,
            Self::Gaussian { dims, .. } | Self::Bernoulli { dims } => dims,
        }
    }

    /// Number of levels for the discrete distributions over levels.
    pub fn levels(&self) -> Option<usize> {
        match *self {
            Self::Categorical { levels } | Self::LogisticMixture { levels, .. } => Some(levels),
            _ => None,
        }
    }

    /// Width of the encoding of a step as network input: L (one-hot) or D.
    pub fn input_channels(&self) -> usize {
        self.levels().unwrap_or_else(|| self.dims())
    }

    /// Appends the network input for one observed step (`dims()` numbers) to `out`.
    pub fn encode_step(&self, step: &[f32], out: &mut Vec<f32>) {
        match self.levels() {
            Some(levels) => {
                let level = step[0] as usize;
                out.extend((0..levels).map(|l| f32::from(u8::from(l == level))));
            }
            None => out.extend_from_slice(step),
        }
    }

    /// Checks that an observed step is in the support of the distribution.
    pub fn check_step(&self, step: &[f32]) -> Result<(), String> {
        if step.len() != self.dims() {
            return Err(format!(
                "a step has {} values, the model expects {}",
                step.len(),
                self.dims()
            ));
        }
        match *self {
            Self::Categorical { levels } | Self::LogisticMixture { levels, .. } => {
                let v = step[0];
                if v.fract() != 0.0 || v < 0.0 || v as usize >= levels {
                    return Err(format!(
                        "unknown symbol {v}: the model knows levels 0..{}",
                        levels - 1
                    ));
                }
            }
            Self::Bernoulli { .. } => {
                if let Some(v) = step.iter().find(|&&v| v != 0.0 && v != 1.0) {
                    return Err(format!(
                        "a multi-hot step holds {v}; only 0 and 1 are allowed"
                    ));
                }
            }
            Self::Gaussian { .. } => {
                if let Some(v) = step.iter().find(|v| !v.is_finite()) {
                    return Err(format!("a real-valued step holds {v}"));
                }
            }
        }
        Ok(())
    }

    /// The observed steps `values` ([batch][time][dims] flattened) as a [`Target`].
    pub fn target(&self, values: Vec<f32>, batch: usize, time: usize, device: &Device) -> Target {
        match self.levels() {
            Some(_) => {
                let levels: Vec<i64> = values.iter().map(|&v| v as i64).collect();
                Target::Levels(Tensor::from_data(
                    TensorData::new(levels, [batch, time]),
                    device,
                ))
            }
            None => {
                let d = self.dims();
                let t: Tensor<3> =
                    Tensor::from_data(TensorData::new(values, [batch, time, d]), device);
                Target::Values(t.swap_dims(1, 2))
            }
        }
    }

    /// log p(x_t | features_t) at every step, summed over a step's dimensions: `features` of
    /// shape [batch, P, time]; the result has shape [batch, time].
    pub fn log_prob(&self, features: Tensor<3>, target: &Target) -> Tensor<2> {
        let [batch, _, time] = features.dims();
        match (*self, target) {
            (Self::Categorical { .. }, Target::Levels(x)) => {
                categorical_log_prob(features, x.clone())
            }
            (Self::LogisticMixture { levels, .. }, Target::Levels(x)) => {
                logistic_mixture::log_prob(features, x.clone(), levels)
            }
            (
                Self::Gaussian {
                    dims,
                    fixed_variance,
                },
                Target::Values(x),
            ) => {
                let mean = features.clone().narrow(1, 0, dims);
                let log_var = if fixed_variance {
                    mean.zeros_like()
                } else {
                    features.narrow(1, dims, dims)
                };
                gaussian::log_prob(mean, log_var, x.clone())
                    .sum_dim(1)
                    .reshape([batch, time])
            }
            (Self::Bernoulli { .. }, Target::Values(x)) => bernoulli::log_prob(features, x.clone())
                .sum_dim(1)
                .reshape([batch, time]),
            _ => panic!("target kind does not match the output distribution"),
        }
    }

    /// Draws one step from its P parameters at `temperature` (1 samples the model; 0 gives
    /// the most likely level, the mean, or the likelier value of each bit).
    pub fn sample(&self, params: &[f32], temperature: f64, rng: &mut SeededRng) -> Vec<f32> {
        match *self {
            Self::Categorical { .. } => {
                vec![categorical::sample_row(params, temperature, rng) as f32]
            }
            Self::LogisticMixture { levels, .. } => {
                vec![logistic_mixture::sample(params, levels, temperature, rng) as f32]
            }
            Self::Gaussian {
                dims,
                fixed_variance,
            } => (0..dims)
                .map(|d| {
                    let log_var = if fixed_variance {
                        0.0
                    } else {
                        f64::from(params[dims + d])
                    };
                    gaussian::sample(f64::from(params[d]), log_var, temperature, rng) as f32
                })
                .collect(),
            Self::Bernoulli { .. } => params
                .iter()
                .map(|&z| f32::from(bernoulli::sample(f64::from(z), temperature, rng)))
                .collect(),
        }
    }

    /// The point prediction of one step: the mean for the Gaussian, the most likely level,
    /// or the bits whose probability exceeds ½.
    pub fn predict(&self, params: &[f32]) -> Vec<f32> {
        match *self {
            Self::Categorical { .. } => {
                let best =
                    (0..params.len()).fold(0, |b, i| if params[i] > params[b] { i } else { b });
                vec![best as f32]
            }
            Self::LogisticMixture { levels, .. } => {
                let p = logistic_mixture::probabilities(params, levels);
                let best = (0..p.len()).fold(0, |b, i| if p[i] > p[b] { i } else { b });
                vec![best as f32]
            }
            Self::Gaussian { dims, .. } => params[..dims].to_vec(),
            Self::Bernoulli { .. } => params
                .iter()
                .map(|&z| f32::from(u8::from(z > 0.0)))
                .collect(),
        }
    }
}
