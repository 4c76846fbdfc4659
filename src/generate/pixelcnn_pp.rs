//! Generation for the PixelCNN++, naive and cached with strides.
//!
//! The network conditions on whole pixels (the colours' order lives in the mixture), so
//! both paths run the network once per pixel and then draw the pixel's colours one by one
//! from the mixture's conditionals ([`pixel_mixture::colour_log_probs`]), each draw with the
//! image's random stream: the same draws as every image model's, value by value.
//!
//! **Cached generation** (Ramachandran et al. 2017, "Fast Generation for Convolutional
//! Autoregressive Models", for networks with strides): every map of the network is cached
//! at its own resolution r (stride 2^r), and a position is computed once, at the first
//! moment all it reads is known:
//! - a row I of the **above stream** at resolution r sees only the pixels above image row
//!   2^r·I, so it is computed when generation reaches that row (for every r with
//!   i mod 2^r = 0), layer after layer: the down pass from fine to coarse, then the up
//!   pass from coarse to fine;
//! - a position (I, J) of the **above-left stream** at resolution r sees the rows above
//!   2^r·I and the pixels of that row left of 2^r·J, so it is computed when generation
//!   reaches pixel (2^r·I, 2^r·J), when both coordinates fall on the resolution's stride;
//! - the head then reads the finest up-pass position of the current pixel.
//!
//! Each layer computes one output row (above) or one output position (above-left) from the
//! cached window of inputs it reads, with the model's own weights, so the cached path
//! gives the naive path's parameters and hence its images.

use burn::prelude::*;
use burn::tensor::activation::elu;

use super::{SampleRequest, choose_levels, image_streams};
use crate::distributions::pixel_mixture;
use crate::models::pixelcnn_pp::{GatedResidual, PixelCnnPp, concat_elu, up_sample_above};
use crate::models::{Condition, ImageModel};

/// Naive generation: the whole network once per pixel, on the image drawn so far; the
/// batches dealt over `devices`. `image_model` is a PixelCNN++.
pub fn sample_naive(
    image_model: &ImageModel,
    request: &SampleRequest,
    devices: &[Device],
) -> Vec<u8> {
    in_batches(
        image_model,
        request,
        devices,
        |model, first, n, condition, device| {
            let mut draw = Draw::new(model, request, first, n);
            let (c, h, w) = (request.colours, request.height, request.width);
            for row in 0..h {
                for col in 0..w {
                    let values: Vec<i64> = draw.pixels.iter().map(|&v| i64::from(v)).collect();
                    let x =
                        Tensor::<4, Int>::from_data(TensorData::new(values, [n, c, h, w]), device);
                    let params = model.parameters(model.embed(x), condition.clone()).slice([
                        0..n,
                        0..draw.parameter_channels,
                        row..row + 1,
                        col..col + 1,
                    ]);
                    draw.pixel(row, col, params, device);
                }
            }
            draw.pixels
        },
    )
}

/// Cached generation with strides (see the module's documentation); the same images as
/// [`sample_naive`] for the same request.
pub fn sample_cached(
    image_model: &ImageModel,
    request: &SampleRequest,
    devices: &[Device],
) -> Vec<u8> {
    in_batches(
        image_model,
        request,
        devices,
        |model, first, n, condition, device| {
            Cached::new(model, request, n, condition, device).run(first)
        },
    )
}

/// The request's images in batches of `request.batch`, dealt over `devices`:
/// `generate(model, first image, images, their h, device)` draws one batch; the batches'
/// images one after the other.
fn in_batches(
    image_model: &ImageModel,
    request: &SampleRequest,
    devices: &[Device],
    generate: impl Fn(&PixelCnnPp, usize, usize, Option<Condition>, &Device) -> Vec<u8> + Sync,
) -> Vec<u8> {
    super::in_batches_over(
        image_model,
        request,
        devices,
        |image_model, first, labels, device| {
            let ImageModel::PixelCnnPp(model) = image_model else {
                unreachable!("a PixelCNN++ request")
            };
            let n = labels.len();
            let condition = request.condition(image_model, first..first + n, device);
            generate(model, first, n, condition, device)
        },
    )
}

