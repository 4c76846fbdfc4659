//! Ancestral sampling from a sequence model: draw x_0, then x_1 given x_0, and so on.
//!
//! Two paths give the same sequences for the same seed:
//! - **naive**: rerun the network on the whole sequence drawn so far for every step (any
//!   model; the reference);
//! - **cached**: for the causal convolution stacks, keep a queue of recent inputs per layer
//!   and compute one column per layer and step ([`super::conv_cache`]); other models fall
//!   back to the naive path.
//!
//! Each sequence draws from its own random stream ([`crate::rng::seeded_stream`] of the seed
//! and its index), one draw per generated step, so a sequence depends on the seed, its
//! index and its class, not on how many are drawn with it, in which batch, or by which path.

use burn::prelude::*;

use super::conv_cache::ConvCache;
use crate::distributions::OutputDistribution;
use crate::models::Condition;
use crate::models::{ConditionWidth, SequenceModel, SequenceModelConfig};
use crate::rng::SeededRng;
use rayon::prelude::*;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SequenceRequest {
    /// One entry per sequence: its class for a class-conditional model, `None` otherwise.
    pub labels: Vec<Option<usize>>,
    /// For a vector-conditioned model, the vector h of each sequence: `labels.len()` rows of
    /// D values one after the other.
    pub vectors: Option<Vec<f32>>,
    /// Steps per sequence.
    pub length: usize,
    /// For a model with covariates: what each step reads, `length` rows of `width` values
    /// ([`crate::data::sequences::CovariateLayout::aligned`]), the same for every sequence.
    pub covariates: Option<Vec<f32>>,
    /// Steps (laid out [time][dims]) copied at the start of every sequence instead of drawn.
    pub prefix: Vec<f32>,
    /// Temperature of every draw (1 samples the model, 0 takes the most likely value).
    pub temperature: f64,
    /// Seed of the per-sequence random streams.
    pub seed: u64,
    /// Sequences generated at once (bounds memory; does not change the sequences).
    pub batch: usize,
}

/// Draws the request's sequences through the cached path where the model has one (the
/// causal convolution stacks) and the naive path otherwise; returns the steps, laid out
/// [sequence][time][dims].
pub fn sample_sequences(
    model: &SequenceModel,
    output: OutputDistribution,
    request: &SequenceRequest,
    device: &Device,
) -> Vec<f32> {
    generate(model, output, request, false, device)
}

/// Draws the request's sequences by rerunning the network on the whole prefix for every
/// step (the reference path); the same sequences as [`sample_sequences`].
pub fn sample_sequences_naive(
    model: &SequenceModel,
    output: OutputDistribution,
    request: &SequenceRequest,
    device: &Device,
) -> Vec<f32> {
    generate(model, output, request, true, device)
}

fn generate(
    model: &SequenceModel,
    output: OutputDistribution,
    request: &SequenceRequest,
    naive: bool,
    device: &Device,
) -> Vec<f32> {
    let batch = request.batch.max(1);
    let per_sequence = request.length * output.dims();
    let mut values = vec![0f32; request.labels.len() * per_sequence];
    for (b, (labels, out)) in request
        .labels
        .chunks(batch)
        .zip(values.chunks_mut(batch * per_sequence))
        .enumerate()
    {
        let first = b * batch;
        match model {
            SequenceModel::Conv(conv) if !naive => {
                // The cached step runs on the host, one core per group of the batch's
                // sequences; each sequence draws from its own stream, so the grouping
                // changes nothing.
                let group = labels
                    .len()
                    .div_ceil(rayon::current_num_threads().max(1))
                    .max(1);
                let groups: Vec<(usize, ConvCache, &mut [f32])> = out
                    .chunks_mut(group * per_sequence)
                    .enumerate()
                    .map(|(g, out)| {
                        let start = first + g * group;
                        let n = out.len() / per_sequence.max(1);
                        let condition = request.condition_for(start..start + n, device);
                        let cache = ConvCache::new(conv, n, condition.as_ref(), device);
                        (start, cache, out)
                    })
                    .collect();
                groups.into_par_iter().for_each(|(start, mut cache, out)| {
                    let n = cache.batch();
                    let mut column = Vec::new();
                    BatchRun::new(output, request, out, start).run(|t, values, _| {
                        if t > 0 {
                            encode_column(output, values, t - 1, &mut column);
                            cache.observe(&column);
                        }
                        let covariates = request.covariate_rows(t, n);
                        // Computed for given steps too: that is what fills the queues.
                        Some(cache.features_with(covariates.as_deref()).to_vec())
                    });
                });
            }
            _ => {
                let condition = request.condition_for(first..first + labels.len(), device);
                BatchRun::new(output, request, out, first).run(|t, values, needed| {
                    needed.then(|| {
                        let x = encoded_prefix(output, values, t + 1, device);
                        let n = x.dims()[0];
                        let covariates = request.covariates_at(0..t + 1, n, device);
                        let features = model.forward_with_covariates(
                            x,
                            condition.clone(),
                            covariates.as_ref(),
                        );
                        let [n, p, _] = features.dims();
                        let step = features.narrow(2, t, 1).reshape([n, p]);
                        step.into_data()
                            .convert::<f32>()
                            .try_to_vec()
                            .expect("f32 features")
                    })
                })
            }
        }
    }
    values
}

