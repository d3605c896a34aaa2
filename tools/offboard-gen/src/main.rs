//! `offboard-gen`: the command-line face of the generator (see the library's documentation).
//!
//!     offboard-gen --people 10000 --accounts 100000 --systems 10 --out /tmp/org

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Generate a synthetic organisation (roster, policy, account exports)")]
struct Args {
    /// People in the roster
    #[arg(long, default_value_t = 1000)]
    people: usize,
    /// Accounts across all systems (about; each person gets accounts/people of them)
    #[arg(long, default_value_t = 10_000)]
    accounts: usize,
    /// File-connector systems
    #[arg(long, default_value_t = 10)]
    systems: usize,
    /// Offboarding rules in the policy (the first five are the realistic ones)
    #[arg(long, default_value_t = 5)]
    rules: usize,
    /// Seed for the deterministic generator
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// How accounts are spread and named: `departments` (consecutive systems, department
    /// groups, some disputed accounts) or `scattered` (random systems, per-system group
    /// names, one email per account)
    #[arg(long, value_enum, default_value_t = offboard_gen::Shape::Departments)]
    shape: offboard_gen::Shape,
    /// Output directory (a policy repository root)
    #[arg(long)]
    out: PathBuf,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let options = offboard_gen::Options {
        people: args.people,
        accounts: args.accounts,
        systems: args.systems,
        rules: args.rules,
        seed: args.seed,
        shape: args.shape,
    };
    let written = offboard_gen::generate(&options, &args.out)?;
    eprintln!(
        "wrote {} people, {} systems, about {} accounts to {}",
        written.people,
        written.systems,
        written.accounts,
        args.out.display()
    );
    Ok(())
}
