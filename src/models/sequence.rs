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
//! Each network has its own settings ([`SequenceNetwork`], a tagged enum); what they share
//! (the steps' channels, the output distribution, the classes, dropout) is in
//! [`SequenceModelConfig`]. A global conditioning vector, a learned embedding of h, is added
//! to every layer's pre-activations ([`super::conditioning`]).

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::causal_conv::{BlockKind, CausalConv, CausalConvConfig};
use super::conditioning::{Condition, ConditionWidth, StepShape};
use super::rnn::{CellKind, Rnn, RnnConfig};
use super::window_mlp::{WindowMlp, WindowMlpConfig};
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

/// The network of a sequence model and its own settings: a window MLP has a window and no
/// dilations, a recurrent network neither. Saved in `config.json` as `"kind"` beside its
/// fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SequenceNetwork {
    /// An MLP over the last τ steps.
    Mlp(WindowMlpConfig),
    /// A stack of GRU layers.
    Gru(RnnConfig),
    /// A stack of LSTM layers.
    Lstm(RnnConfig),
    /// Dilated causal convolutions in gated residual blocks.
    Wavenet(CausalConvConfig),
    /// Dilated causal convolutions in plain residual blocks.
    Tcn(CausalConvConfig),
}

impl SequenceNetwork {
    /// The network `kind` with its default settings.
    pub fn new(kind: SequenceModelKind) -> Self {
        match kind {
            SequenceModelKind::Mlp => Self::Mlp(WindowMlpConfig::default()),
            SequenceModelKind::Gru => Self::Gru(RnnConfig::default()),
            SequenceModelKind::Lstm => Self::Lstm(RnnConfig::default()),
            SequenceModelKind::Wavenet => Self::Wavenet(CausalConvConfig::default()),
            SequenceModelKind::Tcn => Self::Tcn(CausalConvConfig::default()),
        }
    }

    /// Which network this is.
    pub fn kind(&self) -> SequenceModelKind {
        match self {
            Self::Mlp(_) => SequenceModelKind::Mlp,
            Self::Gru(_) => SequenceModelKind::Gru,
            Self::Lstm(_) => SequenceModelKind::Lstm,
            Self::Wavenet(_) => SequenceModelKind::Wavenet,
            Self::Tcn(_) => SequenceModelKind::Tcn,
        }
    }

    /// Hidden units (MLP, RNN) or residual channels (convolutions).
    pub fn hidden(&self) -> usize {
        match self {
            Self::Mlp(c) => c.hidden,
            Self::Gru(c) | Self::Lstm(c) => c.hidden,
            Self::Wavenet(c) | Self::Tcn(c) => c.hidden,
        }
    }

    /// Hidden layers (MLP), stacked layers (RNN) or layers per block (convolutions).
    pub fn layers(&self) -> usize {
        match self {
            Self::Mlp(c) => c.layers,
            Self::Gru(c) | Self::Lstm(c) => c.layers,
            Self::Wavenet(c) | Self::Tcn(c) => c.layers,
        }
    }

    /// Checks that the settings describe a network that can be built.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::Mlp(c) => c.validate(),
            Self::Gru(c) | Self::Lstm(c) => c.validate(),
            Self::Wavenet(c) | Self::Tcn(c) => c.validate(),
        }
    }
}

/// Settings of a sequence model; saved in the run's `config.json`, enough to rebuild it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceModelConfig {
    /// The network and its own settings.
    #[serde(flatten)]
    pub network: SequenceNetwork,
    /// Channels of the input at each step.
    pub input_channels: usize,
    /// The distribution of one step, which fixes the number of output features.
    pub output: OutputDistribution,
    /// Number of classes (series ids) for the conditional model; `None` for p(x).
    #[serde(default)]
    pub num_classes: Option<usize>,
    /// Dimension D of a conditioning vector per sequence (`vectors:FILE`, like a speaker
    /// vector); `None` for p(x) or classes.
    #[serde(default)]
    pub vector_dim: Option<usize>,
    /// Values of per-step covariates each step reads (K columns, 2K when known ahead);
    /// `None` without covariates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covariates: Option<usize>,
    /// Dropout probability during training (0: none): on each hidden layer's output (MLP),
    /// between the recurrent layers and before the output layer (RNN), and after each
    /// activation inside the blocks (WaveNet: the gate; TCN: both ReLUs), as in Bai et al.
    /// `None` (as in runs saved before the option existed) means 0.
    #[serde(default)]
    pub dropout: Option<f64>,
}

