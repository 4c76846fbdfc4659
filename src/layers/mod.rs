//! Building blocks whose connectivity keeps a network causal.

pub mod shifted_conv;

pub use shifted_conv::{HorizontalConv, VerticalConv};
