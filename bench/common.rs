//! Helpers shared by the benchmark programs (each includes this file as a module).

/// The value after `--name` on the command line, or `default` when it is absent or does not
/// parse.
pub fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The median of `values` (the mean of the two middle ones for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The Gated PixelCNN of the image benchmarks (the Fashion-MNIST configuration by default):
/// `--channels` (32), `--layers` (7) and `--head` (256) from the command line, first kernel 7
/// then 3, grey, unconditional, no dropout, `levels` levels.
#[allow(dead_code)] // not every benchmark that includes this file trains an image model
pub fn gated_config(args: &[String], levels: usize) -> argen::models::GatedPixelCnnConfig {
    argen::models::GatedPixelCnnConfig {
        levels,
        channels: arg(args, "--channels", 32),
        layers: arg(args, "--layers", 7),
        first_kernel: 7,
        kernel: 3,
        head: arg(args, "--head", 256),
        num_classes: None,
        vector_dim: None,
        spatial: None,
        dropout: 0.0,
        colours: 1,
    }
}
