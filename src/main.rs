//! The `offboard` binary: parse the command line, run, exit with Terraform-style codes.

use clap::Parser;

// A refresh allocates millions of small strings; mimalloc does that markedly faster than
// glibc's malloc and returns memory more readily (measured in the issue 9 notes).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Behave like other Unix tools when output is piped into `head`: exit quietly, no panic.
    // SAFETY: setting a signal disposition at start-up, before any thread exists.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // clap exits with 2 on usage errors, which would read as "changes present" in CI.
    let cli = match offboard::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = offboard::cli::run(cli);
    std::process::exit(code as i32);
}
