use super::{extract, matches};
use crate::manager::{Dependency, DependencyKind, Extraction, SkipReason, line_of};

crate::manager::test_kit::kit_tests!(Manager::Maven, |_| "99.0.0-X".to_owned());

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/src/manager/maven/fixtures/{name}",
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
fn matches_poms() {
    assert!(matches("pom.xml"));
    assert!(matches("module/pom.xml"));
    assert!(matches("release.pom.xml"));
    assert!(!matches("pom.xml.bak"));
    assert!(!matches("build.gradle"));
}

#[test]
fn edge_cases() {
    let text = fixture("edge-cases/pom.xml");
    let e = extract("pom.xml", &text);
    let parent = find(&e, "org.example:example-parent");
    assert_eq!(
        (parent.kind, parent.requirement.as_deref()),
        (DependencyKind::Parent, Some("7"))
    );
    // The project itself is not a dependency.
    assert!(
        e.dependencies
            .iter()
            .all(|d| d.name != "org.example:edge-cases")
    );
    // BOM import through a property chain: span at the property that holds the literal.
    let bom = find(&e, "com.fasterxml.jackson:jackson-bom");
    assert_eq!(bom.kind, DependencyKind::Managed);
    assert_eq!(bom.requirement.as_deref(), Some("2.16.1"));
    assert_eq!(bom.span.map(|s| line_of(&text, s.start)), Some(14));
    assert_eq!(
        find(&e, "com.fasterxml.jackson.core:jackson-databind").skip,
        Some(SkipReason::NoVersion)
    );
    let netty = find(&e, "io.netty:netty-all");
    assert_eq!(
        (netty.kind, netty.requirement.as_deref()),
        (DependencyKind::Normal, Some("4.1.104.Final"))
    );
    assert_eq!(
        find(&e, "com.google.guava:guava").skip,
        Some(SkipReason::UnresolvedVariable)
    );
    assert_eq!(
        find(&e, "org.example:undefined-property").skip,
        Some(SkipReason::UnresolvedVariable)
    );
    let sibling = find(&e, "org.example:sibling-module");
    assert_eq!(sibling.requirement.as_deref(), Some("1.2.3-SNAPSHOT"));
    assert_eq!(sibling.skip, Some(SkipReason::Local));
    assert_eq!(
        find(&e, "org.example:from-parent-version")
            .requirement
            .as_deref(),
        Some("7")
    );
    assert_eq!(
        find(&e, "org.slf4j:slf4j-api").kind,
        DependencyKind::Optional
    );
    let junit = find(&e, "org.junit.jupiter:junit-jupiter");
    assert_eq!(
        (junit.kind, junit.requirement.as_deref()),
        (DependencyKind::Dev, Some("5.10.1"))
    );
    assert_eq!(find(&e, "com.sun:tools").skip, Some(SkipReason::Path));
    assert_eq!(
        find(&e, "kr.motd.maven:os-maven-plugin").kind,
        DependencyKind::Plugin
    );
    assert_eq!(
        find(&e, "org.apache.maven.plugins:maven-compiler-plugin")
            .requirement
            .as_deref(),
        Some("3.12.1")
    );
    assert_eq!(
        find(&e, "org.projectlombok:lombok").kind,
        DependencyKind::Build
    );
    assert_eq!(
        find(&e, "org.junit.platform:junit-platform-launcher").kind,
        DependencyKind::Build
    );
    assert_eq!(
        find(&e, "org.apache.maven.plugins:maven-surefire-plugin").skip,
        Some(SkipReason::NoVersion)
    );
    assert_eq!(
        find(&e, "org.postgresql:postgresql").requirement.as_deref(),
        Some("42.7.1")
    );
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
}

#[test]
fn invalid_xml_keeps_what_was_read() {
    let text = fixture("malformed/pom.xml");
    let e = extract("pom.xml", &text);
    assert_eq!(
        find(&e, "org.ok:before-the-error").requirement.as_deref(),
        Some("1.0")
    );
    assert_eq!(e.warnings.len(), 1);
    assert_eq!(e.warnings.first().and_then(|w| w.line), Some(12));

    let e = extract("pom.xml", "<notapom/>");
    assert!(e.dependencies.is_empty());
    assert_eq!(e.warnings.len(), 1);
}

#[test]
fn arbitrary_input_never_panics() {
    for s in [
        "",
        "<",
        "<project>",
        "<project><dependencies><dependency><version>${",
        "&",
        "<![CDATA[",
        "<project><parent><version>${project.version}</version></parent></project>",
        "<a></b>",
        "<project><properties><x>${x}</x></properties><dependencies><dependency><groupId>g</groupId><artifactId>a</artifactId><version>${x}</version></dependency></dependencies></project>",
    ] {
        let _ = extract("pom.xml", s);
    }
}
