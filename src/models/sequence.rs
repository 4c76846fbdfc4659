//! Neural autoregressive sequence models: one configuration and one enum over the three
//! parameterisations of p(x_t | x_<t, h).
//!
//! Every network maps inputs of shape [batch, C, time] (the encoded steps, see
//! [`crate::distributions::OutputDistribution::encode_step`]) and an optional class or series
//! id h to features of shape [batch, P, time] such that the features at step t depend only on
//! the inputs at steps < t (and on h). The output distribution turns them into
//! log-probabilities and samples. The three networks:
//!
//! - [`WindowMlp`]: an MLP over the last τ steps (finite memory, receptive field τ);
//! - [`Rnn`]: a GRU or LSTM whose state summarises the whole past (unbounded memory);
//! - [`CausalConv`]: dilated causal convolutions, WaveNet or TCN blocks (receptive field
//!   from [`SequenceModelConfig::receptive_field`]).
//!
//! A global conditioning vector, a learned embedding of h, is added to every layer's
//! pre-activations.

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{Embedding, EmbeddingConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::causal_conv::CausalConv;
use super::rnn::Rnn;
use super::window_mlp::WindowMlp;
use crate::distributions::OutputDistribution;

/// Which network parameterises the conditionals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SequenceModelKind {
    /// MLP over the last τ steps.
    Mlp,
    /// Gated recurrent unit.
    Gru,
    /// Long short-term memory.
    Lstm,
    /// Dilated causal convolutions with gated residual blocks and skip connections.
    Wavenet,
    /// Dilated causal convolutions with plain residual blocks (two convolutions, ReLU).
    Tcn,
}

/// Settings of a sequence model; saved in the run's `config.json`, enough to rebuild it.
#[derive(Config, Debug, PartialEq)]
pub struct SequenceModelConfig {
    /// The network.
    pub kind: SequenceModelKind,
    /// Channels of the input at each step.
    pub input_channels: usize,
    /// The distribution of one step, which fixes the number of output features.
    pub output: OutputDistribution,
    /// Hidden units (MLP, RNN) or residual channels (convolutions).
    #[config(default = 64)]
    pub hidden: usize,
    /// Hidden layers (MLP), stacked recurrent layers (RNN), or layers per block with
    /// dilations 1, 2, 4, ..., 2^(layers−1) (convolutions).
    #[config(default = 2)]
    pub layers: usize,
    /// Convolutions: how many times the dilation cycle repeats.
    #[config(default = 1)]
    pub blocks: usize,
    /// MLP: the window τ, the number of past steps it reads.
    #[config(default = 4)]
    pub window: usize,
    /// Convolutions: kernel size of the dilated layers.
    #[config(default = 2)]
    pub kernel: usize,
    /// Convolutions: kernel size of the first layer, which excludes the current step.
    #[config(default = 2)]
    pub first_kernel: usize,
    /// Number of classes (series ids) for the conditional model; `None` for p(x).
    #[config(default = "None")]
    pub num_classes: Option<usize>,
    /// Dropout probability during training (0: none): on each hidden layer's output (MLP),
    /// between the recurrent layers and before the output layer (RNN), and after each
    /// activation inside the blocks (WaveNet: the gate; TCN: both ReLUs), as in Bai et al.
    /// `None` (as in runs saved before the option existed) means 0.
    #[config(default = "None")]
    pub dropout: Option<f64>,
    /// Convolutions: weight normalisation of the dilated convolutions, w = g · v / ‖v‖ per
    /// output channel (as in Bai et al.'s TCN). `None` (older runs) means off.
    #[config(default = "None")]
    pub weight_norm: Option<bool>,
}

