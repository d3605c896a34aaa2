//! The scheduler's clock: the system's, or (for tests and drills) one read from a file.
//!
//! A scheduler must be testable at the moment that matters ("a leaver due at 00:00 is
//! applied when the clock passes 00:00, not before") without waiting for it. `serve
//! --clock-file PATH` reads the present from PATH (an RFC 3339 instant) each time it asks;
//! a file that cannot be read or parsed falls back to the system clock, so a broken drill
//! can only make the scheduler act on real time.

use std::path::PathBuf;

use jiff::Timestamp;

#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    /// The instant written in this file.
    File(PathBuf),
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::File(path) => std::fs::read_to_string(path)
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .unwrap_or_else(Timestamp::now),
        }
    }

    /// Whether this is the system's clock (operations then plan "now" themselves).
    pub fn is_system(&self) -> bool {
        matches!(self, Clock::System)
    }
}
