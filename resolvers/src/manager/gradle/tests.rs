crate::manager::test_kit::kit_tests!(Manager::Gradle, |_| "99.0.0-X".to_owned());

use super::{extract, matches};
use crate::manager::{Dependency, DependencyKind, Extraction, Manager, SkipReason, line_of};
use crate::update::replace_requirement;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/src/manager/gradle/fixtures/{name}",
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
fn matches_gradle_files() {
    for path in [
        "build.gradle",
        "app/build.gradle.kts",
        "settings.gradle.kts",
        "gradle/libs.versions.toml",
        "gradle/wrapper/gradle-wrapper.properties",
        "gradle/dependencies.gradle",
        "gradle.properties",
        "app/gradle.properties",
    ] {
        assert!(matches(path), "{path}");
    }
    for path in ["pom.xml", "build.sbt", "local.properties", "Cargo.toml"] {
        assert!(!matches(path), "{path}");
    }
}

#[test]
fn string_notation_groovy_and_kotlin() {
    let text = "dependencies {\n  implementation 'com.a:b:1.2'\n  testImplementation(\"com.c:d:3.4\")\n  kapt \"com.e:f:5\"\n  annotationProcessor 'com.g:h:6@jar'\n  implementation 'com.i:j'\n}\n";
    let e = extract("build.gradle", text);
    let got: Vec<_> = e
        .dependencies
        .iter()
        .map(|d| (d.name.as_str(), d.requirement.as_deref(), d.kind, d.skip))
        .collect();
    assert_eq!(
        got,
        vec![
            ("com.a:b", Some("1.2"), DependencyKind::Normal, None),
            ("com.c:d", Some("3.4"), DependencyKind::Dev, None),
            ("com.e:f", Some("5"), DependencyKind::Build, None),
            ("com.g:h", Some("6"), DependencyKind::Build, None),
            (
                "com.i:j",
                None,
                DependencyKind::Normal,
                Some(SkipReason::NoVersion)
            ),
        ]
    );
    assert!(e.warnings.is_empty());
}

#[test]
fn variables_move_the_span_to_the_value() {
    let text = "val ktor = \"2.3.0\"\next { junit = '4.13' }\ndependencies {\n  implementation(\"io.ktor:core:$ktor\")\n  testImplementation \"junit:junit:${junit}\"\n  implementation \"x.y:z:$missing\"\n  implementation 'a.b:c:' + ktor\n}\n";
    let e = extract("build.gradle.kts", text);
    let ktor = find(&e, "io.ktor:core");
    assert_eq!(ktor.requirement.as_deref(), Some("2.3.0"));
    assert_eq!(ktor.span.map(|s| line_of(text, s.start)), Some(1));
    assert_eq!(find(&e, "junit:junit").requirement.as_deref(), Some("4.13"));
    let missing = find(&e, "x.y:z");
    assert_eq!(missing.skip, Some(SkipReason::UnresolvedVariable));
    assert_eq!(missing.requirement.as_deref(), Some("$missing"));
    assert_eq!(find(&e, "a.b:c").requirement.as_deref(), Some("2.3.0"));
}

#[test]
fn map_notation_and_platforms() {
    let text = "dependencies {\n  implementation group: 'org.x', name: 'y',\n      version: '1.0'\n  implementation(group = \"org.k\", name = \"l\", version = \"2.0\")\n  implementation platform('org.b:bom:3')\n  api(enforcedPlatform(\"org.c:bom:4\"))\n  constraints { implementation(\"org.d:e:5\") }\n  implementation(\"org.f\", \"g\", \"6\")\n}\nconfigurations.all { resolutionStrategy { force 'org.h:i:7' } }\n";
    let e = extract("build.gradle", text);
    let x = find(&e, "org.x:y");
    assert_eq!(x.requirement.as_deref(), Some("1.0"));
    assert_eq!(find(&e, "org.k:l").requirement.as_deref(), Some("2.0"));
    assert_eq!(find(&e, "org.b:bom").kind, DependencyKind::Managed);
    assert_eq!(find(&e, "org.c:bom").kind, DependencyKind::Managed);
    assert_eq!(find(&e, "org.d:e").kind, DependencyKind::Managed);
    assert_eq!(find(&e, "org.f:g").requirement.as_deref(), Some("6"));
    assert_eq!(find(&e, "org.h:i").kind, DependencyKind::Override);
}

