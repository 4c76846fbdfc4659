//! The recurrent sequence model (a latent autoregressive model): a GRU or an LSTM whose
//! hidden state s_t summarises the whole past.
//!
//! ```text
//! u_t   = W_in x_{t−1} + b_in + V⁰ h              (x_{−1} = 0: the start)
//! s¹_t  = cell¹(u_t, s¹_{t−1}),   sˡ_t = cellˡ(sˡ⁻¹_t + Vˡ h, sˡ_{t−1})
//! features_t = W_out s^L_t + b_out
//! ```
//!
//! The input at step t is the previous step x_{t−1}, so the state at t has read exactly
//! x_0..x_{t−1}. GRU: z = σ(W_z u + U_z s), r = σ(W_r u + U_r s),
//! ŝ = tanh(W u + r ⊙ (U s)), s' = (1 − z) ⊙ ŝ + z ⊙ s. LSTM: gates i, f, o = σ(·),
//! c' = f ⊙ c + i ⊙ tanh(·), s' = o ⊙ tanh(c'). The cells are burn's `Gru` and `Lstm`.
//!
//! Long sequences are trained with truncated backpropagation through time: the sequence is
//! cut into chunks, each chunk starts from the previous chunk's final state (detached from
//! the graph), and the optimiser steps after each chunk ([`Rnn::forward_chunk`]).

use crate::fused::dropout::dropout;
use burn::nn::{
    Dropout, DropoutConfig, Gru, GruConfig, Linear, LinearConfig, Lstm, LstmConfig, LstmState,
};
use burn::prelude::*;

use serde::{Deserialize, Serialize};

use super::conditioning::{Condition, ConditionMap, StepShape, add_condition, condition_maps};

/// Settings of a GRU or LSTM network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RnnConfig {
    /// Hidden units per layer (the size of the state).
    pub hidden: usize,
    /// Stacked recurrent layers.
    pub layers: usize,
}

impl Default for RnnConfig {
    /// 64 hidden units, 2 layers.
    fn default() -> Self {
        Self {
            hidden: 64,
            layers: 2,
        }
    }
}

impl RnnConfig {
    /// Checks that the settings describe a network that can be built.
    pub fn validate(&self) -> Result<(), String> {
        if self.hidden == 0 || self.layers == 0 {
            return Err("hidden units and layers must be at least 1".into());
        }
        Ok(())
    }
}

/// Which recurrent cell a network stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// Gated recurrent unit.
    Gru,
    /// Long short-term memory.
    Lstm,
}

/// One recurrent layer. (Held a few times per run: the size difference of the variants costs nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum RnnCell {
    /// A GRU layer.
    Gru(Gru),
    /// An LSTM layer.
    Lstm(Lstm),
}

/// The state of every layer after some steps: the hidden state, and the LSTM's cell state.
#[derive(Debug, Clone)]
pub struct RnnState {
    /// Per layer: hidden state [batch, H] and, for an LSTM, the cell state [batch, H].
    pub layers: Vec<(Tensor<2>, Option<Tensor<2>>)>,
}

impl RnnState {
    /// The same state cut from the autodiff graph (the boundary of truncated BPTT).
    pub fn detach(self) -> Self {
        Self {
            layers: self
                .layers
                .into_iter()
                .map(|(h, c)| (h.detach(), c.map(Tensor::detach)))
                .collect(),
        }
    }
}

/// The GRU / LSTM network.
#[derive(Module, Debug)]
pub struct Rnn {
    input: Linear,
    /// The step's covariates into the first layer's input (absent without covariates).
    covariate: Option<Linear>,
    cells: Vec<RnnCell>,
    out: Linear,
    /// One conditioning map Vᵀh per layer (empty when unconditional).
    condition: Vec<ConditionMap>,
    /// On each layer's output (the input of the next layer or of `out`), in training only.
    dropout: Dropout,
}

