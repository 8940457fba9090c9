//! Command-line interface: argument parsing and dispatch to commands.
use clap::Parser;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "churnflow", version, about)]
struct Cli {}

pub fn main() -> ExitCode {
    let _ = Cli::parse();
    ExitCode::SUCCESS
}
