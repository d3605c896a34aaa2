//! The `offboard` binary: parse the command line, run, exit with Terraform-style codes.

use clap::Parser;

fn main() {
    let cli = offboard::cli::Cli::parse();
    let code = offboard::cli::run(cli);
    std::process::exit(code as i32);
}