#[test]
fn plugins_block() {
    let text = "plugins {\n  id(\"org.a.b\") version \"1.2\" apply false\n  id 'org.c.d' version '3.4'\n  kotlin(\"jvm\") version kotlinVersion\n  kotlin(\"plugin.spring\") version \"1.9.0\"\n  id(\"java-library\")\n  `maven-publish`\n  id(\"org.e.f\")\n  alias(libs.plugins.x)\n}\nval kotlinVersion = \"1.9.0\"\n";
    let e = extract("build.gradle.kts", text);
    let names: Vec<_> = e.dependencies.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "org.a.b:org.a.b.gradle.plugin",
            "org.c.d:org.c.d.gradle.plugin",
            "org.jetbrains.kotlin.jvm:org.jetbrains.kotlin.jvm.gradle.plugin",
            "org.jetbrains.kotlin.plugin.spring:org.jetbrains.kotlin.plugin.spring.gradle.plugin",
            "org.e.f:org.e.f.gradle.plugin",
        ]
    );
    assert!(
        e.dependencies
            .iter()
            .all(|d| d.kind == DependencyKind::Plugin)
    );
    let jvm = e.dependencies.get(2).map(|d| d.requirement.as_deref());
    assert_eq!(jvm, Some(Some("1.9.0")));
    assert_eq!(
        e.dependencies.get(4).and_then(|d| d.skip),
        Some(SkipReason::NoVersion)
    );
}

#[test]
fn catalog_refs_and_notations() {
    let text = "[versions]\nkotlin = \"1.9.0\"\nrich = { strictly = \"2.0\" }\n\n[libraries]\na = \"org.a:a:1.0\"\nb = { module = \"org.b:b\", version.ref = \"kotlin\" }\nc = { group = \"org.c\", name = \"c\", version = \"3.0\" }\nd = { module = \"org.d:d\", version = { ref = \"rich\" } }\ne = { module = \"org.e:e\" }\nf = { module = \"org.f:f\", version.ref = \"nope\" }\n\n[plugins]\np = { id = \"org.p\", version.ref = \"kotlin\" }\nq = \"org.q:4.0\"\n";
    let e = extract("gradle/libs.versions.toml", text);
    let b = find(&e, "org.b:b");
    assert_eq!(b.requirement.as_deref(), Some("1.9.0"));
    assert_eq!(b.span.map(|s| line_of(text, s.start)), Some(2));
    assert_eq!(find(&e, "org.a:a").requirement.as_deref(), Some("1.0"));
    assert_eq!(find(&e, "org.c:c").requirement.as_deref(), Some("3.0"));
    assert_eq!(find(&e, "org.d:d").requirement.as_deref(), Some("2.0"));
    assert_eq!(find(&e, "org.e:e").skip, Some(SkipReason::NoVersion));
    assert_eq!(
        find(&e, "org.f:f").skip,
        Some(SkipReason::UnresolvedVariable)
    );
    assert_eq!(e.warnings.len(), 1);
    let p = find(&e, "org.p:org.p.gradle.plugin");
    assert_eq!(
        (p.kind, p.requirement.as_deref()),
        (DependencyKind::Plugin, Some("1.9.0"))
    );
    assert_eq!(
        find(&e, "org.q:org.q.gradle.plugin").requirement.as_deref(),
        Some("4.0")
    );
}

#[test]
fn wrapper_version_span() {
    let text = "distributionBase=GRADLE_USER_HOME\ndistributionUrl=https\\://services.gradle.org/distributions/gradle-8.5-rc-1-all.zip\n";
    let e = extract("gradle/wrapper/gradle-wrapper.properties", text);
    let d = find(&e, "gradle");
    assert_eq!(d.requirement.as_deref(), Some("8.5-rc-1"));
    assert_eq!(d.kind, DependencyKind::Toolchain);
    let bad = extract(
        "gradle-wrapper.properties",
        "distributionUrl=https://example.invalid/x.zip\n",
    );
    assert!(bad.dependencies.is_empty());
    assert_eq!(bad.warnings.first().and_then(|w| w.line), Some(1));
}

#[test]
fn arbitrary_input_never_panics() {
    let samples = [
        "",
        "{",
        "}",
        "\"",
        "'",
        "plugins { id(",
        "dependencies { implementation '",
        "ext.x = [",
        "ext.x = [a: [b: ",
        "val x by extra(",
        "dependencies { add(\"",
        "$",
        "${",
        "é\"ü",
    ];
    for s in samples {
        for path in [
            "build.gradle",
            "libs.versions.toml",
            "gradle-wrapper.properties",
        ] {
            let _ = extract(path, s);
        }
    }
}

/// `(manifest, name, requirement, line, skip)` of one dependency `pair` reports.
type PairedRow = (
    String,
    String,
    Option<String>,
    Option<usize>,
    Option<SkipReason>,
);

