//! Test cases: the YAML model, loading with file:line:col errors, validation and matching.

pub mod duration;
pub mod error;
pub mod loader;
pub mod matching;
pub mod model;
pub mod source;
pub mod validate;

pub use error::{LoadError, SourceLoc};
pub use loader::{
    Case, CaseStep, discover, load_all, load_file, load_str, parse_yaml, read_source,
};
pub use model::{Protocol, Step};