/// The drawing of one batch's pixels from the mixture's parameters.
struct Draw<'a> {
    request: &'a SampleRequest,
    levels: usize,
    components: usize,
    parameter_channels: usize,
    first_image: usize,
    n: usize,
    rngs: Vec<crate::rng::SeededRng>,
    /// Levels drawn so far, images one after the other, each [colour][row][column].
    pixels: Vec<u8>,
}

impl<'a> Draw<'a> {
    fn new(model: &PixelCnnPp, request: &'a SampleRequest, first_image: usize, n: usize) -> Self {
        let layout = pixel_mixture::Layout::new(model.components(), request.colours);
        Self {
            request,
            levels: model.levels(),
            components: model.components(),
            parameter_channels: layout.channels(),
            first_image,
            n,
            rngs: image_streams(request, first_image, n),
            pixels: vec![0; n * request.image_size()],
        }
    }

    /// Draws the colours of pixel (`row`, `col`) of every image from its parameters
    /// `params` [n, channels, 1, 1], colour by colour, each given the colours before it.
    fn pixel(&mut self, row: usize, col: usize, params: Tensor<4>, device: &Device) {
        let (n, c) = (self.n, self.request.colours);
        let size = self.request.image_size();
        let pixel = row * self.request.width + col;
        // The pixel's colours drawn so far, as level centres [n, C, 1, 1] (later ones 0,
        // which the conditional of an earlier colour never reads).
        let mut centres = vec![0f32; n * c];
        for colour in 0..c {
            let y = Tensor::<4>::from_data(TensorData::new(centres.clone(), [n, c, 1, 1]), device);
            let logits = pixel_mixture::colour_log_probs(
                params.clone(),
                y,
                colour,
                self.levels,
                self.components,
            )
            .reshape([n, self.levels])
            .into_data();
            let position = pixel * c + colour;
            let chosen = choose_levels(
                self.request,
                logits,
                self.levels,
                self.first_image,
                position,
                &mut self.rngs,
            );
            let at = self.request.index(position);
            for (i, &level) in chosen.iter().enumerate() {
                self.pixels[i * size + at] = level;
                centres[i * c + colour] = pixel_mixture::centre_f32(level as usize, self.levels);
            }
        }
    }
}

/// The rows of one above-stream map at one resolution computed so far: [n, F, 1, W_r] each.
#[derive(Default)]
struct Rows(Vec<Tensor<4>>);

impl Rows {
    /// Rows `last − count + 1 ..= last` stacked, [n, F, count, W_r]; zeros above the image.
    fn window(&self, last: isize, count: usize, zero: &Tensor<4>) -> Tensor<4> {
        let parts = (0..count as isize)
            .map(|k| {
                let i = last - count as isize + 1 + k;
                if i < 0 {
                    zero.clone()
                } else {
                    self.0[i as usize].clone()
                }
            })
            .collect();
        Tensor::cat(parts, 2)
    }

    /// Row `i`, [n, F, 1, W_r].
    fn row(&self, i: usize) -> Tensor<4> {
        self.0[i].clone()
    }

    /// Position (`i`, `j`), [n, F, 1, 1].
    fn at(&self, i: usize, j: usize) -> Tensor<4> {
        self.0[i].clone().narrow(3, j, 1)
    }
}

/// The positions of one above-left map at one resolution computed so far, in raster
/// order: [n, F, 1, 1] each.
struct Grid {
    width: usize,
    cells: Vec<Tensor<4>>,
}

impl Grid {
    fn new(width: usize) -> Self {
        Self {
            width,
            cells: Vec::new(),
        }
    }

    /// Position (`i`, `j`).
    fn at(&self, i: usize, j: usize) -> Tensor<4> {
        self.cells[i * self.width + j].clone()
    }