impl SequenceModelConfig {
    /// Network `kind` with its default settings, for steps encoded in `input_channels`
    /// channels and distributed as `output`; unconditional, no dropout.
    pub fn new(kind: SequenceModelKind, input_channels: usize, output: OutputDistribution) -> Self {
        Self {
            network: SequenceNetwork::new(kind),
            input_channels,
            output,
            num_classes: None,
            vector_dim: None,
            covariates: None,
            dropout: None,
        }
    }

    /// The same model with `hidden` units or channels.
    pub fn with_hidden(mut self, hidden: usize) -> Self {
        match &mut self.network {
            SequenceNetwork::Mlp(c) => c.hidden = hidden,
            SequenceNetwork::Gru(c) | SequenceNetwork::Lstm(c) => c.hidden = hidden,
            SequenceNetwork::Wavenet(c) | SequenceNetwork::Tcn(c) => c.hidden = hidden,
        }
        self
    }

    /// The same model with `layers` hidden layers, stacked layers or layers per block.
    pub fn with_layers(mut self, layers: usize) -> Self {
        match &mut self.network {
            SequenceNetwork::Mlp(c) => c.layers = layers,
            SequenceNetwork::Gru(c) | SequenceNetwork::Lstm(c) => c.layers = layers,
            SequenceNetwork::Wavenet(c) | SequenceNetwork::Tcn(c) => c.layers = layers,
        }
        self
    }

    /// The same model with a window of `window` steps (a window MLP; the other networks have
    /// no window and keep none).
    pub fn with_window(mut self, window: usize) -> Self {
        if let SequenceNetwork::Mlp(c) = &mut self.network {
            c.window = window;
        }
        self
    }

    /// The same model with dilated kernels of `kernel` (a convolution stack; the other
    /// networks keep none).
    pub fn with_kernel(mut self, kernel: usize) -> Self {
        if let Some(c) = self.convolutions_mut() {
            c.kernel = kernel;
        }
        self
    }

    /// The same model with a first kernel of `kernel` (a convolution stack only).
    pub fn with_first_kernel(mut self, kernel: usize) -> Self {
        if let Some(c) = self.convolutions_mut() {
            c.first_kernel = kernel;
        }
        self
    }

    /// The same model with `blocks` repeats of the dilation cycle (a convolution stack only).
    pub fn with_blocks(mut self, blocks: usize) -> Self {
        if let Some(c) = self.convolutions_mut() {
            c.blocks = blocks;
        }
        self
    }

    /// The same model with weight normalisation on or off (a convolution stack only).
    pub fn with_weight_norm(mut self, on: Option<bool>) -> Self {
        if let Some(c) = self.convolutions_mut() {
            c.weight_norm = on;
        }
        self
    }

    fn convolutions_mut(&mut self) -> Option<&mut CausalConvConfig> {
        match &mut self.network {
            SequenceNetwork::Wavenet(c) | SequenceNetwork::Tcn(c) => Some(c),
            _ => None,
        }
    }

    /// The same model with `num_classes` classes (`None`: unconditional).
    pub fn with_num_classes(mut self, num_classes: Option<usize>) -> Self {
        self.num_classes = num_classes;
        self
    }

    /// The same model with dropout `p` during training.
    pub fn with_dropout(mut self, p: Option<f64>) -> Self {
        self.dropout = p;
        self
    }

    /// The network's kind.
    pub fn kind(&self) -> SequenceModelKind {
        self.network.kind()
    }

    /// The settings of a causal convolution stack (`None` for the other networks).
    pub fn convolutions(&self) -> Option<&CausalConvConfig> {
        match &self.network {
            SequenceNetwork::Wavenet(c) | SequenceNetwork::Tcn(c) => Some(c),
            _ => None,
        }
    }

    /// Checks that the settings describe a model that can be built.
    pub fn validate(&self) -> Result<(), String> {
        self.output.validate()?;
        if self.input_channels == 0 {
            return Err("the input needs at least one channel".into());
        }
        self.network.validate()?;
        if !(0.0..1.0).contains(&self.dropout_probability()) {
            return Err(format!(
                "dropout must be in [0, 1), got {}",
                self.dropout_probability()
            ));
        }
        ConditionWidth::validate_fields(self.num_classes, self.vector_dim)
    }

