//! The runs a server shows: found under its folder, named by their path relative to it, and
//! opened only through that list, so that no name (`..`, an absolute path, an encoded one, a
//! symbolic link out of the folder) reaches a file outside it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::classic::ClassicModel;
use crate::run::{Run, RunKind};
use crate::train::RunFolder;

/// How deep under the folder runs are looked for (`runs/a/b/c` is depth 3).
const MAX_DEPTH: usize = 3;
/// The most runs listed.
pub const MAX_RUNS: usize = 500;
/// The longest run name accepted.
const MAX_NAME: usize = 512;

/// The run folders under `root` (a canonical path): `(name, canonical folder)`, sorted by
/// name. Symbolic links are followed only when they stay inside `root`.
pub fn discover(root: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((folder, depth)) = stack.pop() {
        if found.len() >= MAX_RUNS {
            break;
        }
        if folder != root && is_run(&folder) {
            if let Ok(name) = folder.strip_prefix(root) {
                let name = name
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                found.push((name, folder.clone()));
            }
            continue;
        }
        if depth >= MAX_DEPTH {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            // Canonical: a link is resolved, and kept only when it stays inside the root.
            let Ok(path) = std::fs::canonicalize(entry.path()) else {
                continue;
            };
            if path.is_dir() && path.starts_with(root) && path != root {
                // Keep the name the user sees (the link's), not the target's.
                stack.push((folder.join(&name), depth + 1));
            }
        }
    }
    found.sort();
    found.dedup_by(|a, b| a.0 == b.0);
    found
}

/// Whether `folder` holds a run: `config.json` (trained) or `classic.json` (a fit).
fn is_run(folder: &Path) -> bool {
    folder.join("config.json").is_file() || folder.join(crate::classic::RUN_FILE).is_file()
}

/// The folder of run `name` under `root`, if it is one of [`discover`]'s, checked again
/// after resolving every link.
pub fn resolve(root: &Path, name: &str) -> Option<PathBuf> {
    if name.is_empty()
        || name.len() > MAX_NAME
        || name.starts_with('/')
        || name.contains('\\')
        || name.contains('\0')
        || name
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return None;
    }
    let (_, folder) = discover(root).into_iter().find(|(n, _)| n == name)?;
    let real = std::fs::canonicalize(&folder).ok()?;
    real.starts_with(root).then_some(folder)
}

/// What the page lists about a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Its name: the path under the server's folder.
    pub name: String,
    /// image, sequence or classic.
    pub kind: RunKind,
    /// The model (`gated-pixelcnn`, `lstm`, `ar`, ...).
    pub model: String,
    /// A line describing the model.
    pub describe: String,
    /// The data source.
    pub data: String,
    /// What the page can show for it: `sample` (images drawn value by value),
    /// `complete`, `receptive-field`, `sequence` (drawn sequences), `forecast`.
    pub views: Vec<&'static str>,
    /// Epochs finished and asked for (trained runs).
    pub epochs_done: Option<usize>,
    /// The epochs the run was started with.
    pub epochs: Option<usize>,
    /// The lowest validation loss so far (bits/dim for images, nats/step for sequences).
    pub best_valid: Option<f64>,
    /// The unit of `best_valid` and of the curves.
    pub unit: Option<&'static str>,
    /// The process writing the folder, while one does (a run in training).
    pub writer: Option<u32>,
    /// Image runs: their shape; sequence runs: the output.
    pub shape: Option<Shape>,
    /// A class-conditional run: the number of classes.
    pub classes: Option<usize>,
}

/// The values of an image.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Shape {
    /// Colour channels (1 or 3).
    pub colours: usize,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
    /// Levels per value.
    pub levels: usize,
}

/// The process id in `RUN/.lock` when that process still runs: the folder's writer.
pub fn writer(folder: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(folder.join(".lock"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if pid == std::process::id() {
        return Some(pid);
    }
    // Signal 0 checks that the process exists without touching it.
    let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    alive.then_some(pid)
}

/// The summary of the run `name` in `folder`.
pub fn summarise(name: &str, folder: &Path) -> anyhow::Result<RunSummary> {
    let run = Run::open(folder)?;
    let state = match run {
        Run::Classic(_) => None,
        _ => RunFolder(folder.to_path_buf()).read_state().ok(),
    };
    let mut summary = RunSummary {
        name: name.to_string(),
        kind: run.kind(),
        model: String::new(),
        describe: String::new(),
        data: String::new(),
        views: Vec::new(),
        epochs_done: state.as_ref().map(|s| s.epochs_done),
        epochs: None,
        best_valid: state.as_ref().and_then(|s| s.best_valid),
        unit: None,
        writer: writer(folder),
        shape: None,
        classes: None,
    };
    match &run {
        Run::Image(image) => {
            let model = &image.config.model;
            summary.model = model.name().to_string();
            summary.describe = model.describe();
            summary.data = image.config.data.clone();
            summary.epochs = Some(image.config.training.epochs);
            summary.unit = Some("bits/dim");
            summary.shape = Some(Shape {
                colours: model.colours(),
                height: image.config.height,
                width: image.config.width,
                levels: model.levels(),
            });
            summary.classes = model.num_classes();
            summary.views = if model.latent().is_some() {
                vec!["receptive-field"]
            } else {
                vec!["sample", "complete", "receptive-field"]
            };
        }
        Run::Sequence(sequence) => {
            let model = &sequence.config.model;
            summary.model = model.kind().name().to_string();
            summary.describe = model.describe();
            summary.data = sequence.config.data.clone();
            summary.epochs = Some(sequence.config.training.epochs);
            summary.unit = Some("nats/step");
            summary.classes = model.num_classes;
            summary.views = vec!["sequence"];
            if matches!(
                model.output,
                crate::distributions::OutputDistribution::Gaussian { dims: 1, .. }
            ) && model.num_classes.is_none()
                && model.vector_dim.is_none()
                && model.covariates.is_none()
            {
                summary.views.push("forecast");
            }
        }
        Run::Classic(fit) => {
            summary.data = fit.fit.data.clone();
            match &fit.fit.model {
                ClassicModel::Ar { model, .. } => {
                    summary.model = "ar".into();
                    summary.describe = format!("AR({}) {}", model.order(), model.method);
                    summary.views = vec!["forecast"];
                }
                ClassicModel::Arx { model, .. } => {
                    summary.model = "arx".into();
                    summary.describe = format!("ARX({})", model.order());
                }
                ClassicModel::Markov { chain, .. } => {
                    summary.model = "markov".into();
                    summary.describe = format!("Markov chain of order {}", chain.order());
                }
            }
        }
    }
    Ok(summary)
}

/// `metrics.csv` of a trained run: its header and rows, each row's fields as numbers
/// (`null` where empty). Nothing (empty) before the first epoch.
pub fn metrics(folder: &Path) -> (Vec<String>, Vec<Vec<Option<f64>>>) {
    let Ok(text) = std::fs::read_to_string(RunFolder(folder.to_path_buf()).metrics()) else {
        return (Vec::new(), Vec::new());
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map(|h| h.iter().map(str::to_string).collect())
        .unwrap_or_default();
    let rows = reader
        .records()
        .flatten()
        .map(|r| r.iter().map(|v| v.trim().parse::<f64>().ok()).collect())
        .collect();
    (header, rows)
}
