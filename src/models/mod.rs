//! The networks, one file each, readable top to bottom.

pub mod gated_pixelcnn;

pub use gated_pixelcnn::{GatedPixelCnn, GatedPixelCnnConfig};