/// One batch of sequences being generated.
struct BatchRun<'a> {
    output: OutputDistribution,
    request: &'a SequenceRequest,
    /// The batch's steps, [sequence][time][dims]: the prefix, then the draws so far.
    values: &'a mut [f32],
    /// The random stream of each sequence.
    rngs: Vec<SeededRng>,
}

/// The values of a batch ([sequence][time][dims], `length` steps each) as far as generated.
struct Steps<'a> {
    values: &'a [f32],
    length: usize,
    dims: usize,
}

impl<'a> BatchRun<'a> {
    /// The sequences whose steps `values` holds, the first being sequence `first` of the
    /// request (which picks their random streams).
    fn new(
        output: OutputDistribution,
        request: &'a SequenceRequest,
        values: &'a mut [f32],
        first: usize,
    ) -> Self {
        let n = values.len() / (request.length * output.dims()).max(1);
        let rngs = (first..first + n)
            .map(|i| crate::rng::seeded_stream(request.seed, i as u64))
            .collect();
        Self {
            output,
            request,
            values,
            rngs,
        }
    }

    /// Visits every step t in order; `features(t, steps, needed)` returns the features
    /// [batch, P] (row-major) of p(x_t | x_<t) given the steps before t, and the step is
    /// drawn from them, unless the prefix gives it (then `needed` is false and the result
    /// may be `None`).
    fn run(&mut self, mut features: impl FnMut(usize, &Steps, bool) -> Option<Vec<f32>>) {
        let dims = self.output.dims();
        let n = self.rngs.len();
        let length = self.request.length;
        let given = (self.request.prefix.len() / dims).min(length);
        for chunk in self.values.chunks_mut(length * dims) {
            chunk[..given * dims].copy_from_slice(&self.request.prefix[..given * dims]);
        }
        for t in 0..length {
            let steps = Steps {
                values: self.values,
                length,
                dims,
            };
            let Some(params) = features(t, &steps, t >= given).filter(|_| t >= given) else {
                continue;
            };
            let p = params.len() / n;
            for i in 0..n {
                let step = self.output.sample(
                    &params[i * p..(i + 1) * p],
                    self.request.temperature,
                    &mut self.rngs[i],
                );
                let at = (i * length + t) * dims;
                self.values[at..at + dims].copy_from_slice(&step);
            }
        }
    }
}

impl SequenceRequest {
    /// The covariates of steps `steps` for `n` sequences, [n, width, steps]; `None` without
    /// covariates.
    fn covariates_at(
        &self,
        steps: std::ops::Range<usize>,
        n: usize,
        device: &Device,
    ) -> Option<Tensor<3>> {
        let rows = self.covariates.as_ref()?;
        let width = rows.len() / self.length.max(1);
        let len = steps.len();
        let mut values = Vec::with_capacity(n * width * len);
        for _ in 0..n {
            for j in 0..width {
                values.extend(steps.clone().map(|t| rows[t * width + j]));
            }
        }
        Some(Tensor::from_data(
            TensorData::new(values, [n, width, len]),
            device,
        ))
    }

