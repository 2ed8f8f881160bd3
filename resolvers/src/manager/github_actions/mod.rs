//! Placeholder: filled in by the manager's implementation.

use super::Extraction;

pub fn matches(_path: &str) -> bool {
    false
}

pub fn extract(_path: &str, _text: &str) -> Extraction {
    Extraction::default()
}
