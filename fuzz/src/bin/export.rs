//! Fuzz target `export`: see `offboard::fuzz_targets::export` for what it exercises.
fn main() {
    afl::fuzz!(|data: &[u8]| offboard::fuzz_targets::export(data));
}
