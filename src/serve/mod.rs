//! `argen serve`: a local page to watch runs train, draw from them value by value, complete
//! a drawing, and see what each pixel's distribution depends on.
//!
//! An HTTP server (axum) with the page embedded in the binary ([`page`]) and a JSON API
//! behind it ([`api`]), calling the same library functions as the command line:
//! [`crate::run::ImageRun::sample_watched`] (the cached sampler, one event per value),
//! [`crate::run::ImageRun::complete`], [`crate::receptive_field::measure`],
//! [`crate::run::SequenceRun::sample`], [`crate::run::Run::evaluate`].
//!
//! Safe by default: it listens on loopback unless told otherwise, and then every API call
//! needs the token of `ARGEN_SERVE_TOKEN`; runs are opened only by the names of
//! [`runs::discover`] (no path leaves the folder); every size is bounded, a bad request gets
//! a 4xx with a JSON error, and at most [`MAX_GENERATIONS`] generations run at once, each
//! on a blocking thread, so the rest of the page keeps answering.

pub mod api;
pub mod page;
pub mod runs;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use burn::prelude::Device;

/// The environment variable holding the token a non-loopback server requires.
pub const TOKEN_VARIABLE: &str = "ARGEN_SERVE_TOKEN";
/// The most generations (sampling, completion, receptive fields, evaluations) at once; more
/// get 503 and are asked to retry.
pub const MAX_GENERATIONS: usize = 2;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The folder whose runs are shown.
    pub runs: PathBuf,
    /// Where to listen (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The token every API call must carry (`None`: none, loopback only).
    pub token: Option<String>,
    /// The device models run on.
    pub device: Device,
}

/// What every handler shares.
pub struct AppState {
    /// The runs folder, canonical.
    pub root: PathBuf,
    /// The token, if one is required.
    pub token: Option<String>,
    /// The device models run on.
    pub device: Device,
    /// Permits for generations.
    pub generations: Arc<tokio::sync::Semaphore>,
    /// Test-split evaluations already computed, by run and checkpoint.
    pub evaluations: Mutex<std::collections::HashMap<(String, PathBuf), serde_json::Value>>,
    /// Image models already loaded (best weights), by checkpoint folder: a run that trains
    /// on gets a new checkpoint folder each epoch, so a stale model is never served.
    pub models: Mutex<std::collections::HashMap<PathBuf, crate::models::ImageModel>>,
}

/// The most models [`AppState::models`] keeps (then it starts again empty).
const MAX_MODELS: usize = 16;

impl AppState {
    /// The best-weights model of an image run, loaded once per checkpoint.
    pub fn image_model(
        &self,
        run: &crate::run::ImageRun,
    ) -> anyhow::Result<crate::models::ImageModel> {
        let key = run.folder.checkpoint().join("best.safetensors");
        if let Some(model) = self.models.lock().expect("models").get(&key) {
            return Ok(model.clone());
        }
        let model = run.model(crate::run::Weights::Best, &self.device)?;
        let mut models = self.models.lock().expect("models");
        if models.len() >= MAX_MODELS {
            models.clear();
        }
        models.insert(key, model.clone());
        Ok(model)
    }
}

/// Whether a server on `addr` needs a token: any address but loopback.
pub fn needs_token(addr: &SocketAddr) -> bool {
    !addr.ip().is_loopback()
}

/// Serves until the process is stopped; prints `serving http://ADDR/` once listening.
pub fn serve(options: ServeOptions) -> Result<()> {
    if options.token.is_none() && needs_token(&options.listen) {
        bail!(
            "refusing to serve on {} without a token: set {TOKEN_VARIABLE}, or listen on \
             loopback (127.0.0.1)",
            options.listen
        );
    }
    let root = std::fs::canonicalize(&options.runs).with_context(|| {
        format!(
            "the runs folder {} does not exist (train a run into it first, e.g. argen train \
             --run-dir {}/digits)",
            options.runs.display(),
            options.runs.display()
        )
    })?;
    if !root.is_dir() {
        bail!("{} is not a folder", options.runs.display());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .with_context(|| format!("cannot listen on {}", options.listen))?;
        let addr = listener.local_addr()?;
        let runs_found = runs::discover(&root).len();
        let state = Arc::new(AppState {
            root,
            token: options.token.clone(),
            device: options.device,
            generations: Arc::new(tokio::sync::Semaphore::new(MAX_GENERATIONS)),
            evaluations: Mutex::new(Default::default()),
            models: Mutex::new(Default::default()),
        });
        let shown = match &options.token {
            Some(_) => format!("http://{addr}/?token=<{TOKEN_VARIABLE}>"),
            None => format!("http://{addr}/"),
        };
        println!(
            "serving {} ({runs_found} runs) on {shown}; stop with Ctrl+C",
            options.runs.display()
        );
        use std::io::Write;
        std::io::stdout().flush()?;
        axum::serve(listener, api::router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("the server stopped")
    })
}