impl Rnn {
    /// Builds the network of `config` with `cell`s, for steps of `shape`.
    pub fn new(cell: CellKind, config: &RnnConfig, shape: &StepShape, device: &Device) -> Self {
        let h = config.hidden;
        let cells = (0..config.layers)
            .map(|_| match cell {
                CellKind::Lstm => RnnCell::Lstm(LstmConfig::new(h, h, true).init(device)),
                CellKind::Gru => RnnCell::Gru(GruConfig::new(h, h, true).init(device)),
            })
            .collect();
        Self {
            input: LinearConfig::new(shape.input_channels, h).init(device),
            covariate: shape
                .covariates
                .map(|k| LinearConfig::new(k, h).with_bias(false).init(device)),
            cells,
            out: LinearConfig::new(h, shape.features).init(device),
            condition: condition_maps(shape.condition, h, config.layers, device),
            dropout: DropoutConfig::new(shape.dropout).init(),
        }
    }

    /// Features [batch, P, time] from inputs [batch, C, time] (and the covariates
    /// [batch, K, time] each step reads), from the zero state.
    pub fn forward(
        &self,
        inputs: Tensor<3>,
        condition: Option<&Condition>,
        covariates: Option<&Tensor<3>>,
    ) -> Tensor<3> {
        self.forward_chunk(shift_right(inputs), condition, covariates, None)
            .0
    }

    /// One chunk of already shifted inputs ([`shift_right`]: position t holds x_{t−1}) and
    /// of the covariates (position t holds what step t reads), continuing from `state`
    /// (zeros when `None`); returns the features and the final state.
    pub fn forward_chunk(
        &self,
        shifted: Tensor<3>,
        condition: Option<&Condition>,
        covariates: Option<&Tensor<3>>,
        state: Option<RnnState>,
    ) -> (Tensor<3>, RnnState) {
        let mut z = self.input.forward(shifted.swap_dims(1, 2)); // [B, T, H]
        if let (Some(linear), Some(c)) = (&self.covariate, covariates) {
            z = z + linear.forward(c.clone().swap_dims(1, 2));
        }
        let mut z = z.swap_dims(1, 2); // [B, H, T]
        let mut finals = Vec::with_capacity(self.cells.len());
        let mut previous = state.map(|s| s.layers.into_iter());
        for (i, cell) in self.cells.iter().enumerate() {
            let input = add_condition(z, self.condition.get(i), condition).swap_dims(1, 2); // [B, T, H]
            let start = previous.as_mut().and_then(Iterator::next);
            let (out, last) = match cell {
                RnnCell::Gru(gru) => {
                    let out = crate::fused::gru::gru_sequence(gru, input, start.map(|(h, _)| h));
                    let [b, t, h] = out.dims();
                    let last = out.clone().narrow(1, t - 1, 1).reshape([b, h]);
                    (out, (last, None))
                }
                RnnCell::Lstm(lstm) => {
                    let start = start.map(|(h, c)| {
                        let c = c.unwrap_or_else(|| h.zeros_like());
                        LstmState::new(c, h)
                    });
                    let (out, s) = crate::fused::lstm::lstm_sequence(lstm, input, start);
                    (out, (s.hidden, Some(s.cell)))
                }
            };
            finals.push(last);
            z = dropout(&self.dropout, out.swap_dims(1, 2));
        }
        let features = self.out.forward(z.swap_dims(1, 2)).swap_dims(1, 2);
        (features, RnnState { layers: finals })
    }
}

/// Moves every step one place later along time and puts zeros at step 0: position t then
/// holds x_{t−1}, the input of the recurrent cell at step t.
pub fn shift_right(inputs: Tensor<3>) -> Tensor<3> {
    let [batch, channels, time] = inputs.dims();
    let zeros = Tensor::zeros([batch, channels, 1], &inputs.device());
    if time == 1 {
        return zeros;
    }
    Tensor::cat(vec![zeros, inputs.narrow(2, 0, time - 1)], 2)
}