/// Every dependency `pair` reports for the Gradle `files` (`(path, text)`).
fn paired(files: &[(&str, &str)]) -> Vec<PairedRow> {
    let extractions = files
        .iter()
        .map(|(path, text)| ((*path).to_owned(), Manager::Gradle, extract(path, text)))
        .collect();
    let report = crate::scan::pair(extractions);
    report
        .dependencies
        .iter()
        .map(|d| {
            let text = files
                .iter()
                .find(|(path, _)| *path == d.manifest)
                .map_or("", |(_, text)| *text);
            if let Some(span) = d.dependency.span {
                assert_eq!(
                    span.slice(text),
                    d.dependency.requirement.as_deref(),
                    "{d:?}"
                );
            }
            (
                d.manifest.clone(),
                d.dependency.name.clone(),
                d.dependency.requirement.clone(),
                d.dependency.span.map(|s| line_of(text, s.start)),
                d.dependency.skip,
            )
        })
        .collect()
}

#[test]
fn gradle_properties_values_and_spans() {
    let text = "# comment\n! also a comment\nkotlin_version=1.9.22\n  agp.version : 8.2.0  \r\nspaced 3.1\nempty=\nescaped=a\\:b\nlong=1,\\\n  2\nafter=4.0\n";
    let e = extract("gradle.properties", text);
    let got: Vec<(&str, &str, Option<&str>)> = e
        .properties
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_str(), p.span.slice(text)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("kotlin_version", "1.9.22", Some("1.9.22")),
            ("agp.version", "8.2.0", Some("8.2.0")),
            ("spaced", "3.1", Some("3.1")),
            ("after", "4.0", Some("4.0")),
        ]
    );
    assert!(e.dependencies.is_empty());
    assert!(e.warnings.is_empty());
}

#[test]
fn litho_script_versions_come_from_gradle_properties() {
    let build = fixture("litho/build.gradle");
    let properties = fixture("litho/gradle.properties");
    let rows = paired(&[("build.gradle", &build), ("gradle.properties", &properties)]);
    let in_properties: Vec<_> = rows
        .iter()
        .filter(|r| r.0 == "gradle.properties")
        .map(|r| (r.1.as_str(), r.2.as_deref(), r.3, r.4))
        .collect();
    assert_eq!(
        in_properties,
        vec![
            (
                "com.jfrog.bintray.gradle:gradle-bintray-plugin",
                Some("1.8.0"),
                Some(36),
                None
            ),
            (
                "com.github.dcendents:android-maven-gradle-plugin",
                Some("2.1"),
                Some(37),
                None
            ),
            (
                "com.github.ben-manes:gradle-versions-plugin",
                Some("0.15.0"),
                Some(31),
                None
            ),
            (
                "org.jetbrains.kotlin:kotlin-gradle-plugin",
                Some("1.2.51"),
                Some(33),
                None
            ),
            (
                "org.jetbrains.kotlin:kotlin-stdlib-jre7",
                Some("1.2.51"),
                Some(33),
                None
            ),
        ]
    );
    // What the script writes itself stays in the script; nothing is left unresolved.
    assert!(
        rows.iter()
            .any(|r| r.0 == "build.gradle" && r.1 == "com.android.tools.build:gradle")
    );
    assert!(
        rows.iter()
            .all(|r| r.4 != Some(SkipReason::UnresolvedVariable)),
        "{rows:#?}"
    );

    // An update edits the property, and only it.
    let e = extract("gradle.properties", &properties);
    let property = e
        .properties
        .iter()
        .find(|p| p.name == "KOTLIN_VERSION")
        .expect("KOTLIN_VERSION");
    let dep = Dependency::at(
        "org.jetbrains.kotlin:kotlin-gradle-plugin",
        crate::Ecosystem::Maven,
        &properties,
        property.span,
    );
    let updated = replace_requirement(&properties, &dep, "1.9.22").expect("updated");
    assert_eq!(
        updated,
        properties.replace("KOTLIN_VERSION=1.2.51", "KOTLIN_VERSION=1.9.22")
    );
}

#[test]
fn the_nearest_gradle_properties_defines_the_version() {
    let root = "v=1.0\nonly_root=5.0\n";
    let sub = "v=2.0\n";
    let sub_build = "dependencies {\n  implementation \"a.b:c:$v\"\n  implementation \"d.e:f:${only_root}\"\n  implementation \"g.h:i:$nowhere\"\n}\n";
    let other_build = "dependencies {\n  implementation \"a.b:c:${project.v}\"\n}\n";
    let rows = paired(&[
        ("gradle.properties", root),
        ("sub/gradle.properties", sub),
        ("sub/build.gradle", sub_build),
        ("other/build.gradle", other_build),
    ]);
    let short: Vec<_> = rows
        .iter()
        .map(|r| (r.0.as_str(), r.1.as_str(), r.2.as_deref(), r.4))
        .collect();
    assert_eq!(
        short,
        vec![
            ("gradle.properties", "d.e:f", Some("5.0"), None),
            ("gradle.properties", "a.b:c", Some("1.0"), None),
            (
                "sub/build.gradle",
                "g.h:i",
                Some("$nowhere"),
                Some(SkipReason::UnresolvedVariable)
            ),
            ("sub/gradle.properties", "a.b:c", Some("2.0"), None),
        ]
    );
}
