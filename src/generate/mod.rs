//! Ancestral sampling: draw x_1 from p(x_1), then x_2 from p(x_2 | x_1), and so on in
//! raster order, each draw feeding the next.
//!
//! Two paths give the same images for the same seed:
//! - [`naive`]: rerun the whole network for every pixel (simple, the reference);
//! - [`cached`]: keep each layer's past activations and compute only what the new pixel
//!   needs (Ramachandran et al. 2017, "Fast Generation for Convolutional Autoregressive
//!   Models"): the default of `argen sample`.
//!
//! Each image draws from its own random stream ([`crate::rng::seeded_stream`] of the seed
//! and the image's index), one number per sampled pixel in raster order; a given (known)
//! pixel draws nothing. So an image depends on the seed, its index and its class, not on the
//! batch size or the path.

pub mod cached;
pub mod conv_cache;
pub mod naive;
pub mod pixelcnn_pp;
pub mod sequence;

pub use cached::{sample_cached, sample_cached_on};
pub use naive::{sample_naive, sample_naive_on};

use burn::prelude::*;

use crate::distributions::categorical;
use crate::models::{Condition, ConditionWidth, ImageModel};
use crate::rng::SeededRng;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SampleRequest {
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Colour channels per pixel (1 grey, 3 RGB), generated in the order R → G → B.
    pub colours: usize,
    /// One entry per image: its class for a class-conditional model, `None` otherwise.
    pub labels: Vec<Option<usize>>,
    /// For a vector-conditioned model, the vector h of each image: `labels.len()` rows of D
    /// values one after the other.
    pub vectors: Option<Vec<f32>>,
    /// Softmax temperature (1 samples the model; lower is more conservative, 0 is greedy).
    pub temperature: f64,
    /// Seed of the random draws.
    pub seed: u64,
    /// Images generated at once (bounds memory; does not change the images).
    pub batch: usize,
    /// Completion: the first `given_positions` positions of each image, in generation order
    /// (pixel by pixel in raster order, colour by colour within a pixel), are copied from
    /// `given` (levels, images one after the other, each [colour][row][column]) instead of
    /// sampled.
    pub given: Option<Vec<u8>>,
    /// Number of leading positions taken from `given`: `rows · width · colours` keeps the
    /// top `rows` rows.
    pub given_positions: usize,
    /// Completion with any set of kept values: `given_mask[i]` (one entry per value of an
    /// image, [colour][row][column]) says that value i of every image is copied from `given`
    /// instead of sampled, wherever it lies. A value after a kept one in raster order reads it;
    /// a value before it does not (the model conditions on the past only), so a kept value
    /// below an erased region is kept, not looked ahead at: the draws are from
    /// p(x_i | x_<i), not from p(erased | all kept).
    pub given_mask: Option<Vec<bool>>,
    /// Called after every generation step with the levels chosen for the batch (to watch
    /// the images appear).
    pub on_step: Option<StepObserver>,
}

/// One generation step of a batch of images: the levels chosen for images
/// `first_image..first_image + levels.len()` at step `position` (raster order, colour by
/// colour within a pixel; [`SampleRequest::index`] says where it is stored).
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    /// The request's index of the batch's first image.
    pub first_image: usize,
    /// The generation step.
    pub position: usize,
    /// The level of each image of the batch at that step.
    pub levels: &'a [u8],
}

/// A function called after every generation step ([`SampleRequest::on_step`]).
#[derive(Clone)]
pub struct StepObserver(pub std::sync::Arc<dyn Fn(Step<'_>) + Send + Sync>);

impl std::fmt::Debug for StepObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StepObserver")
    }
}

impl SampleRequest {
    /// A request for grey, uncompleted samples, at temperature 1, in batches of 64.
    pub fn new(height: usize, width: usize, labels: Vec<Option<usize>>, seed: u64) -> Self {
        Self {
            height,
            width,
            colours: 1,
            labels,
            vectors: None,
            temperature: 1.0,
            seed,
            batch: 64,
            given: None,
            given_positions: 0,
            given_mask: None,
            on_step: None,
        }
    }

    /// Values per image.
    pub fn image_size(&self) -> usize {
        self.colours * self.height * self.width
    }

    /// The (row, column, colour) of generation step `position`.
    pub fn place(&self, position: usize) -> (usize, usize, usize) {
        let pixel = position / self.colours;
        (
            pixel / self.width,
            pixel % self.width,
            position % self.colours,
        )
    }

    /// Where the value of generation step `position` is stored in an image
    /// ([colour][row][column]).
    pub fn index(&self, position: usize) -> usize {
        let (row, col, colour) = self.place(position);
        (colour * self.height + row) * self.width + col
    }

    /// The level of step `position` of image `image` when it is given, `None` when it is to
    /// be sampled.
    fn given_level(&self, image: usize, position: usize) -> Option<u8> {
        let index = self.index(position);
        let kept = position < self.given_positions
            || self
                .given_mask
                .as_ref()
                .is_some_and(|mask| mask.get(index).copied().unwrap_or(false));
        kept.then(|| {
            let at = image * self.image_size() + index;
            self.given.as_ref().and_then(|g| g.get(at).copied())
        })
        .flatten()
    }
}

