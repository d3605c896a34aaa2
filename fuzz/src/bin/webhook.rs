//! Fuzz target `webhook`: see `offboard::fuzz_targets::webhook` for what it exercises.
fn main() {
    afl::fuzz!(|data: &[u8]| offboard::fuzz_targets::webhook(data));
}
