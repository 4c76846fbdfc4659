//! Building blocks whose connectivity keeps a network causal.

pub mod masked_conv;
pub mod shifted_conv;

pub use masked_conv::{MaskType, MaskedConv2d};
pub use shifted_conv::{HorizontalConv, VerticalConv};