    /// The `rows` × `cols` positions ending at (`last_row`, `last_col`), [n, F, rows, cols];
    /// zeros outside the image.
    fn window(
        &self,
        last_row: isize,
        last_col: isize,
        rows: usize,
        cols: usize,
        zero: &Tensor<4>,
    ) -> Tensor<4> {
        let row_parts = (0..rows as isize)
            .map(|a| {
                let i = last_row - rows as isize + 1 + a;
                let parts = (0..cols as isize)
                    .map(|b| {
                        let j = last_col - cols as isize + 1 + b;
                        if i < 0 || j < 0 || j >= self.width as isize {
                            zero.clone()
                        } else {
                            self.at(i as usize, j as usize)
                        }
                    })
                    .collect();
                Tensor::cat(parts, 3)
            })
            .collect();
        Tensor::cat(row_parts, 2)
    }

    fn push(&mut self, i: usize, j: usize, value: Tensor<4>) {
        debug_assert_eq!(self.cells.len(), i * self.width + j, "raster order");
        self.cells.push(value);
    }
}

/// The caches of one gated residual block at one resolution.
struct BlockCache<T> {
    /// c, the block's inner map.
    inner: T,
    /// The block's output.
    out: T,
    /// V₂ h, [n, 2F, 1, 1] (conditional models).
    bias: Option<Tensor<4>>,
}

/// The caches of one level (one resolution of one pass) of both streams.
struct LevelCache {
    /// The map that enters the level (`None` at the start of the up pass, which enters with
    /// the down pass's last map).
    above_entry: Option<Rows>,
    left_entry: Option<Grid>,
    above: Vec<BlockCache<Rows>>,
    left: Vec<BlockCache<Grid>>,
    /// Its resolution r (stride 2^r).
    resolution: usize,
}

/// The state of cached generation for one batch.
struct Cached<'a> {
    model: &'a PixelCnnPp,
    request: &'a SampleRequest,
    n: usize,
    device: Device,
    down: Vec<LevelCache>,
    up: Vec<LevelCache>,
    /// Channels F of the streams.
    features: usize,
}

/// (height, width) of resolution `r` of an image.
fn size_at(request: &SampleRequest, r: usize) -> (usize, usize) {
    (request.height >> r, request.width >> r)
}

impl<'a> Cached<'a> {
    fn new(
        model: &'a PixelCnnPp,
        request: &'a SampleRequest,
        n: usize,
        condition: Option<Condition>,
        device: &Device,
    ) -> Self {
        let h = condition.as_ref();
        let resolutions = model.down.len();
        let level = |blocks_above: &[GatedResidual],
                     blocks_left: &[GatedResidual],
                     r: usize,
                     entry: bool| {
            let width = size_at(request, r).1;
            LevelCache {
                above_entry: entry.then(Rows::default),
                left_entry: entry.then(|| Grid::new(width)),
                above: blocks_above
                    .iter()
                    .map(|b| BlockCache {
                        inner: Rows::default(),
                        out: Rows::default(),
                        bias: b.condition_bias(h),
                    })
                    .collect(),
                left: blocks_left
                    .iter()
                    .map(|b| BlockCache {
                        inner: Grid::new(width),
                        out: Grid::new(width),
                        bias: b.condition_bias(h),
                    })
                    .collect(),
                resolution: r,
            }
        };
        let down = model
            .down
            .iter()
            .enumerate()
            .map(|(r, l)| level(&l.above, &l.above_left, r, true))
            .collect();
        let up = model
            .up
            .iter()
            .enumerate()
            .map(|(i, l)| level(&l.above, &l.above_left, resolutions - 1 - i, i > 0))
            .collect();
        let first = &model.down[0].above[0];
        Self {
            model,
            request,
            n,
            device: device.clone(),
            down,
            up,
            features: first.conv_in.conv.weight.dims()[0],
        }
    }

    /// Generates the batch's images.
    fn run(mut self, first_image: usize) -> Vec<u8> {
        let (h, w) = (self.request.height, self.request.width);
        let mut draw = Draw::new(self.model, self.request, first_image, self.n);
        for i in 0..h {
            self.above_rows(i, &draw.pixels);
            // The above-left stream's first layer reads the row above through a 1 × k
            // window: computed for the whole row at once.
            let row_part = self.first_left_row_part(i, &draw.pixels);
            for j in 0..w {
                self.left_positions(i, j, &row_part, &draw.pixels);
                let last = self.up.last().expect("an up pass");
                let top = last.left.last().expect("blocks").out.at(i, j);
                let params = self.model.head.forward(elu(top, 1.0));
                draw.pixel(i, j, params, &self.device);
            }
        }
        draw.pixels
    }

