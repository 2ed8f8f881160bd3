//! Gradle: build scripts (`build.gradle`, `build.gradle.kts`, `settings.gradle(.kts)` and other
//! `*.gradle(.kts)` script plugins), version catalogs (`gradle/libs.versions.toml` and any
//! `*.versions.toml`), the project's `gradle.properties`, and the wrapper
//! (`gradle/wrapper/gradle-wrapper.properties`).
//!
//! - Scripts ([`script`]) are read with a tokenizer ([`lexer`]), not a Groovy/Kotlin parser: string
//!   and map notation inside `dependencies {}` blocks, `plugins {}` ids with versions, and simple
//!   variables (`val`/`def`, `ext {}`, `ext.x =`, `extra["x"] =`, Groovy map literals) that
//!   versions interpolate (`"$x"`, `"${x}"`). A version taken from a variable carries the span of
//!   the variable's literal, so an update edits the variable.
//! - Catalogs ([`catalog`]) are parsed with `toml_edit`, keeping spans; `version.ref` points at
//!   the `[versions]` entry.
//! - `gradle.properties` ([`properties`]) defines values; a script dependency whose version refers
//!   to one (`"$kotlin_version"`) is reported in the properties file with the value's span, once
//!   the whole project is seen ([`referenced_property`] names the property; the scan's step that
//!   resolves references between files moves the dependency).
//! - The wrapper ([`wrapper`]) yields the toolchain `gradle`, with the span of the version inside
//!   `distributionUrl`.
//!
//! Names are Maven coordinates `groupId:artifactId`; plugin ids become the Gradle plugin marker
//! artifact `<id>:<id>.gradle.plugin` (`kotlin("jvm")` is the id `org.jetbrains.kotlin.jvm`).

mod catalog;
pub(crate) mod lexer;
mod properties;
mod script;
mod wrapper;

#[cfg(test)]
mod tests;

use super::{Dependency, Extraction, file_name};

/// The lockfiles this manager reads: none (its files declare versions themselves).
pub const LOCKFILE_NAMES: &[&str] = &[];

/// Does the Gradle manager read the file at `path`?
pub fn matches(path: &str) -> bool {
    let name = file_name(path);
    name.ends_with(".gradle")
        || name.ends_with(".gradle.kts")
        || name.ends_with(".versions.toml")
        || name == "gradle-wrapper.properties"
        || properties::is_properties_file(path)
}

/// The property of another file (a `gradle.properties` up the directory tree) that the version
/// of `dependency`, read from the file at `path`, refers to; `None` when it refers to none.
pub fn referenced_property<'a>(path: &str, dependency: &'a Dependency) -> Option<&'a str> {
    properties::referenced_property(path, dependency)
}

/// Extract the dependencies declared by the Gradle file `text` at `path`.
pub fn extract(path: &str, text: &str) -> Extraction {
    let name = file_name(path);
    if name == "gradle-wrapper.properties" {
        wrapper::extract(text)
    } else if properties::is_properties_file(path) {
        properties::extract(text)
    } else if name.ends_with(".versions.toml") {
        catalog::extract(text)
    } else {
        script::extract(text)
    }
}

/// The Gradle plugin marker artifact for plugin `id`.
fn plugin_marker(id: &str) -> String {
    format!("{id}:{id}.gradle.plugin")
}
