//! `argen receptive-field`: which input pixels one output pixel's distribution depends on,
//! measured by gradients, drawn as a PNG map (and listed as JSON).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::models::{GatedPixelCnnConfig, ImageModelConfig, PixelCnnConfig};
use crate::receptive_field::measure;
use crate::train::RunFolder;
use crate::viz;

/// Options of `argen receptive-field`.
#[derive(Args, Debug)]
pub struct ReceptiveFieldArgs {
    /// A trained run; without it, a freshly initialised model of the configuration below.
    pub run: Option<PathBuf>,
    /// Model of a fresh configuration: `gated-pixelcnn` or `pixelcnn`.
    #[arg(long, default_value = "gated-pixelcnn")]
    pub model: String,
    /// Layers (Gated PixelCNN) or residual blocks (PixelCNN) of a fresh configuration.
    #[arg(long, default_value_t = 5)]
    pub layers: usize,
    /// Kernel size of the first layer of a fresh configuration.
    #[arg(long, default_value_t = 7)]
    pub first_kernel: usize,
    /// Kernel size of the later layers of a fresh configuration.
    #[arg(long, default_value_t = 3)]
    pub kernel: usize,
    /// Channels of a fresh configuration.
    #[arg(long, default_value_t = 16)]
    pub channels: usize,
    /// Image height and width of a fresh configuration (a run uses its own).
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
    /// Seed of the fresh model's weights and of the random inputs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output PNG (default: receptive-field.png, or RUN/receptive-field.png).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Pixel size of the map.
    #[arg(long, default_value_t = 16)]
    pub scale: usize,
    /// Also print the target, its dependencies, its blind spot and any leak as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `argen receptive-field`.
pub fn run(args: ReceptiveFieldArgs) -> Result<()> {
    let device = crate::cli::device();
    let (config, model, height, width, default_out) = match &args.run {
        Some(run) => {
            let folder = RunFolder(run.clone());
            let (config, model) = folder.load_model(true, &device)?;
            (
                config.model,
                model,
                config.height,
                config.width,
                run.join("receptive-field.png"),
            )
        }
        None => {
            let config = match args.model.as_str() {
                "gated-pixelcnn" => ImageModelConfig::GatedPixelcnn(GatedPixelCnnConfig {
                    levels: 4,
                    channels: args.channels,
                    layers: args.layers,
                    first_kernel: args.first_kernel,
                    kernel: args.kernel,
                    head: 32,
                    num_classes: None,
                    dropout: 0.0,
                    colours: 1,
                }),
                "pixelcnn" => ImageModelConfig::Pixelcnn(PixelCnnConfig {
                    levels: 4,
                    colours: 1,
                    channels: 2 * args.channels,
                    blocks: args.layers,
                    first_kernel: args.first_kernel,
                    kernel: args.kernel,
                    head: 32,
                    num_classes: None,
                }),
                other => bail!("unknown --model {other}: use gated-pixelcnn or pixelcnn"),
            };
            config.validate().map_err(anyhow::Error::msg)?;
            if args.size == 0 {
                bail!("--size must be at least 1");
            }
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
