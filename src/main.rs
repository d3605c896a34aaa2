//! The `offboard` binary: parse the command line, run, exit with Terraform-style codes.

use clap::Parser;

// A refresh allocates and frees millions of small strings across threads. Measured at 100k
// people / 1M accounts (issue 9): with glibc's malloc, plan took 1.8-2.0 s and 340-405 MB and
// audit 2.3-2.8 s and 460 MB; with mimalloc, 1.1-1.6 s / 270-300 MB and 1.65-1.8 s / 330-360 MB.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Behave like other Unix tools when output is piped into `head`: exit quietly, no panic.
    // SAFETY: setting a signal disposition at start-up, before any thread exists.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A panic (ours, or one inside a dependency's background task, such as ldap3's decoder
    // on a malformed reply, which then surfaces as a connector error) prints one line that
    // went through the redactor and terminal escaping: its text may quote remote data.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let text = format!("offboard: internal error at {place}: {message} (please report it)");
        let text = offboard::redact::redact(&text);
        eprintln!("{}", offboard::escape::terminal(&text));
    }));
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