    /// What the model is conditioned on (`None` for p(x)).
    pub fn condition(&self) -> Option<ConditionWidth> {
        ConditionWidth::from_fields(self.num_classes, self.vector_dim)
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
            self.kind(),
            self.network.hidden(),
            self.network.layers(),
            self.output
        )
    }

    /// The window τ of a window MLP (`None` for the other networks).
    pub fn window(&self) -> Option<usize> {
        match &self.network {
            SequenceNetwork::Mlp(c) => Some(c.window),
            _ => None,
        }
    }

    /// Whether the network is recurrent (GRU or LSTM).
    pub fn is_recurrent(&self) -> bool {
        matches!(
            self.network,
            SequenceNetwork::Gru(_) | SequenceNetwork::Lstm(_)
        )
    }

    /// The dropout probability during training (0 when unset).
    pub fn dropout_probability(&self) -> f64 {
        self.dropout.unwrap_or(0.0)
    }

    /// Whether the dilated convolutions are weight-normalised.
    pub fn uses_weight_norm(&self) -> bool {
        self.convolutions()
            .is_some_and(CausalConvConfig::uses_weight_norm)
    }

    /// The dilations of the convolution layers, in order (empty for the other networks).
    pub fn dilations(&self) -> Vec<usize> {
        self.convolutions()
            .map(CausalConvConfig::dilations)
            .unwrap_or_default()
    }

    /// How many past steps the output at step t reads: the output depends on x_{t−R}, ...,
    /// x_{t−1} and on nothing else. `None` for the recurrent networks (the whole past).
    ///
    /// - MLP: R = τ.
    /// - WaveNet: R = k₀ + Σ_i (k − 1) d_i (the first layer reads k₀ past steps, each dilated
    ///   layer widens the field by (k − 1) d_i).
    /// - TCN: R = k₀ + 2 Σ_i (k − 1) d_i (two dilated convolutions per block).
    pub fn receptive_field(&self) -> Option<usize> {
        match &self.network {
            SequenceNetwork::Mlp(c) => Some(c.window),
            SequenceNetwork::Gru(_) | SequenceNetwork::Lstm(_) => None,
            SequenceNetwork::Wavenet(c) => Some(c.receptive_field(BlockKind::WaveNet)),
            SequenceNetwork::Tcn(c) => Some(c.receptive_field(BlockKind::Tcn)),
        }
    }

    /// What every network needs to know of the steps.
    fn shape(&self) -> StepShape {
        StepShape {
            input_channels: self.input_channels,
            features: self.output.params(),
            condition: self.condition(),
            covariates: self.covariates,
            dropout: self.dropout_probability(),
        }
    }

    /// Builds the model with freshly initialised weights.
    pub fn init(&self, device: &Device) -> SequenceModel {
        let shape = self.shape();
        match &self.network {
            SequenceNetwork::Mlp(c) => SequenceModel::Mlp(WindowMlp::new(c, &shape, device)),
            SequenceNetwork::Gru(c) => {
                SequenceModel::Rnn(Rnn::new(CellKind::Gru, c, &shape, device))
            }
            SequenceNetwork::Lstm(c) => {
                SequenceModel::Rnn(Rnn::new(CellKind::Lstm, c, &shape, device))
            }
            SequenceNetwork::Wavenet(c) => {
                SequenceModel::Conv(CausalConv::new(BlockKind::WaveNet, c, &shape, device))
            }
            SequenceNetwork::Tcn(c) => {
                SequenceModel::Conv(CausalConv::new(BlockKind::Tcn, c, &shape, device))
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
    /// [batch, C, time]; `condition` (h of each sequence) when the model is conditional.
    pub fn forward(&self, inputs: Tensor<3>, condition: Option<Condition>) -> Tensor<3> {
        self.forward_with_covariates(inputs, condition, None)
    }

    /// [`Self::forward`] with per-step covariates [batch, width, time] aligned so that
    /// position t holds what step t may read (c_t, and c_{t+1} when known ahead): each
    /// network reads them at position t only, or before.
    pub fn forward_with_covariates(
        &self,
        inputs: Tensor<3>,
        condition: Option<Condition>,
        covariates: Option<&Tensor<3>>,
    ) -> Tensor<3> {
        match self {
            SequenceModel::Mlp(m) => m.forward(inputs, condition.as_ref(), covariates),
            SequenceModel::Rnn(m) => m.forward(inputs, condition.as_ref(), covariates),
            SequenceModel::Conv(m) => m.forward(inputs, condition.as_ref(), covariates),
        }
    }
}