/// The descriptions h of the entries `range` of a request, for a model conditioned as
/// `width` (`None`: unconditional, no tensor): their classes (0 where none is given) or their
/// rows of `vectors`.
pub(crate) fn condition_of(
    width: Option<ConditionWidth>,
    labels: &[Option<usize>],
    vectors: Option<&[f32]>,
    range: std::ops::Range<usize>,
    device: &Device,
) -> Option<Condition> {
    let n = range.len();
    match width? {
        ConditionWidth::Classes(_) => {
            let values: Vec<i64> = labels[range]
                .iter()
                .map(|l| l.unwrap_or(0) as i64)
                .collect();
            Some(Condition::Classes(Tensor::from_data(
                TensorData::new(values, [n]),
                device,
            )))
        }
        ConditionWidth::Vectors(d) => {
            let vectors = vectors.expect("a vector-conditioned request carries its vectors");
            let rows = vectors[range.start * d..range.end * d].to_vec();
            Some(Condition::Vectors(Tensor::from_data(
                TensorData::new(rows, [n, d]),
                device,
            )))
        }
    }
}

impl SampleRequest {
    /// The descriptions h of the images `range` for `model` (`None` if it is unconditional).
    pub(crate) fn condition(
        &self,
        model: &ImageModel,
        range: std::ops::Range<usize>,
        device: &Device,
    ) -> Option<Condition> {
        let width = model
            .reads_vectors_when_sampling()
            .then(|| match &self.vectors {
                Some(v) => ConditionWidth::Vectors(v.len() / self.labels.len().max(1)),
                None => {
                    assert!(
                        !model.is_auto_encoder(),
                        "the auto-encoder draws given codes: the request needs its vectors"
                    );
                    ConditionWidth::Classes(0)
                }
            });
        condition_of(width, &self.labels, self.vectors.as_deref(), range, device)
    }
}

/// Draws the request's images batch by batch (`request.batch` images at a time), the batches
/// dealt over `devices` in turn: batch b runs on device b mod D, each device on its own
/// thread with its own copy of `model`. `draw(model, first_image, labels, device)` draws one
/// batch. The images come back in the request's order and do not depend on the devices:
/// each image has its own random stream, and a batch's images do not interact.
pub(crate) fn in_batches_over(
    model: &ImageModel,
    request: &SampleRequest,
    devices: &[Device],
    draw: impl Fn(&ImageModel, usize, &[Option<usize>], &Device) -> Vec<u8> + Sync,
) -> Vec<u8> {
    assert!(!devices.is_empty(), "at least one device");
    let batch = request.batch.max(1);
    let batches: Vec<(usize, &[Option<usize>])> = request
        .labels
        .chunks(batch)
        .enumerate()
        .map(|(b, labels)| (b * batch, labels))
        .collect();
    if devices.len() == 1 {
        return batches
            .into_iter()
            .flat_map(|(first, labels)| draw(model, first, labels, &devices[0]))
            .collect();
    }
    let draw = &draw;
    let batches = &batches;
    let mut parts: Vec<(usize, Vec<u8>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = devices
            .iter()
            .enumerate()
            .map(|(k, device)| {
                let replica = model.clone().to_device(device);
                scope.spawn(move || {
                    batches
                        .iter()
                        .enumerate()
                        .filter(|(b, _)| b % devices.len() == k)
                        .map(|(b, &(first, labels))| (b, draw(&replica, first, labels, device)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(part) => part,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    parts.sort_by_key(|(b, _)| *b);
    parts.into_iter().flat_map(|(_, levels)| levels).collect()
}

/// The random streams of the images `first_image..first_image + n` of a request.
fn image_streams(request: &SampleRequest, first_image: usize, n: usize) -> Vec<SeededRng> {
    (first_image..first_image + n)
        .map(|i| crate::rng::seeded_stream(request.seed, i as u64))
        .collect()
}

/// Chooses the level of one generation step for every image of a batch: the given level, or a draw
/// from `logits` ([batch, levels] as f32) with that image's stream. `first_image` is the
/// index of the batch's first image in the request.
fn choose_levels(
    request: &SampleRequest,
    logits: TensorData,
    levels: usize,
    first_image: usize,
    position: usize,
    rngs: &mut [SeededRng],
) -> Vec<u8> {
    let logits = logits.convert::<f32>();
    let logits = logits.as_slice::<f32>().expect("f32 logits");
    let chosen: Vec<u8> = logits
        .chunks(levels)
        .enumerate()
        .zip(rngs.iter_mut())
        .map(
            |((i, row), rng)| match request.given_level(first_image + i, position) {
                Some(level) => level,
                None => categorical::sample_row(row, request.temperature, rng) as u8,
            },
        )
        .collect();
    if let Some(observer) = &request.on_step {
        (observer.0)(Step {
            first_image,
            position,
            levels: &chosen,
        });
    }
    chosen
}
