//! Fuzz target `scim`: see `offboard::fuzz_targets::scim` for what it exercises.
fn main() {
    afl::fuzz!(|data: &[u8]| offboard::fuzz_targets::scim(data));
}
