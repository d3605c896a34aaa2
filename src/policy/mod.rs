//! The policy language: KDL files -> a validated, typed [`Policy`].
//!
//! Policies are code that security teams review in pull requests, so this module's job is to
//! be strict and helpful: every problem is collected (never first-fail) and reported with
//! file, line, column, a label and a hint. It performs no I/O beyond reading policy files
//! (see `load`), and it never lets a secret written inline reach any output.

pub mod diagnostic;
pub mod duration;
mod load;
pub mod model;
pub(crate) mod parse;
pub mod source;
pub mod strings;
mod trust;

pub use diagnostic::{Diagnostic, RenderOptions, Severity};
pub use load::{MAX_FILE_BYTES, PolicyError, confine, file_kind, load_dir, load_texts};
pub use model::*;
pub use parse::{MAX_VALUE_LEN, props};
pub use source::{FileId, Sources, Span, Spanned};
pub use trust::pin_to_trusted;