impl SequenceModelKind {
    /// Every network, by its `--model` name.
    pub const ALL: [(&'static str, SequenceModelKind); 5] = [
        ("mlp", SequenceModelKind::Mlp),
        ("gru", SequenceModelKind::Gru),
        ("lstm", SequenceModelKind::Lstm),
        ("wavenet", SequenceModelKind::Wavenet),
        ("tcn", SequenceModelKind::Tcn),
    ];

    /// The network named `name` (`mlp`, `gru`, `lstm`, `wavenet`, `tcn`), if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    /// The `--model` name of the network.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }
}

impl SequenceModelConfig {
    /// Checks that the settings describe a model that can be built.
    pub fn validate(&self) -> Result<(), String> {
        self.output.validate()?;
        if self.input_channels == 0 || self.hidden == 0 || self.layers == 0 {
            return Err("input channels, hidden units and layers must all be at least 1".into());
        }
        match self.kind {
            SequenceModelKind::Mlp if self.window == 0 => {
                return Err("the window τ must be at least 1".into());
            }
            SequenceModelKind::Wavenet | SequenceModelKind::Tcn => {
                if self.blocks == 0 || self.kernel < 2 || self.first_kernel == 0 {
                    return Err(format!(
                        "a causal convolution stack needs blocks >= 1, kernel >= 2 and a first \
                         kernel >= 1 (got blocks {}, kernel {}, first kernel {})",
                        self.blocks, self.kernel, self.first_kernel
                    ));
                }
                if self.layers > 20 {
                    return Err(format!(
                        "{} layers per block means dilations up to 2^{}; use at most 20",
                        self.layers,
                        self.layers - 1
                    ));
                }
            }
            _ => {}
        }
        if !(0.0..1.0).contains(&self.dropout_probability()) {
            return Err(format!(
                "dropout must be in [0, 1), got {}",
                self.dropout_probability()
            ));
        }
        let convolutional = matches!(
            self.kind,
            SequenceModelKind::Wavenet | SequenceModelKind::Tcn
        );
        if self.uses_weight_norm() && !convolutional {
            return Err(format!(
                "weight normalisation applies to the dilated convolutions of wavenet and tcn, \
                 not to {:?}",
                self.kind
            ));
        }
        if self.num_classes == Some(0) {
            return Err("a conditional model needs at least one class".into());
        }
        Ok(())
    }

    /// A one-line description: the network, its size, its output and its receptive field.
    pub fn describe(&self) -> String {
        let field = match self.receptive_field() {
            Some(r) => format!("receptive field {r} steps"),
            None => "receptive field: the whole past".into(),
        };
        let mut options = String::new();
        if self.dropout_probability() > 0.0 {
            options += &format!(", dropout {}", self.dropout_probability());
        }
        if self.uses_weight_norm() {
            options += ", weight-normalised";
        }
        format!(
            "{:?} ({} hidden, depth {}, {:?}{options}; {field})",
            self.kind, self.hidden, self.layers, self.output
        )
    }

    /// The window τ of a window MLP (`None` for the other networks).
    pub fn window(&self) -> Option<usize> {
        (self.kind == SequenceModelKind::Mlp).then_some(self.window)
    }

    /// Whether the network is recurrent (GRU or LSTM).
    pub fn is_recurrent(&self) -> bool {
        matches!(self.kind, SequenceModelKind::Gru | SequenceModelKind::Lstm)
    }

    /// The dropout probability during training (0 when unset).
    pub fn dropout_probability(&self) -> f64 {
        self.dropout.unwrap_or(0.0)
    }

    /// Whether the dilated convolutions are weight-normalised.
    pub fn uses_weight_norm(&self) -> bool {
        self.weight_norm.unwrap_or(false)
    }