    /// The covariates step `t` reads for `n` sequences, [n, width] row-major; `None` without
    /// covariates.
    fn covariate_rows(&self, t: usize, n: usize) -> Option<Vec<f32>> {
        let rows = self.covariates.as_ref()?;
        let width = rows.len() / self.length.max(1);
        Some(rows[t * width..(t + 1) * width].repeat(n))
    }

    /// The condition h of sequences `range` (classes or vectors), if the request has one.
    fn condition_for(&self, range: std::ops::Range<usize>, device: &Device) -> Option<Condition> {
        super::condition_of(
            self.condition_width(),
            &self.labels,
            self.vectors.as_deref(),
            range,
            device,
        )
    }

    /// What the request conditions on: its vectors when it has them, its classes when every
    /// sequence has one, nothing otherwise.
    fn condition_width(&self) -> Option<ConditionWidth> {
        let n = self.labels.len().max(1);
        match &self.vectors {
            Some(v) => Some(ConditionWidth::Vectors(v.len() / n)),
            None => self
                .labels
                .iter()
                .all(Option::is_some)
                .then_some(ConditionWidth::Classes(0)),
        }
    }
}

/// The network's input for steps 0..time of every sequence, [batch, C, time]; the last
/// step (not yet drawn) is zero and unread by a causal network.
fn encoded_prefix(
    output: OutputDistribution,
    steps: &Steps,
    time: usize,
    device: &Device,
) -> Tensor<3> {
    let n = steps.values.len() / (steps.length * steps.dims);
    let channels = output.input_channels();
    let mut inputs = vec![0f32; n * channels * time];
    let mut encoded = Vec::with_capacity(channels);
    for i in 0..n {
        for s in 0..time - 1 {
            encoded.clear();
            let at = (i * steps.length + s) * steps.dims;
            output.encode_step(&steps.values[at..at + steps.dims], &mut encoded);
            for (c, v) in encoded.iter().enumerate() {
                inputs[(i * channels + c) * time + s] = *v;
            }
        }
    }
    Tensor::from_data(TensorData::new(inputs, [n, channels, time]), device)
}

/// The network's input at step `t` of every sequence, [batch, C] row-major, into `inputs`.
fn encode_column(output: OutputDistribution, steps: &Steps, t: usize, inputs: &mut Vec<f32>) {
    let n = steps.values.len() / (steps.length * steps.dims);
    inputs.clear();
    for i in 0..n {
        let at = (i * steps.length + t) * steps.dims;
        output.encode_step(&steps.values[at..at + steps.dims], inputs);
    }
}

/// k-step-ahead dynamic predictions of a single series: for every origin o, the model reads
/// the observed x_{<o} (at most its receptive field; 256 steps for a recurrent model), then
/// predicts x_o, x_{o+1}, ... feeding each predicted mean back as the next input. The
/// prediction of x_t made k steps ahead is the k-th step of the roll-out from o = t − k + 1.
/// Returns, for each k of `horizons`, the predictions (NaN where the series has no origin).
pub fn k_step_predictions(
    model: &SequenceModel,
    config: &SequenceModelConfig,
    values: &[f32],
    horizons: &[usize],
    device: &Device,
) -> Vec<Vec<f64>> {
    k_step_predictions_with(model, config, values, None, horizons, device)
}

