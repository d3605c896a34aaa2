//! The `offboard` binary: parse the command line, run, exit with Terraform-style codes.

use clap::Parser;

// A refresh allocates and frees millions of small strings across threads. Measured at 100k
// people / 1M accounts (issue 9): with glibc's malloc, plan took 1.8-2.0 s and 340-405 MB and
// audit 2.3-2.8 s and 460 MB; with mimalloc, 1.1-1.6 s / 270-300 MB and 1.65-1.8 s / 330-360 MB.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_e`; the Rust bindings name
/// no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // Memory freed by one export's parse is returned to the OS at once instead of after
    // mimalloc's default delay: while exports are parsed one per core, freed pages pile up
    // in the meantime. Measured on a generated organisation of 100k people and 1M accounts
    // (issue 20, `offboard-gen --shape scattered`): audit peak RSS 330-380 MB before,
    // 250-260 MB after; plan 280-310 MB before, 205-225 MB after; no difference in time
    // beyond the noise. A `MIMALLOC_PURGE_DELAY` in the environment still wins (this sets
    // the default only; checked: 1000 gives 326 MB again).
    // SAFETY: mimalloc options are set before any other thread exists.
    unsafe {
        libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, 0);
    }
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
