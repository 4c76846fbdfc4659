use clap::Parser;

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, which turns `argen ... | head` into a panic when the pipe closes;
    // the default action ends the program quietly, as command-line tools do.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = argen::cli::Cli::parse();
    match argen::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
