//! `argen serve [--runs DIR] [--listen ADDR]`: the page over the runs of a folder
//! ([`argen::serve`]). The token, needed off loopback, is read from `ARGEN_SERVE_TOKEN`,
//! never from the command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use argen::serve::{ServeOptions, TOKEN_VARIABLE, serve};

use crate::cli::args::DeviceArgs;

/// Options of `argen serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The folder whose runs the page shows (each run folder under it, up to three levels
    /// down; runs started later appear as they start).
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Address to listen on. The default, loopback, serves this machine only; any other
    /// address needs a token in ARGEN_SERVE_TOKEN. Port 0 picks a free port (printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The device the models run on.
    #[command(flatten)]
    pub devices: DeviceArgs,
}

/// Runs `argen serve`.
pub fn run(args: ServeArgs) -> Result<()> {
    let device = args.devices.device("serve")?;
    let token = std::env::var(TOKEN_VARIABLE).ok().filter(|t| !t.is_empty());
    serve(ServeOptions {
        runs: args.runs,
        listen: args.listen,
        token,
        device,
    })
}
