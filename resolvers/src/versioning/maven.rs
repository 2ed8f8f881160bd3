//! Maven versions: the ComparableVersion ordering (our own implementation of the algorithm Maven
//! documents: tokens split at `.`, `-` and digit/letter transitions, trailing null values trimmed
//! at each hyphen, qualifiers ordered alpha < beta < milestone < rc = cr < snapshot < "" = ga =
//! final = release < sp < any other qualifier, alphabetically) and version ranges (`[1.0,2.0)`,
//! `(,1.0]`, `[1.2]`, unions). Gradle's dynamic versions (`1.2.+`, `+`, `latest.release`) are
//! understood too, since Gradle manifests use this scheme.
//!
//! A bare version (Maven's "soft" requirement) is treated as a pin: any other version needs an
//! edit of the manifest.

use std::cmp::Ordering;

use super::{
    Role, Target, UpdateKind, VersionScheme, kind_between, parse_written, rewrite_version,
};

pub struct Maven;

/// One token of a parsed version.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Digits without leading zeros (`"0"` for zero), so numbers of any size compare.
    Int(String),
    /// A qualifier, lower-cased and with aliases applied (`ga`, `final`, `release` → `""`).
    Str(String),
    /// The tokens after a hyphen or a digit/letter transition.
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

/// Qualifiers that mark a version as not a release, beyond the ordered ones.
const UNSTABLE_WORDS: [&str; 9] = [
    "alpha",
    "beta",
    "milestone",
    "rc",
    "snapshot",
    "preview",
    "ea",
    "dev",
    "eap",
];

fn int_item(digits: &str) -> Item {
    let trimmed = digits.trim_start_matches('0');
    Item::Int(if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    })
}

fn str_item(text: &str, followed_by_digit: bool) -> Item {
    let expanded = match text {
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Item::Str(expanded.to_owned())
}

fn is_null(item: &Item) -> bool {
    match item {
        Item::Int(n) => n == "0",
        Item::Str(s) => s.is_empty(),
        Item::List(l) => l.is_empty(),
    }
}

/// Remove trailing null items, looking through nested lists.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        match list.get(i) {
            Some(item) if is_null(item) => {
                list.remove(i);
            }
            Some(Item::List(_)) => {}
            _ => break,
        }
    }
}

fn qualifier_rank(q: &str) -> String {
    QUALIFIERS
        .iter()
        .position(|k| *k == q)
        .map_or_else(|| format!("{}-{q}", QUALIFIERS.len()), |i| i.to_string())
}

/// Parse any string into ComparableVersion items (total: every string has an order).
fn items(version: &str) -> Vec<Item> {
    let version = version.trim().to_ascii_lowercase();
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut start = 0;
    let mut is_digit = false;
    let token = |from: usize, to: usize| version.get(from..to).unwrap_or_default();
    let push = |stack: &mut Vec<Vec<Item>>, item: Item| {
        if let Some(list) = stack.last_mut() {
            list.push(item);
        }
    };
    for (i, c) in version.char_indices() {
        if c == '.' || c == '-' {
            let item = if i == start {
                int_item("0")
            } else if is_digit {
                int_item(token(start, i))
            } else {
                str_item(token(start, i), false)
            };
            push(&mut stack, item);
            start = i + 1;
            if c == '-' {
                stack.push(Vec::new());
            }
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                push(&mut stack, str_item(token(start, i), true));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                push(&mut stack, int_item(token(start, i)));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = false;
        }
    }
    if version.len() > start {
        let rest = token(start, version.len());
        push(
            &mut stack,
            if is_digit {
                int_item(rest)
            } else {
                str_item(rest, false)
            },
        );
    }
    while stack.len() > 1 {
        let mut inner = stack.pop().unwrap_or_default();
        normalize(&mut inner);
        push(&mut stack, Item::List(inner));
    }
    let mut top = stack.pop().unwrap_or_default();
    normalize(&mut top);
    top
}