    /// The network's input ([y, 1]) over image rows `rows` and columns `cols` (either may
    /// reach outside the image, which is zeros there): [n, C + 1, rows, cols].
    fn input(
        &self,
        pixels: &[u8],
        rows: std::ops::Range<isize>,
        cols: std::ops::Range<isize>,
    ) -> Tensor<4> {
        let (c, h, w) = (
            self.request.colours,
            self.request.height,
            self.request.width,
        );
        let levels = self.model.levels();
        let (nr, nc) = (rows.len(), cols.len());
        let mut values = vec![0f32; self.n * (c + 1) * nr * nc];
        for image in 0..self.n {
            for (a, i) in rows.clone().enumerate() {
                for (b, j) in cols.clone().enumerate() {
                    if i < 0 || j < 0 || i >= h as isize || j >= w as isize {
                        continue;
                    }
                    let (i, j) = (i as usize, j as usize);
                    for g in 0..=c {
                        let value = if g == c {
                            1.0
                        } else {
                            let level = pixels[image * c * h * w + (g * h + i) * w + j];
                            pixel_mixture::centre_f32(level as usize, levels)
                        };
                        values[((image * (c + 1) + g) * nr + a) * nc + b] = value;
                    }
                }
            }
        }
        Tensor::from_data(
            TensorData::new(values, [self.n, c + 1, nr, nc]),
            &self.device,
        )
    }

    /// A row of zeros of `factor`·F channels and `width` columns, [n, factor·F, 1, width].
    fn zeros(&self, factor: usize, width: usize) -> Tensor<4> {
        Tensor::zeros([self.n, factor * self.features, 1, width], &self.device)
    }

    /// Row i of every above-stream map whose resolution's stride divides i.
    fn above_rows(&mut self, i: usize, pixels: &[u8]) {
        let model = self.model;
        for r in 0..self.down.len() {
            if !i.is_multiple_of(1 << r) {
                continue;
            }
            let row = i >> r;
            let width = size_at(self.request, r).1;
            // The map that enters the level: the first layer (shifted down one row), or the
            // stride-2 convolution of the finer level's last map, rows 2I − 1 and 2I.
            let entry = if r == 0 {
                if row == 0 {
                    self.zeros(1, width)
                } else {
                    let rows = model.first_above.window_rows() as isize;
                    let top = row as isize - rows;
                    let window = self.input(pixels, top..row as isize, 0..width as isize);
                    model.first_above.forward_rows(window)
                }
            } else {
                let source = &self.down[r - 1].above.last().expect("blocks").out;
                let window = source.window(2 * row as isize, 2, &self.zeros(1, 2 * width));
                model.down_sample_above[r - 1].forward_rows(window)
            };
            let zeros = (self.zeros(1, width), self.zeros(2, width));
            let level = &mut self.down[r];
            let entry_rows = level.above_entry.as_mut().expect("an entry");
            entry_rows.0.push(entry);
            for b in 0..level.above.len() {
                let (before, rest) = level.above.split_at_mut(b);
                let x = match b {
                    0 => level.above_entry.as_ref().expect("an entry"),
                    _ => &before[b - 1].out,
                };
                let block = &model.down[r].above[b];
                let out = above_block(block, x, &mut rest[0], None, row, &zeros);
                rest[0].out.0.push(out);
            }
        }
        // The up pass, coarse to fine.
        for u in 0..self.up.len() {
            let r = self.up[u].resolution;
            if !i.is_multiple_of(1 << r) {
                continue;
            }
            let row = i >> r;
            let width = size_at(self.request, r).1;
            if u > 0 {
                let source = self.up[u - 1]
                    .above
                    .last()
                    .expect("blocks")
                    .out
                    .row(row / 2);
                let entry =
                    up_sample_above(&model.up_sample_above[u - 1], source).narrow(2, row % 2, 1);
                self.up[u]
                    .above_entry
                    .as_mut()
                    .expect("an entry")
                    .0
                    .push(entry);
            }
            let zeros = (self.zeros(1, width), self.zeros(2, width));
            for b in 0..self.up[u].above.len() {
                let twin = self.twin_above(u, b).row(row);
                let level = &mut self.up[u];
                let (before, rest) = level.above.split_at_mut(b);
                let x = match (b, &level.above_entry) {
                    (0, Some(entry)) => entry,
                    // The up pass enters with the down pass's last map.
                    (0, None) => &self.down[r].above.last().expect("blocks").out,
                    _ => &before[b - 1].out,
                };
                let block = &model.up[u].above[b];
                let out = above_block(block, x, &mut rest[0], Some(twin), row, &zeros);
                rest[0].out.0.push(out);
            }
        }
    }

