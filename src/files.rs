//! Writing files so that nothing already saved is lost: every output goes to a fresh
//! temporary name in the same folder, is flushed to the disk, and replaces the old file by one
//! rename. A crash, a kill or a full disk at any instant leaves the old file or the new one.
//!
//! Every step that changes the file system goes through [`step`], a fault-injection point for
//! the tests: with `ARGEN_TEST_FAULT=kill:N` in the environment the process kills itself
//! (SIGKILL) at its N-th step, with `fail:N` that step fails as a full disk would.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, anyhow};

/// The environment variable of the fault-injection points (tests only).
pub const FAULT_VARIABLE: &str = "ARGEN_TEST_FAULT";

/// What the tests asked for: kill or fail at step N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Kill(usize),
    Fail(usize),
}

fn fault() -> Option<Fault> {
    static FAULT: OnceLock<Option<Fault>> = OnceLock::new();
    *FAULT.get_or_init(|| {
        let text = std::env::var(FAULT_VARIABLE).ok()?;
        let (kind, n) = text.split_once(':')?;
        let n: usize = n.parse().ok()?;
        match kind {
            "kill" => Some(Fault::Kill(n)),
            "fail" => Some(Fault::Fail(n)),
            _ => None,
        }
    })
}

static STEPS: AtomicUsize = AtomicUsize::new(0);

/// A step that changes the file system (`what`, for the error message): counts it, and
/// kills the process or fails where the tests asked for it. Without `ARGEN_TEST_FAULT` it
/// does nothing but count.
pub fn step(what: &str) -> Result<()> {
    let n = STEPS.fetch_add(1, Ordering::SeqCst) + 1;
    match fault() {
        Some(Fault::Kill(k)) if k == n => {
            #[cfg(unix)]
            // SAFETY: sending a signal to this process; no memory is touched.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            std::process::abort();
        }
        Some(Fault::Fail(k)) if k == n => Err(anyhow!(
            "{what}: no space left on device (injected at file-system step {n})"
        )),
        _ => Ok(()),
    }
}

/// A temporary name beside `path`, unique to this process and call.
pub fn temporary_path(path: &Path) -> Result<PathBuf> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file path", path.display()))?;
    let unique = format!(
        ".{}.{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    Ok(parent(path).join(unique))
}

/// The folder of `path` (`.` for a bare file name).
pub fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `bytes` to a new file `path` and flushes it to the disk (the file must not be
/// visible to readers yet: a temporary name, or a folder not yet committed).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    step(&format!("writing {}", path.display()))?;
    let mut file =
        fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Flushes a folder's entries (new names, renames) to the disk.
pub fn sync_folder(dir: &Path) -> Result<()> {
    step(&format!("syncing {}", dir.display()))?;
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot sync the folder {}", dir.display()))
}

/// Renames `from` to `to` (one atomic step) and flushes the folder.
pub fn rename(from: &Path, to: &Path) -> Result<()> {
    step(&format!("renaming {} to {}", from.display(), to.display()))?;
    fs::rename(from, to)
        .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))?;
    sync_folder(parent(to))
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// crash never leaves a half-written file where a good one was, and a failed write leaves
/// no temporary file behind.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temporary_path(path)?;
    let result = write_new(&tmp, bytes).and_then(|()| rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Saves a picture as PNG at `path`, atomically.
pub fn save_png(image: &image::RgbImage, path: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .with_context(|| format!("cannot encode {}", path.display()))?;
    write_atomically(path, &bytes)
}