fn cmp_item(a: &Item, b: Option<&Item>) -> Ordering {
    match (a, b) {
        (Item::Int(x), None) => {
            if x == "0" {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        (Item::Int(x), Some(Item::Int(y))) => (x.len(), x).cmp(&(y.len(), y)),
        (Item::Int(_), Some(_)) | (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
        (Item::Str(s), None) => qualifier_rank(s).cmp(&qualifier_rank("")),
        (Item::Str(s), Some(Item::Str(t))) => qualifier_rank(s).cmp(&qualifier_rank(t)),
        (Item::Str(_) | Item::List(_), Some(Item::Int(_)))
        | (Item::Str(_), Some(Item::List(_))) => Ordering::Less,
        (Item::List(l), None) => l
            .iter()
            .map(|i| cmp_item(i, None))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal),
        (Item::List(l), Some(Item::List(r))) => cmp_lists(l, r),
    }
}

fn cmp_lists(l: &[Item], r: &[Item]) -> Ordering {
    for i in 0..l.len().max(r.len()) {
        let result = match (l.get(i), r.get(i)) {
            (None, None) => Ordering::Equal,
            (None, Some(b)) => cmp_item(b, None).reverse(),
            (Some(a), b) => cmp_item(a, b),
        };
        if result.is_ne() {
            return result;
        }
    }
    Ordering::Equal
}

fn valid(version: &str) -> bool {
    let version = version.trim();
    version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
}

fn parse(version: &str) -> Option<Vec<Item>> {
    valid(version).then(|| items(version))
}

fn cmp_versions(a: &str, b: &str) -> Ordering {
    cmp_lists(&items(a), &items(b))
}

fn qualifiers(list: &[Item], out: &mut Vec<String>) {
    for item in list {
        match item {
            Item::Str(s) => out.push(s.clone()),
            Item::List(l) => qualifiers(l, out),
            Item::Int(_) => {}
        }
    }
}

/// One interval of a version range, with the byte range of its upper bound text.
#[derive(Debug, Clone)]
struct Interval {
    lower: Option<(String, bool)>,
    upper: Option<(String, bool)>,
    upper_span: Option<std::ops::Range<usize>>,
}

impl Interval {
    fn contains(&self, version: &str) -> bool {
        let above = self.lower.as_ref().is_none_or(|(low, inclusive)| {
            let o = cmp_versions(version, low);
            o.is_gt() || (*inclusive && o.is_eq())
        });
        let below = self.upper.as_ref().is_none_or(|(high, inclusive)| {
            let o = cmp_versions(version, high);
            o.is_lt() || (*inclusive && o.is_eq())
        });
        above && below
    }
}

/// A parsed requirement.
#[derive(Debug, Clone)]
enum Req {
    /// A bare version: Maven's soft requirement, a pin for updating purposes.
    Soft(String),
    /// `[..]`/`(..)` intervals, any of which may hold.
    Ranges(Vec<Interval>),
    /// Gradle `1.2.+`: versions starting with the text before `+`.
    Prefix(String),
    /// Gradle `+`, `latest.release`, `latest.integration`.
    Any,
}

fn parse_ranges(text: &str) -> Option<Vec<Interval>> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let rest = text.get(pos..)?;
        let skipped = rest.len()
            - rest
                .trim_start_matches(|c: char| c == ',' || c.is_whitespace())
                .len();
        pos += skipped;
        let rest = text.get(pos..)?;
        let Some(open) = rest.chars().next() else {
            break;
        };
        if open != '[' && open != '(' {
            return None;
        }
        let close_at = rest.find([']', ')'])?;
        let close = rest.get(close_at..)?.chars().next()?;
        let inner_start = pos + 1;
        let inner = text.get(inner_start..pos + close_at)?;
        let bound = |s: &str| -> Option<Option<String>> {
            let s = s.trim();
            if s.is_empty() {
                Some(None)
            } else if valid(s) {
                Some(Some(s.to_owned()))
            } else {
                None
            }
        };
        let interval = match inner.split_once(',') {
            None => {
                let v = bound(inner)??;
                if open != '[' || close != ']' {
                    return None;
                }
                let lead = inner.len() - inner.trim_start().len();
                Interval {
                    lower: Some((v.clone(), true)),
                    upper: Some((v, true)),
                    upper_span: Some(inner_start + lead..inner_start + inner.trim_end().len()),
                }
            }
            Some((low, high)) => {
                let upper_offset = inner_start + low.len() + 1;
                let lead = high.len() - high.trim_start().len();
                let upper = bound(high)?;
                Interval {
                    lower: bound(low)?.map(|v| (v, open == '[')),
                    upper_span: upper
                        .as_ref()
                        .map(|_| upper_offset + lead..upper_offset + high.trim_end().len()),
                    upper: upper.map(|v| (v, close == ']')),
                }
            }
        };
        out.push(interval);
        pos += close_at + 1;
    }
    (!out.is_empty()).then_some(out)
}