/// [`k_step_predictions`] for a model with per-step covariates: `covariates` gives what each
/// step of the series reads (the data's [`crate::data::sequences::CovariateLayout`]); the
/// covariates are exogenous, so every prediction reads the observed ones.
pub fn k_step_predictions_with(
    model: &SequenceModel,
    config: &SequenceModelConfig,
    values: &[f32],
    covariates: Option<&crate::data::sequences::CovariateLayout>,
    horizons: &[usize],
    device: &Device,
) -> Vec<Vec<f64>> {
    let n = values.len();
    let max_k = horizons.iter().copied().max().unwrap_or(1);
    let context = config.receptive_field().unwrap_or(256);
    let length = context + max_k;
    let mut out = vec![vec![f64::NAN; n]; horizons.len()];
    let origins: Vec<usize> = (1..n).collect();
    for chunk in origins.chunks(128) {
        let b = chunk.len();
        let mut rows = vec![0f32; b * length];
        for (i, &o) in chunk.iter().enumerate() {
            for c in 0..context {
                if let Some(s) = (o + c).checked_sub(context) {
                    rows[i * length + c] = values[s];
                }
            }
        }
        // The covariates of each window's steps o − context .. o + max_k − 1 ([b, width,
        // length]; zeros before the series and where the file has none, steps whose
        // predictions are not kept).
        let covariate_tensor = covariates.map(|layout| {
            let width = layout.width();
            let mut c = vec![0f32; b * width * length];
            for (i, &o) in chunk.iter().enumerate() {
                for p in 0..length {
                    let Some(step) = (o + p).checked_sub(context) else {
                        continue;
                    };
                    if let Some(row) = layout.aligned(step, 1) {
                        for (w, v) in row.iter().enumerate() {
                            c[(i * width + w) * length + p] = *v;
                        }
                    }
                }
            }
            Tensor::<3>::from_data(TensorData::new(c, [b, width, length]), device)
        });
        for j in 0..max_k {
            let x = Tensor::from_data(TensorData::new(rows.clone(), [b, 1, length]), device);
            let means: Vec<f32> = model
                .forward_with_covariates(x, None, covariate_tensor.as_ref())
                .narrow(1, 0, 1)
                .narrow(2, context + j, 1)
                .reshape([b])
                .into_data()
                .convert::<f32>()
                .iter::<f32>()
                .collect();
            for (i, &o) in chunk.iter().enumerate() {
                rows[i * length + context + j] = means[i];
                let t = o + j;
                if t < n
                    && let Some(h) = horizons.iter().position(|&k| k == j + 1)
                {
                    out[h][t] = f64::from(means[i]);
                }
            }
        }
    }
    out
}

/// The dynamic mean forecast of a real series past its end: x̂_n, ..., x̂_{n+horizon−1}, each
/// step reading the values before it (observed, then forecast) and, for a model with
/// covariates, the file's future covariate rows. Errors (naming what is missing) when the
/// file has too few future rows for the horizon.
pub fn forecast_past_end(
    model: &SequenceModel,
    config: &SequenceModelConfig,
    values: &[f32],
    covariates: Option<&crate::data::sequences::CovariateLayout>,
    horizon: usize,
    device: &Device,
) -> Result<Vec<f32>, String> {
    let n = values.len();
    if let Some(layout) = covariates {
        let needed = n + horizon + usize::from(layout.known_ahead);
        if needed > layout.len() {
            let future = layout.len().saturating_sub(n);
            let most = future.saturating_sub(usize::from(layout.known_ahead));
            return Err(format!(
                "a horizon of {horizon} past the end needs the covariates of {} future rows, but \
                 the file has {future} rows past the last target: give at most --horizon {most}",
                horizon + usize::from(layout.known_ahead)
            ));
        }
    }
    let context = config.receptive_field().unwrap_or(256);
    let mut series = values.to_vec();
    for _ in 0..horizon {
        let len = series.len();
        let start = len.saturating_sub(context);
        let steps = len - start + 1;
        let mut window = series[start..].to_vec();
        window.push(0.0); // the step being forecast: unread by the causal network
        let x = Tensor::<3>::from_data(TensorData::new(window, [1, 1, steps]), device);
        let c = covariates.map(|layout| {
            let width = layout.width();
            let rows = layout
                .aligned(start, steps)
                .expect("the rows were checked above");
            let planar: Vec<f32> = (0..width)
                .flat_map(|j| (0..steps).map(move |t| (t, j)))
                .map(|(t, j)| rows[t * width + j])
                .collect();
            Tensor::<3>::from_data(TensorData::new(planar, [1, width, steps]), device)
        });
        let mean: f32 = model
            .forward_with_covariates(x, None, c.as_ref())
            .narrow(1, 0, 1)
            .narrow(2, steps - 1, 1)
            .into_data()
            .iter::<f32>()
            .next()
            .expect("one value");
        series.push(mean);
    }
    Ok(series[n..].to_vec())
}