    /// The kept down-pass map the up pass's block `b` of level `u` reads (the short-cut):
    /// the down pass's maps of that resolution in reverse order, the last one excluded.
    fn twin_kept(&self, u: usize, b: usize) -> (usize, usize) {
        let blocks = self.down[0].above.len();
        // Up blocks before this one, over all levels.
        let before: usize = self.up[..u].iter().map(|l| l.above.len()).sum::<usize>() + b;
        let per_level = blocks + 1;
        let kept = self.down.len() * per_level;
        let position = kept - 2 - before;
        (position / per_level, position % per_level)
    }

    fn twin_above(&self, u: usize, b: usize) -> &Rows {
        let (r, q) = self.twin_kept(u, b);
        let level = &self.down[r];
        match q {
            0 => level.above_entry.as_ref().expect("an entry"),
            q => &level.above[q - 1].out,
        }
    }

    fn twin_left(&self, u: usize, b: usize) -> &Grid {
        let (r, q) = self.twin_kept(u, b);
        let level = &self.down[r];
        match q {
            0 => level.left_entry.as_ref().expect("an entry"),
            q => &level.left[q - 1].out,
        }
    }

    /// The row part of the above-left stream's first layer at image row i: the 1 × k window
    /// of row i − 1 (zeros for the first row), [n, F, 1, W].
    fn first_left_row_part(&self, i: usize, pixels: &[u8]) -> Tensor<4> {
        let width = self.request.width;
        if i == 0 {
            return self.zeros(1, width);
        }
        let window = self.input(pixels, i as isize - 1..i as isize, 0..width as isize);
        self.model.first_above_left_row.forward_rows(window)
    }

