//! Placeholder: filled in by the scheme's implementation.

use std::cmp::Ordering;

use super::{UpdateKind, VersionScheme};

pub struct Maven;

impl VersionScheme for Maven {
    fn is_valid(&self, _version: &str) -> bool {
        false
    }
    fn compare(&self, a: &str, b: &str) -> Ordering {
        a.cmp(b)
    }
    fn is_stable(&self, _version: &str) -> bool {
        true
    }
    fn is_valid_requirement(&self, _requirement: &str) -> bool {
        false
    }
    fn satisfies(&self, _version: &str, _requirement: &str) -> bool {
        false
    }
    fn lower_bound(&self, _requirement: &str) -> Option<String> {
        None
    }
    fn update_kind(&self, _from: &str, _to: &str) -> Option<UpdateKind> {
        None
    }
    fn bump(&self, _requirement: &str, _new_version: &str) -> Option<String> {
        None
    }
}
