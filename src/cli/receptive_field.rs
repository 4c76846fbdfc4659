//! `argen receptive-field`: which input pixels one output pixel's distribution depends on,
//! measured by gradients, drawn as a PNG map (and listed as JSON).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use argen::models::ImageFormat;
use argen::receptive_field::measure;
use argen::run::{Run, Weights};
use argen::train::load_data;
use argen::viz;
use burn::module::Module;

use crate::cli::args::{DeviceArgs, ImageModelArgs};

/// Options of `argen receptive-field`.
#[derive(Args, Debug)]
pub struct ReceptiveFieldArgs {
    /// A trained image run; without it, a freshly initialised model of the options below
    /// (the same options as `argen train`, which build the same network).
    pub run: Option<PathBuf>,
    /// Model of a fresh configuration: `gated-pixelcnn`, `pixelcnn` or `pixelcnn-pp`.
    #[arg(long, default_value = "gated-pixelcnn")]
    pub model: String,
    /// Data whose levels, colours and classes a fresh configuration models (as for
    /// `argen train`).
    #[arg(long, default_value = "digits")]
    pub data: String,
    /// Image height and width of a fresh configuration (a run uses its own): the network
    /// is convolutional, so it runs at any size.
    #[arg(long, default_value_t = 21)]
    pub size: usize,
    /// Row of the target pixel (default: the centre).
    #[arg(long)]
    pub row: Option<usize>,
    /// Column of the target pixel (default: the centre).
    #[arg(long)]
    pub col: Option<usize>,
    /// Colour channel of the target (0 = R, 1 = G, 2 = B; 0 for grey).
    #[arg(long, default_value_t = 0)]
    pub colour: usize,
    /// Random input images the influence is averaged over.
    #[arg(long, default_value_t = 8)]
    pub images: usize,
    /// Seed of the fresh model's weights (as `argen train --seed`) and of the random inputs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output PNG (default: receptive-field.png, or RUN/receptive-field.png).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Pixel size of the map.
    #[arg(long, default_value_t = 16)]
    pub scale: usize,
    /// Also print the model's config and parameter count, the target, its dependencies, its
    /// blind spot and any leak as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub image: ImageModelArgs,
    #[command(flatten)]
    pub devices: DeviceArgs,
}

/// The largest image side a fresh configuration is probed at.
const MAX_SIZE: usize = 256;

/// The most random input images the influence is averaged over.
const MAX_IMAGES: usize = 1024;

/// Runs `argen receptive-field`.
pub fn run(args: ReceptiveFieldArgs) -> Result<()> {
    let device = args.devices.device("receptive-field")?;
    if args.images == 0 || args.images > MAX_IMAGES {
        bail!("--images must be in 1..={MAX_IMAGES}, got {}", args.images);
    }
    let (config, model, height, width, default_out) = match &args.run {
        Some(path) => {
            let run = Run::open(path)?.into_image("argen receptive-field")?;
            let model = run.model(Weights::Best, &device)?;
            (
                run.config.model,
                model,
                run.config.height,
                run.config.width,
                path.join("receptive-field.png"),
            )
        }
        None => {
            let data = load_data(&args.data)?;
            let format = ImageFormat::of(&data);
            let config = args
                .image
                .options(&args.model, None, false, None)
                .build(format, &args.data)?;
            if args.size == 0 || args.size > MAX_SIZE {
                bail!("--size must be in 1..={MAX_SIZE}, got {}", args.size);
            }
            config
                .check_image_size(args.size, args.size)
                .map_err(|e| anyhow::anyhow!("--size {}: {e}", args.size))?;
            let model = config.init_seeded(args.seed, &device);
            (
                config,
                model,
                args.size,
                args.size,
                PathBuf::from("receptive-field.png"),
            )
        }
    };
    let (row, col) = (
        args.row.unwrap_or(height / 2),
        args.col.unwrap_or(width / 2),
    );
    if row >= height || col >= width {
        bail!("the target {row},{col} is outside the {height}x{width} image");
    }
    if args.colour >= config.colours() {
        bail!(
            "--colour {} is out of range: the model has {} colour channel(s)",
            args.colour,
            config.colours()
        );
    }
    let class = config.num_classes().map(|_| 0);
    let field = measure(
        &model,
        &config,
        height,
        width,
        (row, col, args.colour),
        class,
        args.images,
        args.seed,
    );
    let out = args.out.clone().unwrap_or(default_out);
    viz::save_png(&viz::receptive_field_map(&field, args.scale.max(2)), &out)?;
    let blind = field.blind_spot();
    let leaks = field.leaks();
    if args.json {
        let value = serde_json::json!({
            "model": config.name(),
            "config": config,
            "parameters": model.num_params(),
            "height": height,
            "width": width,
            "target": {"row": row, "col": col, "colour": args.colour},
            "reach": field.reach,
            "depends_on": field.dependencies().iter().map(|&(r, c, g)| serde_json::json!([r, c, g])).collect::<Vec<_>>(),
            "blind_spot": blind,
            "leaks": leaks,
            "png": out.display().to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "{}: target {row},{col}: depends on {} pixels; blind spot: {} pixels of the nominal field; leaks: {}; map: {}",
            config.name(),
            field.dependencies().len(),
            blind.len(),
            leaks.len(),
            out.display()
        );
    }
    Ok(())
}
