//! The policy loader: any text is a policy or diagnostics, never a panic or a hang.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = offboard::policy::load_texts(vec![(
                std::path::PathBuf::from("policies/a.kdl"),
                text.to_string(),
            )]);
        }
    });
}