fn parse_req(requirement: &str) -> Option<Req> {
    let r = requirement.trim();
    if r == "+" || r == "latest.release" || r == "latest.integration" {
        return Some(Req::Any);
    }
    if r.starts_with(['[', '(']) {
        return parse_ranges(r).map(Req::Ranges);
    }
    if let Some(prefix) = r.strip_suffix('+') {
        return valid(prefix).then(|| Req::Prefix(prefix.to_owned()));
    }
    valid(r).then(|| Req::Soft(r.to_owned()))
}

/// The leading release numbers of a Maven version (`1.2.3-jre` → `[1, 2, 3]`).
fn release_numbers(version: &str) -> Vec<u64> {
    parse_written(version.trim())
        .map(|w| w.nums)
        .unwrap_or_default()
}

/// A prerelease by Maven's qualifiers: `alpha`/`a<n>`, `beta`/`b<n>`, `milestone`/`m<n>`,
/// `rc`, `cr`, `snapshot`, plus the widespread `preview`, `ea`, `eap`, `dev`, `nightly`.
/// Other qualifiers (`Final`, `GA`, `RELEASE`, `jre`, `android`, `sp1`, ...) are releases.
fn marked_prerelease(version: &str) -> bool {
    let lower = version.to_ascii_lowercase();
    // Tokens split at separators and at letter/digit transitions; `joined` marks a token that
    // is followed by the next one without a separator (Maven's `1.0-a1` short forms).
    let mut tokens: Vec<(String, bool)> = Vec::new();
    let mut current = String::new();
    for c in lower.chars() {
        if matches!(c, '.' | '-' | '_' | '+') {
            if !current.is_empty() {
                tokens.push((std::mem::take(&mut current), false));
            }
            continue;
        }
        if let Some(last) = current.chars().last()
            && last.is_ascii_digit() != c.is_ascii_digit()
        {
            tokens.push((std::mem::take(&mut current), true));
        }
        current.push(c);
    }
    if !current.is_empty() {
        tokens.push((current, false));
    }
    tokens
        .iter()
        .enumerate()
        .any(|(i, (token, joined))| match token.as_str() {
            "alpha" | "beta" | "milestone" | "rc" | "cr" | "snapshot" | "preview" | "ea"
            | "eap" | "dev" | "nightly" => true,
            "a" | "b" | "m" => {
                *joined
                    && tokens
                        .get(i + 1)
                        .is_some_and(|(next, _)| next.chars().all(|c| c.is_ascii_digit()))
            }
            _ => false,
        })
}

impl VersionScheme for Maven {
    fn is_valid(&self, version: &str) -> bool {
        valid(version)
    }

    fn compare(&self, a: &str, b: &str) -> Ordering {
        super::order_by(a, b, parse, |x, y| cmp_lists(x, y))
    }

