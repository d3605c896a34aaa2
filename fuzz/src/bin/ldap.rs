//! Fuzz target `ldap`: see `offboard::fuzz_targets::ldap` for what it exercises.
fn main() {
    afl::fuzz!(|data: &[u8]| offboard::fuzz_targets::ldap(data));
}
