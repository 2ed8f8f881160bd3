//! Placeholder: filled in by the adapter's implementation.

use super::{Registries, RegistryError, ReleaseSet};

pub async fn releases(_registries: &Registries, name: &str) -> Result<ReleaseSet, RegistryError> {
    Err(RegistryError::Skipped(format!("no adapter yet for {name}")))
}