    fn is_stable(&self, version: &str) -> bool {
        let Some(list) = parse(version) else {
            return false;
        };
        let mut found = Vec::new();
        qualifiers(&list, &mut found);
        !found.iter().any(|q| UNSTABLE_WORDS.contains(&q.as_str()))
    }

    fn is_prerelease(&self, version: &str) -> bool {
        marked_prerelease(version)
    }

    fn is_valid_requirement(&self, requirement: &str) -> bool {
        parse_req(requirement).is_some()
    }

    fn satisfies(&self, version: &str, requirement: &str) -> bool {
        if !valid(version) {
            return false;
        }
        match parse_req(requirement) {
            Some(Req::Soft(v)) => cmp_versions(version, &v).is_eq(),
            Some(Req::Ranges(intervals)) => intervals.iter().any(|i| i.contains(version)),
            Some(Req::Prefix(prefix)) => version.trim().starts_with(&prefix),
            Some(Req::Any) => true,
            None => false,
        }
    }

    fn lower_bound(&self, requirement: &str) -> Option<String> {
        match parse_req(requirement)? {
            Req::Soft(v) => Some(v),
            Req::Ranges(intervals) => {
                let lows: Option<Vec<String>> = intervals
                    .into_iter()
                    .map(|i| i.lower.filter(|(_, inclusive)| *inclusive).map(|(v, _)| v))
                    .collect();
                lows?.into_iter().min_by(|a, b| cmp_versions(a, b))
            }
            Req::Prefix(prefix) => {
                let nums = release_numbers(&prefix);
                (!nums.is_empty()).then(|| {
                    nums.iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(".")
                })
            }
            Req::Any => None,
        }
    }

    fn update_kind(&self, from: &str, to: &str) -> Option<UpdateKind> {
        if !valid(from) || !valid(to) || !cmp_versions(to, from).is_gt() {
            return None;
        }
        Some(kind_between(&release_numbers(from), &release_numbers(to)))
    }