    /// Position (i / 2^r, j / 2^r) of every above-left map whose resolution's stride
    /// divides both i and j.
    fn left_positions(&mut self, i: usize, j: usize, row_part: &Tensor<4>, pixels: &[u8]) {
        let model = self.model;
        let zeros = (self.zeros(1, 1), self.zeros(2, 1));
        for r in 0..self.down.len() {
            if !i.is_multiple_of(1 << r) || !j.is_multiple_of(1 << r) {
                continue;
            }
            let (row, col) = (i >> r, j >> r);
            let entry = if r == 0 {
                // A row above (the 1 × k part) plus the pixels to the left: the ⌈k/2⌉ × 1
                // window ending at (i, j − 1), shifted right.
                let above = row_part.clone().narrow(3, col, 1);
                if col == 0 {
                    above
                } else {
                    let rows = model.first_above_left_col.window_rows() as isize;
                    let window = self.input(
                        pixels,
                        row as isize - rows + 1..row as isize + 1,
                        col as isize - 1..col as isize,
                    );
                    above + model.first_above_left_col.forward_at(window)
                }
            } else {
                let source = &self.down[r - 1].left.last().expect("blocks").out;
                let window = source.window(2 * row as isize, 2 * col as isize, 2, 2, &zeros.0);
                model.down_sample_above_left[r - 1].forward_at(window)
            };
            let level = &mut self.down[r];
            let entry_grid = level.left_entry.as_mut().expect("an entry");
            entry_grid.push(row, col, entry);
            for b in 0..level.left.len() {
                let auxiliary = level.above[b].out.at(row, col);
                let (before, rest) = level.left.split_at_mut(b);
                let x = match b {
                    0 => level.left_entry.as_ref().expect("an entry"),
                    _ => &before[b - 1].out,
                };
                let block = &model.down[r].above_left[b];
                let out = left_block(block, x, &mut rest[0], auxiliary, (row, col), &zeros);
                rest[0].out.push(row, col, out);
            }
        }
        for u in 0..self.up.len() {
            let r = self.up[u].resolution;
            if !i.is_multiple_of(1 << r) || !j.is_multiple_of(1 << r) {
                continue;
            }
            let (row, col) = (i >> r, j >> r);
            if u > 0 {
                let source = self.up[u - 1]
                    .left
                    .last()
                    .expect("blocks")
                    .out
                    .at(row / 2, col / 2);
                // Fine (i, j) reads coarse (⌊i/2⌋, ⌊j/2⌋) through tap (i mod 2, j mod 2).
                let entry = model.up_sample_above_left[u - 1]
                    .forward(source)
                    .narrow(2, row % 2, 1)
                    .narrow(3, col % 2, 1);
                let entry_grid = self.up[u].left_entry.as_mut().expect("an entry");
                entry_grid.push(row, col, entry);
            }
            for b in 0..self.up[u].left.len() {
                let twin = self.twin_left(u, b).at(row, col);
                let level = &mut self.up[u];
                let auxiliary = Tensor::cat(vec![level.above[b].out.at(row, col), twin], 1);
                let (before, rest) = level.left.split_at_mut(b);
                let x = match (b, &level.left_entry) {
                    (0, Some(entry)) => entry,
                    (0, None) => &self.down[r].left.last().expect("blocks").out,
                    _ => &before[b - 1].out,
                };
                let block = &model.up[u].above_left[b];
                let out = left_block(block, x, &mut rest[0], auxiliary, (row, col), &zeros);
                rest[0].out.push(row, col, out);
            }
        }
    }
}

/// Row `row` of an above-stream block from the rows of its input `x`: its inner row
/// (pushed to `cache`) and its output row (returned). `zeros` are rows of F and 2F zero
/// channels (the padding above the image).
fn above_block(
    block: &GatedResidual,
    x: &Rows,
    cache: &mut BlockCache<Rows>,
    auxiliary: Option<Tensor<4>>,
    row: usize,
    zeros: &(Tensor<4>, Tensor<4>),
) -> Tensor<4> {
    let last = row as isize;
    let window = concat_elu(x.window(last, block.conv_in.window_rows(), &zeros.0));
    let inner = block.inner(block.conv_in.forward_rows(window), auxiliary);
    cache.inner.0.push(inner);
    let window = cache
        .inner
        .window(last, block.conv_out.window_rows(), &zeros.1);
    block.outer(
        block.conv_out.forward_rows(window),
        x.row(row),
        cache.bias.clone(),
    )
}

/// Position `at` of an above-left block from the positions of its input `x`: its inner
/// position (pushed to `cache`) and its output (returned). `zeros` are positions of F and
/// 2F zero channels (the padding outside the image).
fn left_block(
    block: &GatedResidual,
    x: &Grid,
    cache: &mut BlockCache<Grid>,
    auxiliary: Tensor<4>,
    (row, col): (usize, usize),
    zeros: &(Tensor<4>, Tensor<4>),
) -> Tensor<4> {
    let (i, j) = (row as isize, col as isize);
    let (rows, cols) = (block.conv_in.window_rows(), block.conv_in.window_columns());
    let window = concat_elu(x.window(i, j, rows, cols, &zeros.0));
    let inner = block.inner(block.conv_in.forward_at(window), Some(auxiliary));
    cache.inner.push(row, col, inner);
    let (rows, cols) = (
        block.conv_out.window_rows(),
        block.conv_out.window_columns(),
    );
    let window = cache.inner.window(i, j, rows, cols, &zeros.1);
    block.outer(
        block.conv_out.forward_at(window),
        x.at(row, col),
        cache.bias.clone(),
    )
}