    /// The dilations of the convolution layers, in order: 1, 2, ..., 2^(layers−1), `blocks`
    /// times (empty for the other networks).
    pub fn dilations(&self) -> Vec<usize> {
        match self.kind {
            SequenceModelKind::Wavenet | SequenceModelKind::Tcn => (0..self.blocks)
                .flat_map(|_| (0..self.layers).map(|i| 1usize << i))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// How many past steps the output at step t reads: the output depends on x_{t−R}, ...,
    /// x_{t−1} and on nothing else. `None` for the recurrent networks (the whole past).
    ///
    /// - MLP: R = τ.
    /// - WaveNet: R = k₀ + Σ_i (k − 1) d_i (the first layer reads k₀ past steps, each dilated
    ///   layer widens the field by (k − 1) d_i).
    /// - TCN: R = k₀ + 2 Σ_i (k − 1) d_i (two dilated convolutions per block).
    pub fn receptive_field(&self) -> Option<usize> {
        let widen: usize = self.dilations().iter().map(|d| (self.kernel - 1) * d).sum();
        match self.kind {
            SequenceModelKind::Mlp => Some(self.window),
            SequenceModelKind::Gru | SequenceModelKind::Lstm => None,
            SequenceModelKind::Wavenet => Some(self.first_kernel + widen),
            SequenceModelKind::Tcn => Some(self.first_kernel + 2 * widen),
        }
    }

    /// Builds the model with freshly initialised weights.
    pub fn init(&self, device: &Device) -> SequenceModel {
        match self.kind {
            SequenceModelKind::Mlp => SequenceModel::Mlp(WindowMlp::new(self, device)),
            SequenceModelKind::Gru | SequenceModelKind::Lstm => {
                SequenceModel::Rnn(Rnn::new(self, device))
            }
            SequenceModelKind::Wavenet | SequenceModelKind::Tcn => {
                SequenceModel::Conv(CausalConv::new(self, device))
            }
        }
    }

    /// Builds the model with initial weights fixed by `seed`.
    pub fn init_seeded(&self, seed: u64, device: &Device) -> SequenceModel {
        crate::rng::with_device_seed(device, seed, || {
            let model = self.init(device);
            model.visit(&mut InitialiseNow);
            model
        })
    }
}

/// Reads every parameter once, which makes lazily initialised parameters draw their values.
struct InitialiseNow;

impl ModuleVisitor for InitialiseNow {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// A sequence model: one of the three networks. (Held a few times per run: the size difference of the variants costs nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum SequenceModel {
    /// The window MLP.
    Mlp(WindowMlp),
    /// The GRU or LSTM.
    Rnn(Rnn),
    /// The causal convolution stack (WaveNet or TCN).
    Conv(CausalConv),
}

impl SequenceModel {
    /// Features [batch, P, time] of p(x_t | x_<t, h) for every step, from inputs
    /// [batch, C, time]; `labels` (shape [batch]) when the model is conditional.
    pub fn forward(&self, inputs: Tensor<3>, labels: Option<Tensor<1, Int>>) -> Tensor<3> {
        match self {
            SequenceModel::Mlp(m) => m.forward(inputs, labels.as_ref()),
            SequenceModel::Rnn(m) => m.forward(inputs, labels.as_ref()),
            SequenceModel::Conv(m) => m.forward(inputs, labels.as_ref()),
        }
    }
}

/// One learned vector per class, or nothing for an unconditional layer.
pub(crate) fn class_embedding(
    num_classes: Option<usize>,
    width: usize,
    device: &Device,
) -> Option<Embedding> {
    num_classes.map(|n| EmbeddingConfig::new(n, width).init(device))
}

/// Adds the class vector of each example (shape [batch, C, 1], broadcast over time) to `x`
/// of shape [batch, C, time]; returns `x` unchanged for an unconditional layer.
pub(crate) fn add_class(
    x: Tensor<3>,
    embedding: Option<&Embedding>,
    labels: Option<&Tensor<1, Int>>,
) -> Tensor<3> {
    match class_vectors(embedding, labels) {
        Some(v) => {
            let [batch, width] = v.dims();
            x + v.reshape([batch, width, 1])
        }
        None => x,
    }
}

/// The class vector of each example, shape [batch, C]; `None` for an unconditional layer
/// (or when no labels are given).
pub(crate) fn class_vectors(
    embedding: Option<&Embedding>,
    labels: Option<&Tensor<1, Int>>,
) -> Option<Tensor<2>> {
    let (embedding, labels) = (embedding?, labels?);
    let [batch] = labels.dims();
    let v = embedding.forward(labels.clone().reshape([batch, 1])); // [batch, 1, C]
    let width = v.dims()[2];
    Some(v.reshape([batch, width]))
}
