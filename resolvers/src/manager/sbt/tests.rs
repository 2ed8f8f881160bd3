use super::{binary_version, extract, matches};
use crate::manager::{Dependency, DependencyKind, Extraction, SkipReason, line_of};

crate::manager::test_kit::kit_tests!(Manager::Sbt, |_| "99.0.0-X".to_owned());

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/src/manager/sbt/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn find<'a>(e: &'a Extraction, name: &str) -> &'a Dependency {
    e.dependencies
        .iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("{name} not found in {:#?}", e.dependencies))
}

#[test]
fn matches_sbt_files() {
    for path in [
        "build.sbt",
        "project/plugins.sbt",
        "sub/build.sbt",
        "project/build.properties",
        "a/project/build.properties",
    ] {
        assert!(matches(path), "{path}");
    }
    for path in [
        "build.properties",
        "src/main/resources/build.properties",
        "build.gradle",
        "project/Dependencies.scala",
    ] {
        assert!(!matches(path), "{path}");
    }
}

#[test]
fn scala_binary_versions() {
    assert_eq!(binary_version("2.13.12").as_deref(), Some("2.13"));
    assert_eq!(binary_version("2.12").as_deref(), Some("2.12"));
    assert_eq!(binary_version("3.3.1").as_deref(), Some("3"));
    assert_eq!(binary_version("3.0.0-M1").as_deref(), Some("3"));
    assert_eq!(binary_version("2.13.0-RC1").as_deref(), Some("2.13"));
    assert_eq!(binary_version("x"), None);
}

#[test]
fn edge_cases() {
    let text = fixture("edge-cases/build.sbt");
    let e = extract("build.sbt", &text);
    // `ThisBuild / scalaVersion` decides the suffix even though a project sets 3.3.1.
    let akka = find(&e, "com.typesafe.akka:akka-actor_2.13");
    assert_eq!(akka.requirement.as_deref(), Some("2.6.20"));
    assert_eq!(akka.span.map(|s| line_of(&text, s.start)), Some(2));
    assert_eq!(
        find(&e, "io.circe:circe-core_2.13").requirement.as_deref(),
        Some("0.14.6")
    );
    assert_eq!(
        find(&e, "org.typelevel:cats-core_2.13")
            .requirement
            .as_deref(),
        Some("2.10.0")
    );
    assert_eq!(
        find(&e, "org.scalatest:scalatest_2.13").kind,
        DependencyKind::Dev
    );
    assert_eq!(
        find(&e, "org.scalameta:munit_2.13").kind,
        DependencyKind::Dev
    );
    assert_eq!(find(&e, "com.h2database:h2").kind, DependencyKind::Normal);
    let elsewhere = find(&e, "org.example:from-elsewhere");
    assert_eq!(elsewhere.skip, Some(SkipReason::UnresolvedVariable));
    assert_eq!(elsewhere.requirement.as_deref(), Some("otherVersion"));
    assert_eq!(
        find(&e, "org.scala-lang:scala-reflect").skip,
        Some(SkipReason::UnresolvedVariable)
    );
    assert_eq!(
        find(&e, "org.typelevel:kind-projector").kind,
        DependencyKind::Build
    );
    assert_eq!(
        find(&e, "org.slf4j:slf4j-api").kind,
        DependencyKind::Override
    );
    assert!(
        e.dependencies
            .iter()
            .all(|d| !d.name.contains("commons-logging"))
    );
    assert!(e.dependencies.iter().all(|d| !d.name.contains("scala-xml")));
    assert!(e.dependencies.iter().all(|d| !d.name.contains("unnamed")));
    let scala: Vec<_> = e
        .dependencies
        .iter()
        .filter(|d| d.name == "scala")
        .map(|d| (d.kind, d.requirement.as_deref()))
        .collect();
    assert_eq!(
        scala,
        vec![
            (DependencyKind::Toolchain, Some("2.13.12")),
            (DependencyKind::Toolchain, Some("3.3.1"))
        ]
    );
}

#[test]
fn suffix_defaults_and_unknowns() {
    let e = extract("build.sbt", &fixture("no-scala-version/build.sbt"));
    assert_eq!(find(&e, "org.typelevel:cats-effect_2.12").skip, None);
    let e = extract("build.sbt", &fixture("unresolved-scala-version/build.sbt"));
    assert_eq!(
        find(&e, "org.typelevel:cats-core").skip,
        Some(SkipReason::UnresolvedVariable)
    );
    assert_eq!(find(&e, "org.slf4j:slf4j-api").skip, None);
    let e = extract(
        "build.sbt",
        "crossScalaVersions := Seq(\"3.3.1\", \"2.13.12\")\nlibraryDependencies += \"a\" %% \"b\" % \"1\"\n",
    );
    assert!(e.dependencies.iter().any(|d| d.name == "a:b_3"));
}

#[test]
fn plugins_and_build_properties() {
    let text = fixture("cats/project/plugins.sbt");
    let e = extract("project/plugins.sbt", &text);
    let typelevel = find(&e, "org.typelevel:sbt-typelevel");
    assert_eq!(typelevel.kind, DependencyKind::Plugin);
    assert_eq!(typelevel.span.map(|s| line_of(&text, s.start)), Some(1));
    let e = extract("project/build.properties", "sbt.version = 1.9.8\n");
    let sbt = find(&e, "sbt");
    assert_eq!(
        (sbt.kind, sbt.requirement.as_deref()),
        (DependencyKind::Toolchain, Some("1.9.8"))
    );
    let e = extract(
        "project/build.properties",
        &fixture("malformed/project/build.properties"),
    );
    assert!(e.dependencies.is_empty());
    assert_eq!(e.warnings.first().and_then(|w| w.line), Some(2));
}

#[test]
fn updating_scala_version_renames_cross_built_dependencies() {
    let text =
        "ThisBuild / scalaVersion := \"2.13.12\"\nlibraryDependencies += \"a\" %% \"b\" % \"1\"\n";
    let e = extract("build.sbt", text);
    let scala = find(&e, "scala");
    let updated = crate::update::replace_requirement(text, scala, "3.3.1").expect("replace");
    let e = extract("build.sbt", &updated);
    assert_eq!(find(&e, "scala").requirement.as_deref(), Some("3.3.1"));
    assert_eq!(find(&e, "a:b_3").requirement.as_deref(), Some("1"));
}

#[test]
fn arbitrary_input_never_panics() {
    for s in [
        "",
        "%",
        "\"a\" %",
        "\"a\" %% \"b\" %",
        "scalaVersion :=",
        "val x =",
        "object {",
        "sbt.version",
        "é % ü",
    ] {
        let _ = extract("build.sbt", s);
        let _ = extract("project/build.properties", s);
    }
}
