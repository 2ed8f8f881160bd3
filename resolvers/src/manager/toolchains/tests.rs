use super::extract;
use crate::manager::SkipReason;

crate::manager::test_kit::kit_tests!(Manager::Toolchains);

#[test]
fn asdf_names_are_mapped() {
    let out = extract(
        ".tool-versions",
        "nodejs 20.1.0\ngolang 1.22.0 # go\npython system\n",
    );
    let deps: Vec<_> = out
        .dependencies
        .iter()
        .map(|d| (d.name.as_str(), d.requirement.as_deref(), d.skip))
        .collect();
    assert_eq!(
        deps,
        vec![
            ("node", Some("20.1.0"), None),
            ("go", Some("1.22.0"), None),
            ("python", Some("system"), Some(SkipReason::NoVersion)),
        ]
    );
}

#[test]
fn sdkmanrc_pairs() {
    let out = extract(".sdkmanrc", "java=17.0.2-tem\n# c\n gradle = 8.5 \n");
    let deps: Vec<_> = out
        .dependencies
        .iter()
        .map(|d| (d.name.as_str(), d.requirement.as_deref()))
        .collect();
    assert_eq!(
        deps,
        vec![("java", Some("17.0.2-tem")), ("gradle", Some("8.5"))]
    );
}
