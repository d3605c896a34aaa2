//! Fuzz target `policy`: see `offboard::fuzz_targets::policy` for what it exercises.
fn main() {
    afl::fuzz!(|data: &[u8]| offboard::fuzz_targets::policy(data));
}
