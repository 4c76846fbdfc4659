use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = argen::cli::Cli::parse();
    match argen::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
