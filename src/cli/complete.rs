//! `argen complete RUN`: keep the top rows of images, let the model draw the rest several
//! times (the completion figure of the PixelRNN paper).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use argen::run::{CompletionRequest, Kept, Run, Weights};
use argen::viz;

use crate::cli::args::DeviceArgs;

/// Options of `argen complete`.
#[derive(Args, Debug)]
pub struct CompleteArgs {
    /// An image run folder written by `argen train`.
    pub run: PathBuf,
    /// Number of test images to complete (the first ones of the test split).
    #[arg(long, default_value_t = 8)]
    pub n: usize,
    /// Complete these PNG files instead of test images (same size as the run's images).
    #[arg(long, num_args = 1..)]
    pub png: Vec<PathBuf>,
    /// Rows kept from the top of each image (default: half the height).
    #[arg(long)]
    pub rows: Option<usize>,
    /// Completions drawn per image.
    #[arg(long, default_value_t = 5)]
    pub samples: usize,
    /// For a conditional run: complete as this class (default: each test image's own label,
    /// 0 for PNG files).
    #[arg(long)]
    pub class: Option<usize>,
    /// A vector-conditioned run completing --png images: their vectors h (`vectors:FILE`,
    /// row i for image i; default: the test images' vectors in turn).
    #[arg(long, value_name = "vectors:FILE")]
    pub condition: Option<String>,
    /// Seed of the random draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Softmax temperature (finite, >= 0).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Rerun the whole network per value instead of the cached path (same images).
    #[arg(long)]
    pub naive: bool,
    /// Output PNG (default: RUN/completions.png).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub devices: DeviceArgs,
}

/// Reads a PNG as levels [colour][row][column] for a model of `colours` channels and `levels`
/// levels, refusing another size.
fn read_png(
    path: &PathBuf,
    colours: usize,
    height: usize,
    width: usize,
    levels: usize,
) -> Result<Vec<u8>> {
    let img =
        image::open(path).with_context(|| format!("cannot read the image {}", path.display()))?;
    if (img.height() as usize, img.width() as usize) != (height, width) {
        bail!(
            "{} is {}x{} but the run models {height}x{width} images",
            path.display(),
            img.height(),
            img.width()
        );
    }
    let to_level = |v: u8| {
        ((f64::from(v) * (levels - 1) as f64 / 255.0).round() as u8).min((levels - 1) as u8)
    };
    let rgb = img.to_rgb8();
    let grey = img.to_luma8();
    let mut out = vec![0u8; colours * height * width];
    for row in 0..height {
        for col in 0..width {
            for c in 0..colours {
                let v = if colours == 1 {
                    grey.get_pixel(col as u32, row as u32)[0]
                } else {
                    rgb.get_pixel(col as u32, row as u32)[c.min(2)]
                };
                out[(c * height + row) * width + col] = to_level(v);
            }
        }
    }
    Ok(out)
}

/// Runs `argen complete`.
pub fn run(args: CompleteArgs) -> Result<()> {
    let device = args.devices.device("complete")?;
    let run = Run::open(&args.run)?.into_image("argen complete")?;
    let model = run.model(Weights::Best, &device)?;
    let config = &run.config;
    let (colours, height, width, levels) = (
        config.model.colours(),
        config.height,
        config.width,
        config.model.levels(),
    );
    let size = colours * height * width;
    let (originals, labels, vectors): (Vec<u8>, Vec<usize>, Option<Vec<f32>>) =
        if args.png.is_empty() {
            if args.condition.is_some() {
                bail!("--condition gives the vectors of --png images; test images have their own");
            }
            let data = run.data()?;
            let n = args.n.min(data.test.len());
            if n == 0 {
                bail!("nothing to complete: --n is 0 or the test split is empty");
            }
            let images = (0..n).flat_map(|i| data.test.image(i).to_vec()).collect();
            let vectors = data
                .test
                .vectors
                .as_ref()
                .map(|v| v.values[..n * v.dim].to_vec());
            (
                images,
                (0..n).map(|i| usize::from(data.test.labels[i])).collect(),
                vectors,
            )
        } else {
            let mut images = Vec::new();
            for path in &args.png {
                images.extend(read_png(path, colours, height, width, levels)?);
            }
            let options = argen::run::SampleOptions {
                condition: args.condition.clone(),
                ..Default::default()
            };
            let vectors = run.sample_vectors(&options, args.png.len())?;
            (images, vec![0; args.png.len()], vectors)
        };
    let count = originals.len() / size;
    let rows = args.rows.unwrap_or(height / 2);
    let request = CompletionRequest {
        images: originals.clone(),
        labels,
        vectors,
        kept: Kept::Rows(rows),
        samples: args.samples,
        class: args.class,
        seed: args.seed,
        temperature: args.temperature,
        naive: args.naive,
    };
    let completions = run.complete(&model, &request, &device)?;

    // One row per image: original, occluded, completions.
    let mut grid = Vec::new();
    let mut hidden = Vec::new();
    let pixels = height * width;
    for (i, image) in originals.chunks(size).enumerate() {
        grid.extend_from_slice(image);
        hidden.extend(std::iter::repeat_n(false, pixels));
        grid.extend_from_slice(image);
        hidden.extend((0..pixels).map(|p| p / width >= rows));
        for s in 0..args.samples {
            let k = i * args.samples + s;
            grid.extend_from_slice(&completions[k * size..(k + 1) * size]);
            hidden.extend(std::iter::repeat_n(false, pixels));
        }
    }
    let shape = viz::ImageShape {
        colours,
        height,
        width,
        levels,
    };
    let picture = viz::image_grid(
        &grid,
        shape,
        args.samples + 2,
        viz::default_scale(width),
        Some(&hidden),
    );
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run.join("completions.png"));
    viz::save_png(&picture, &out)?;
    println!(
        "completed {count} images ({} rows kept, {} completions each): {}",
        rows,
        args.samples,
        out.display()
    );
    Ok(())
}
