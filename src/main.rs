use clap::{CommandFactory, FromArgMatches};

mod cli;

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, which turns `argen ... | head` into a panic when the pipe closes;
    // the default action ends the program quietly, as command-line tools do.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // burn puts what it loads without a device (Adam's state on `--resume`) on its default
    // device, which is the GPU in a `--features gpu` build, even for a CPU run (and fails where
    // there is no GPU). argen always names its devices; the default is this machine's CPU.
    // The state moves to each parameter's device at the next step.
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: no other thread exists yet to read the environment concurrently.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
    // Freed training buffers stay with the process for the next step (no page faults).
    argen::memory::keep_freed_memory();
    // A usage error exits with 1, as every other user error does (clap's own default is 2);
    // `--help` and `--version` print and exit with 0.
    let parsed = cli::Cli::command()
        .try_get_matches()
        .and_then(|m| cli::Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                std::process::ExitCode::FAILURE
            } else {
                std::process::ExitCode::SUCCESS
            };
        }
    };
    match cli::run(cli, &matches) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