    fn bump(&self, requirement: &str, new_version: &str) -> Option<String> {
        let new = new_version.trim();
        if !valid(new) {
            return None;
        }
        let requirement = requirement.trim();
        let result = match parse_req(requirement)? {
            Req::Soft(_) => new.to_owned(),
            Req::Any => requirement.to_owned(),
            Req::Prefix(prefix) => {
                let width = release_numbers(&prefix).len();
                let nums = release_numbers(new);
                if width == 0 || nums.len() < width {
                    return None;
                }
                let head: Vec<String> = nums.iter().take(width).map(u64::to_string).collect();
                format!("{}.+", head.join("."))
            }
            Req::Ranges(intervals) => {
                if intervals.iter().any(|i| i.contains(new)) {
                    return Some(requirement.to_owned());
                }
                let last = intervals.last()?;
                let (high, inclusive) = last.upper.as_ref()?;
                let span = last.upper_span.clone()?;
                let replacement = if *inclusive {
                    new.to_owned()
                } else {
                    let written = parse_written(high)?;
                    let release = release_numbers(new);
                    let plain = written.rest.is_empty() && self.is_stable(new);
                    let target = Target {
                        release,
                        text: new,
                        plain,
                    };
                    let style = super::BumpStyle {
                        partial_exact_is_range: false,
                        or_separator: None,
                    };
                    rewrite_version(Role::Upper, &written, &target, false, &style)?
                };
                super::splice(requirement, &[(span, replacement)])?
            }
        };
        self.satisfies(new, &result).then_some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::super::UpdateKind::{Major, Minor, Patch};
    use super::*;

    const S: Maven = Maven;

    #[test]
    fn ordering() {
        let ascending = [
            "0.9",
            "1-alpha",
            "1.0-alpha1",
            "1.0-alpha-2",
            "1.0-a10",
            "1.0-beta1",
            "1.0-M1",
            "1.0-M2",
            "1.0-rc1",
            "1.0-CR2",
            "1.0-SNAPSHOT",
            "1.0",
            "1.0-sp1",
            "1.0-android",
            "1.0-jre",
            "1-1",
            "1.0.1",
            "1.1",
            "1.2.0-beta-2",
            "1.2",
            "1.10",
            "2.0.0.RELEASE-1",
            "10.0",
            "123456789012345678901234567890",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(S.compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(S.compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        let equal = [
            ("1", "1.0"),
            ("1", "1.0.0"),
            ("1.ga", "1"),
            ("1-ga", "1"),
            ("1-0", "1"),
            ("1.final", "1"),
            ("2.0.0.RELEASE", "2.0.0"),
            ("1.0.0.Final", "1.0.0"),
            ("1-a1", "1-alpha-1"),
            ("1.0-rc1", "1.0-cr1"),
            ("1.0-beta2", "1.0-beta-2"),
            ("1.0-b2", "1.0-beta-2"),
            ("1.0-M3", "1.0-milestone-3"),
            ("1.0-SNAPSHOT", "1.0-snapshot"),
            ("1.007", "1.7"),
        ];
        for (a, b) in equal {
            assert_eq!(S.compare(a, b), Ordering::Equal, "{a} = {b}");
        }
        let more = [
            ("1-snapshot", "1", Ordering::Less),
            ("1", "1-sp", Ordering::Less),
            ("1-foo2", "1-foo10", Ordering::Less),
            ("1-sp", "1-ga", Ordering::Greater),
            ("1-sp.1", "1-ga.1", Ordering::Greater),
            ("1-1", "1.1", Ordering::Less),
            ("1.1", "1-sp", Ordering::Greater),
            ("${version}", "0", Ordering::Less),
        ];
        for (a, b, o) in more {
            assert_eq!(S.compare(a, b), o, "{a} vs {b}");
        }
    }

    #[test]
    fn validity_and_stability() {
        let cases = [
            ("1.0", true, true),
            ("1.2.3", true, true),
            ("32.1.2-jre", true, true),
            ("2.0.0.RELEASE", true, true),
            ("5.3.0.Final", true, true),
            ("1.0-sp1", true, true),
            ("1.0-SNAPSHOT", true, false),
            ("1.0-alpha1", true, false),
            ("2.0.0-M1", true, false),
            ("1.0-RC2", true, false),
            ("2.0.0-Beta1", true, false),
            ("1.9.0-dev-1234", true, false),
            ("21-ea", true, false),
            ("${project.version}", false, false),
            ("[1.0,2.0)", false, false),
            ("", false, false),
            ("latest", false, false),
        ];
        for (v, valid, stable) in cases {
            assert_eq!(S.is_valid(v), valid, "{v}");
            assert_eq!(S.is_stable(v), stable, "{v}");
        }
    }

    #[test]
    fn satisfies() {
        let cases = [
            ("1.0", "1.0", true),
            ("1.0.0", "1.0", true),
            ("1.1", "1.0", false),
            ("1.5", "[1.0,2.0)", true),
            ("1.0", "[1.0,2.0)", true),
            ("2.0", "[1.0,2.0)", false),
            ("2.0", "[1.0,2.0]", true),
            ("1.0", "(1.0,2.0)", false),
            ("0.5", "(,1.0]", true),
            ("1.0", "(,1.0]", true),
            ("1.1", "(,1.0]", false),
            ("1.2", "[1.2]", true),
            ("1.2.1", "[1.2]", false),
            ("1.5", "[1.5,)", true),
            ("99", "[1.5,)", true),
            ("1.1", "(,1.0],[1.2,)", false),
            ("1.3", "(,1.0],[1.2,)", true),
            ("0.9", "(,1.0],[1.2,)", true),
            ("1.2.7", "1.2.+", true),
            ("1.3.0", "1.2.+", false),
            ("7.0", "+", true),
            ("7.0", "latest.release", true),
            ("1.0", "[1.0", false),
            ("x", "[1.0,2.0)", false),
        ];
        for (v, r, expected) in cases {
            assert_eq!(S.satisfies(v, r), expected, "{v} in {r}");
        }
        for bad in ["[1.0", "[1.0,2.0", "(1.0)", "[a b]", "", "[,]x"] {
            assert!(!S.is_valid_requirement(bad), "{bad}");
        }
    }

    #[test]
    fn lower_bound() {
        let cases = [
            ("1.2.3", Some("1.2.3")),
            ("[1.0,2.0)", Some("1.0")),
            ("[1.2]", Some("1.2")),
            ("[1.5,)", Some("1.5")),
            ("[2.0,3.0),[1.0,1.5)", Some("1.0")),
            ("1.2.+", Some("1.2")),
            ("(,1.0]", None),
            ("(1.0,2.0)", None),
            ("+", None),
            ("${v}", None),
        ];
        for (r, expected) in cases {
            assert_eq!(S.lower_bound(r).as_deref(), expected, "{r}");
        }
    }

    #[test]
    fn update_kind() {
        let cases = [
            ("1.2.3", "2.0.0", Some(Major)),
            ("1.2.3", "1.3.0", Some(Minor)),
            ("1.2.3", "1.2.4", Some(Patch)),
            ("31.1-jre", "32.1.2-jre", Some(Major)),
            ("5.3.0.Final", "5.4.1.Final", Some(Minor)),
            ("1.0-SNAPSHOT", "1.0", Some(Patch)),
            ("1.0", "1.0-sp1", Some(Patch)),
            ("1.0", "1.0.0", None),
            ("2.0", "1.0", None),
        ];
        for (a, b, expected) in cases {
            assert_eq!(S.update_kind(a, b), expected, "{a} -> {b}");
        }
    }

    #[test]
    fn bump() {
        let cases = [
            ("1.2.3", "1.4.0", Some("1.4.0")),
            ("31.1-jre", "32.1.2-jre", Some("32.1.2-jre")),
            ("[1.2]", "1.4.0", Some("[1.4.0]")),
            ("[1.0,2.0)", "2.5.1", Some("[1.0,3.0)")),
            ("[1.0,2.0)", "1.5", Some("[1.0,2.0)")),
            ("[1.0, 2.0)", "4.1", Some("[1.0, 5.0)")),
            ("[1.0,2.0]", "2.5", Some("[1.0,2.5]")),
            ("[1.0,1.5)", "1.7.2", Some("[1.0,1.8)")),
            ("(,1.0],[1.2,1.5)", "1.7", Some("(,1.0],[1.2,1.8)")),
            ("[1.5,)", "9.0", Some("[1.5,)")),
            ("1.2.+", "1.4.5", Some("1.4.+")),
            ("+", "3.0", Some("+")),
            ("[1.0,2.0)", "0.5", None),
            ("1.0", "${x}", None),
        ];
        for (r, v, expected) in cases {
            assert_eq!(S.bump(r, v).as_deref(), expected, "bump {r} to {v}");
        }
    }

    #[test]
    fn prerelease_qualifiers() {
        for pre in [
            "1.0-SNAPSHOT",
            "2.0.0-alpha-1",
            "1.0-a1",
            "3.0.0-beta2",
            "2.0b3",
            "5.3.0-M2",
            "6.0.0.M1",
            "1.0-milestone-3",
            "1.0.0-RC1",
            "2.0.0.CR2",
            "1.9.0-Beta",
            "21-ea",
        ] {
            assert!(S.is_prerelease(pre), "{pre} is a prerelease");
        }
        for stable in [
            "1.0",
            "33.0.0-jre",
            "33.0.0-android",
            "5.6.15.Final",
            "1.0-b",
            "2.5.RELEASE",
            "1.0-GA",
            "1.0-sp1",
            "20040902.021138",
            "1.0-alpine",
            "1.0-master",
        ] {
            assert!(!S.is_prerelease(stable), "{stable} is a release");
        }
    }
}
