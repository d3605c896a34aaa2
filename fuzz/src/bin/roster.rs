//! Fuzz target `roster`: see `offboard::fuzz_targets::roster` for what it exercises.
fn main() {
    afl::fuzz!(|data: &[u8]| offboard::fuzz_targets::roster(data));
}
