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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Item {
    /// Digits without leading zeros (`"0"` for zero), so numbers of any size compare.
    Int(String),
    /// A qualifier, lower-cased, `cr` written `rc`. `ga`, `final` and `release` stay as written
    /// (they rank as the release but are not null, MNG-7714).
    Str(String),
    /// Letters directly followed by digits (`rc1`, `alpha-2`, `sp1`): the qualifier (with the
    /// `a`/`b`/`m` abbreviations expanded) and its number, ordered as one item.
    Combination(String, String),
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

/// A qualifier as Maven keeps it: `cr` is `rc`; a single `a`/`b`/`m` directly followed by a
/// number is `alpha`/`beta`/`milestone`.
fn qualifier(text: &str, followed_by_digit: bool) -> String {
    match text {
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        "cr" => "rc",
        other => other,
    }
    .to_owned()
}

/// One token: a number, a qualifier, or a qualifier with its number (`rc1`, `alpha-2`).
fn parse_item(combination: bool, digits: bool, text: &str) -> Item {
    if combination {
        let joined: String = text.chars().filter(|c| *c != '-').collect();
        let split = joined
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(joined.len());
        let (letters, number) = joined.split_at(split);
        let Item::Int(number) = int_item(number) else {
            return Item::Str(qualifier(letters, false));
        };
        Item::Combination(qualifier(letters, true), number)
    } else if digits {
        int_item(text)
    } else {
        Item::Str(qualifier(text, false))
    }
}

/// `ga`, `final` or `release`: a qualifier that ranks as the release itself.
fn is_release_alias(item: &Item) -> bool {
    matches!(item, Item::Str(s) if matches!(s.as_str(), "ga" | "final" | "release"))
}

fn is_null(item: &Item) -> bool {
    match item {
        Item::Int(n) => n == "0",
        Item::Str(s) => s.is_empty(),
        Item::Combination(..) => false,
        Item::List(l) => l.is_empty(),
    }
}

/// Remove null items (`0`, empty lists) that end the list or stand before a qualifier, so
/// `2.0.0.alpha` = `2.0-alpha` = `2-alpha` while `1.0.1` ≠ `1.1` (Maven 4's normalization).
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list.get(i).is_some_and(is_release_alias) && list.get(i + 1).is_none() {
            // `ga`, `final` and `release` rank as the release: at the end of a list they say
            // nothing more than the list without them (`1.final` = `1`, also against versions
            // that differ from `1` only in a nested list); before other items they stay
            // (MNG-7714).
            list.remove(i);
            continue;
        }
        if !list.get(i).is_some_and(is_null) {
            continue;
        }
        let removable = match list.get(i + 1) {
            None | Some(Item::Str(_)) => true,
            Some(Item::List(next)) => {
                matches!(next.first(), Some(Item::Str(_) | Item::Combination(..)))
            }
            Some(_) => false,
        };
        if removable {
            list.remove(i);
        }
    }
}

/// The rank of a qualifier: the known ones in order, `ga`/`final`/`release` as the release
/// (`""`), any other after all of them, alphabetically.
fn qualifier_rank(q: &str) -> String {
    let q = match q {
        "ga" | "final" | "release" => "",
        other => other,
    };
    QUALIFIERS
        .iter()
        .position(|k| *k == q)
        .map_or_else(|| format!("{}-{q}", QUALIFIERS.len()), |i| i.to_string())
}

/// The parser's open lists: the top-level list and each nested list, innermost last.
struct Lists(Vec<Vec<Item>>);

impl Lists {
    fn current_is_empty(&self) -> bool {
        self.0.last().is_none_or(Vec::is_empty)
    }

    fn push(&mut self, item: Item) {
        if let Some(list) = self.0.last_mut() {
            list.push(item);
        }
    }

    /// Open a list nested in the current one (closed when parsing ends).
    fn nest(&mut self) {
        self.0.push(Vec::new());
    }

    fn finish(mut self) -> Vec<Item> {
        while self.0.len() > 1 {
            let mut inner = self.0.pop().unwrap_or_default();
            normalize(&mut inner);
            self.push(Item::List(inner));
        }
        let mut top = self.0.pop().unwrap_or_default();
        normalize(&mut top);
        top
    }
}

/// Parse any string into ComparableVersion items (total: every string has an order). Maven 4
/// (and 3.8.8/3.9, MNG-7644): `.X` before a qualifier opens a new list just as `-X` does, so
/// `1.0.0.RC1` < `1.0.0-RC2`; a qualifier directly followed by a number, or by `-` and a
/// number, is one item (`alpha-2` = `alpha2`).
fn items(version: &str) -> Vec<Item> {
    let version = version.trim().to_ascii_lowercase();
    let bytes = version.as_bytes();
    let mut lists = Lists(vec![Vec::new()]);
    let mut start = 0;
    let mut digits = false;
    let mut combination = false;
    let token = |from: usize, to: usize| version.get(from..to).unwrap_or_default();
    for (i, c) in version.char_indices() {
        match c {
            '.' => {
                lists.push(if i == start {
                    int_item("0")
                } else {
                    parse_item(combination, digits, token(start, i))
                });
                combination = false;
                start = i + 1;
            }
            '-' => {
                if i == start {
                    lists.push(int_item("0"));
                } else {
                    if !digits && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                        // `alpha-2` is read as `alpha2`.
                        combination = true;
                        continue;
                    }
                    lists.push(parse_item(combination, digits, token(start, i)));
                }
                start = i + 1;
                if !lists.current_is_empty() {
                    lists.nest();
                }
                combination = false;
            }
            '0'..='9' => {
                if !digits && i > start {
                    combination = true;
                    if !lists.current_is_empty() {
                        lists.nest();
                    }
                }
                digits = true;
            }
            _ => {
                if digits && i > start {
                    lists.push(parse_item(combination, true, token(start, i)));
                    start = i;
                    lists.nest();
                    combination = false;
                }
                digits = false;
            }
        }
    }
    if version.len() > start {
        // A trailing `.X` qualifier orders like `-X`.
        if !digits && !lists.current_is_empty() {
            lists.nest();
        }
        lists.push(parse_item(combination, digits, token(start, version.len())));
    }
    lists.finish()
}

fn cmp_item(a: &Item, b: Option<&Item>) -> Ordering {
    use Item::{Combination, Int, List, Str};
    let number = |digits: &String| (digits.len(), digits.clone());
    match (a, b) {
        (Int(digits), None) => {
            if digits == "0" {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        (Int(left), Some(Int(right))) => number(left).cmp(&number(right)),
        (Int(_), Some(_)) | (List(_), Some(Str(_) | Combination(..))) => Ordering::Greater,
        (Str(word), None) => qualifier_rank(word).cmp(&qualifier_rank("")),
        // A qualifier with its number against nothing: the qualifier first, then the number
        // against zero (`final1` > `final0` = `final` = the release).
        (Combination(word, digits), None) => {
            qualifier_rank(word)
                .cmp(&qualifier_rank(""))
                .then(if digits == "0" {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                })
        }
        (Str(left), Some(Str(right))) => qualifier_rank(left).cmp(&qualifier_rank(right)),
        // `rc` < `rc1`: a qualifier with a number sorts after the bare qualifier.
        (Str(left), Some(Combination(right, _))) => qualifier_rank(left)
            .cmp(&qualifier_rank(right))
            .then(Ordering::Less),
        (Combination(left, _), Some(Str(right))) => qualifier_rank(left)
            .cmp(&qualifier_rank(right))
            .then(Ordering::Greater),
        (Combination(left, left_number), Some(Combination(right, right_number))) => {
            qualifier_rank(left)
                .cmp(&qualifier_rank(right))
                .then_with(|| number(left_number).cmp(&number(right_number)))
        }
        (Str(_) | Combination(..) | List(_), Some(Int(_)))
        | (Str(_) | Combination(..), Some(List(_))) => Ordering::Less,
        (List(items), None) => items
            .iter()
            .map(|i| cmp_item(i, None))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal),
        (List(left), Some(List(right))) => cmp_lists(left, right),
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

/// A release-train version (Spring Cloud's `Hoxton.SR1`, `Greenwich.RELEASE`, `Hoxton.M2`,
/// `Hoxton.RC1`): the train's name, then its service release. Trains order by their own
/// convention: by name alphabetically, then M<n> < RC<n> < RELEASE < SR1 < SR2 < ...
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Train {
    /// Lower-cased train name.
    name: String,
    /// (0 milestone, 1 release candidate, 2 release, 3 service release; its number).
    service: (u8, u64),
}

/// The parts of a train-shaped version (`Name.Service`): a name of letters, a service text.
fn train_parts(version: &str) -> Option<(&str, &str)> {
    let (name, service) = version.trim().split_once('.')?;
    (name.len() >= 2 && name.chars().all(|c| c.is_ascii_alphabetic())).then_some((name, service))
}

fn train(version: &str) -> Option<Train> {
    let (name, service) = train_parts(version)?;
    let upper = service.to_ascii_uppercase();
    let numbered = |prefix: &str| -> Option<u64> {
        let digits = upper.strip_prefix(prefix)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let service = if upper == "RELEASE" {
        (2, 0)
    } else if let Some(n) = numbered("SR") {
        (3, n)
    } else if let Some(n) = numbered("RC") {
        (1, n)
    } else if let Some(n) = numbered("M") {
        (0, n)
    } else {
        return None;
    };
    Some(Train {
        name: name.to_ascii_lowercase(),
        service,
    })
}

/// Why `version` is no Maven version this scheme can order, or `None` when it is one
/// (`Hoxton.BUILD-SNAPSHOT`: a train snapshot has no place in the train's order).
pub fn version_error(version: &str) -> Option<String> {
    let v = version.trim();
    if valid(v) {
        return None;
    }
    if let Some(why) = train_error(v) {
        return Some(why);
    }
    Some(format!(
        "`{v}` is not a Maven version: it starts with a digit (or is a release train such as \
         `Hoxton.SR1`) and holds only letters, digits and `. - _ +`"
    ))
}

/// Why a version shaped like a release train (`Name.Service`) is none this scheme can order
/// (`Hoxton.BUILD-SNAPSHOT`), or `None` (a train it orders, or not train-shaped at all).
pub fn train_error(version: &str) -> Option<String> {
    let v = version.trim();
    let (name, service) = train_parts(v)?;
    train(v).is_none().then(|| {
        format!(
            "`{v}` looks like release train `{name}`, but `{service}` is none of its service \
             releases M<n>, RC<n>, RELEASE, SR<n>, so it cannot be ordered"
        )
    })
}

fn valid(version: &str) -> bool {
    let version = version.trim();
    (version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+')))
        || train(version).is_some()
}

/// What a valid version is ordered by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// A release train: ordered by its own convention, below every numbered version (Spring
    /// Cloud moved from `Hoxton.SR12` to `2020.0.0`; Maven's own order agrees).
    Train(Train),
    Items(Vec<Item>),
}

fn key(version: &str) -> Key {
    train(version).map_or_else(|| Key::Items(items(version)), Key::Train)
}

fn cmp_keys(a: &Key, b: &Key) -> Ordering {
    match (a, b) {
        (Key::Train(x), Key::Train(y)) => x.cmp(y),
        (Key::Train(_), Key::Items(_)) => Ordering::Less,
        (Key::Items(_), Key::Train(_)) => Ordering::Greater,
        (Key::Items(x), Key::Items(y)) => cmp_lists(x, y),
    }
}

fn parse(version: &str) -> Option<Key> {
    valid(version).then(|| key(version))
}

fn cmp_versions(a: &str, b: &str) -> Ordering {
    cmp_keys(&key(a), &key(b))
}

fn qualifiers(list: &[Item], out: &mut Vec<String>) {
    for item in list {
        match item {
            Item::Str(s) | Item::Combination(s, _) => out.push(s.clone()),
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

/// Why Maven would reject the version range `requirement` (`[1.1,1.0]`, `(1.0,1.0)`,
/// `[1.0,1.2),(1.1,1.3]`, `[1.0,,2.0]`, ...), or `None` when it is a well-formed range or no
/// range at all (a soft version, a Gradle dynamic version). Maven's `VersionRange` rules: a
/// bound below its lower bound defies version ordering, identical bounds must both be
/// inclusive, a single version is written `[v]`, and the ranges of a union neither overlap
/// nor come out of order.
pub fn range_error(requirement: &str) -> Option<String> {
    let r = requirement.trim();
    if !r.starts_with(['[', '(']) {
        return None;
    }
    parse_ranges(r).err()
}

/// Skip whitespace from `pos`; the new position and the rest.
fn skip_ws(text: &str, pos: usize) -> (usize, &str) {
    let rest = text.get(pos..).unwrap_or_default();
    let trimmed = rest.trim_start();
    (pos + rest.len() - trimmed.len(), trimmed)
}

fn parse_ranges(text: &str) -> Result<Vec<Interval>, String> {
    let mut out: Vec<Interval> = Vec::new();
    let mut pos = 0;
    loop {
        let (at, mut rest) = skip_ws(text, pos);
        pos = at;
        if rest.starts_with(',') {
            if out.is_empty() {
                return Err(format!("`{text}` starts with a comma"));
            }
            (pos, rest) = skip_ws(text, pos + 1);
            if rest.starts_with(',') {
                return Err(format!("`{text}` has two commas in a row between ranges"));
            }
        }
        let Some(open) = rest.chars().next() else {
            break;
        };
        if open != '[' && open != '(' {
            return Err(format!(
                "`{text}`: `{rest}` is not a range (a range starts with `[` or `(`)"
            ));
        }
        let Some(close_at) = rest.find([']', ')']) else {
            return Err(format!("`{text}`: `{rest}` is not closed with `]` or `)`"));
        };
        let written = rest.get(..=close_at).unwrap_or(rest);
        let close = rest.get(close_at..).and_then(|t| t.chars().next());
        let inner_start = pos + 1;
        let inner = text.get(inner_start..pos + close_at).unwrap_or_default();
        if inner.contains(['[', '(']) {
            return Err(format!(
                "`{text}`: `{written}` is not closed before the next range"
            ));
        }
        if inner.matches(',').count() > 1 {
            return Err(format!("`{text}`: `{written}` has more than one comma"));
        }
        let bound = |s: &str| -> Result<Option<String>, String> {
            let s = s.trim();
            if s.is_empty() {
                Ok(None)
            } else if valid(s) {
                Ok(Some(s.to_owned()))
            } else {
                Err(format!("`{text}`: `{s}` is not a version"))
            }
        };
        let interval = match inner.split_once(',') {
            None => {
                let Some(v) = bound(inner)? else {
                    return Err(format!("`{text}`: `{written}` holds no version"));
                };
                if open != '[' || close != Some(']') {
                    return Err(format!(
                        "`{text}`: a single version is written `[{v}]`, not `{written}`"
                    ));
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
                    upper: upper.map(|v| (v, close == Some(']'))),
                }
            }
        };
        if let (Some((low, low_inclusive)), Some((high, high_inclusive))) =
            (&interval.lower, &interval.upper)
        {
            match cmp_versions(low, high) {
                Ordering::Greater => {
                    return Err(format!(
                        "`{text}`: `{written}` defies version ordering ({low} is above {high})"
                    ));
                }
                Ordering::Equal if !(*low_inclusive && *high_inclusive) => {
                    return Err(format!(
                        "`{text}`: `{written}` is empty (identical bounds must both be inclusive)"
                    ));
                }
                _ => {}
            }
        }
        if let Some(previous) = out.last() {
            let overlaps = match (&previous.upper, &interval.lower) {
                (Some((high, _)), Some((low, _))) => cmp_versions(low, high).is_lt(),
                _ => true,
            };
            if overlaps {
                return Err(format!(
                    "`{text}`: the ranges overlap or are out of order at `{written}`"
                ));
            }
        }
        out.push(interval);
        pos += close_at + 1;
    }
    if out.is_empty() {
        return Err(format!("`{text}` holds no range"));
    }
    Ok(out)
}

fn parse_req(requirement: &str) -> Option<Req> {
    let r = requirement.trim();
    if r == "+" || r == "latest.release" || r == "latest.integration" {
        return Some(Req::Any);
    }
    if r.starts_with(['[', '(']) {
        return parse_ranges(r).ok().map(Req::Ranges);
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
        super::order_by(a, b, parse, cmp_keys)
    }

    fn is_stable(&self, version: &str) -> bool {
        let list = match parse(version) {
            None => return false,
            Some(Key::Train(train)) => return train.service.0 >= 2,
            Some(Key::Items(list)) => list,
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
        // A new train is a major update, a service release of the same train a patch; leaving
        // trains for numbered versions (Hoxton.SR12 -> 2020.0.0) is major.
        match (train(from), train(to)) {
            (Some(f), Some(t)) if f.name == t.name => return Some(UpdateKind::Patch),
            (Some(_), _) => return Some(UpdateKind::Major),
            _ => {}
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
        // `final`, `ga` and `release` rank as the release, and ending a version they normalize
        // away: `1.final` sorts exactly where `1` does, also against a version below `1` only
        // through a nested list (found by the ordering-law property test: with `1-0.alpha` <
        // `1` = `1.final`, `1.final` < `1-0.alpha` was said).
        // A release alias with a number compares its number against nothing: `0.final0` = `0`
        // < `0.final1` (found by the same property test).
        assert_eq!(S.compare("0.final0", "0"), Ordering::Equal);
        assert_eq!(S.compare("0.final1", "0"), Ordering::Greater);
        assert_eq!(S.compare("0.final0", "0.final1"), Ordering::Less);
        for release in ["1", "1.final", "1-ga", "1.release"] {
            assert_eq!(S.compare("1-0.alpha", release), Ordering::Less, "{release}");
            assert_eq!(
                S.compare(release, "1-0.alpha"),
                Ordering::Greater,
                "{release}"
            );
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

    /// MNG-7644 (Maven 3.8.8, 3.9 and 4): a `.X` qualifier orders like `-X` for any string `X`,
    /// so `1.0.0.X1` < `1.0.0-X2` and `2-X` = `2.0.X` = `2.0.0.X`; and a qualifier still sorts
    /// below a number after a hyphen (`2.0.X` < `2-1`).
    #[test]
    fn mng_7644_dot_qualifiers_order_like_hyphen_qualifiers() {
        for x in [
            "abc",
            "alpha",
            "a",
            "beta",
            "b",
            "def",
            "milestone",
            "m",
            "RC",
            "rc",
            "cr",
            "sp",
            "foo",
            "snapshot",
            "ga",
            "final",
        ] {
            let dotted = format!("1.0.0.{x}1");
            let hyphen = format!("1.0.0-{x}2");
            assert_eq!(
                S.compare(&dotted, &hyphen),
                Ordering::Less,
                "{dotted} < {hyphen}"
            );
            assert_eq!(
                S.compare(&hyphen, &dotted),
                Ordering::Greater,
                "{hyphen} > {dotted}"
            );
            let forms = [format!("2-{x}"), format!("2.0.{x}"), format!("2.0.0.{x}")];
            for a in &forms {
                for b in &forms {
                    assert_eq!(S.compare(a, b), Ordering::Equal, "{a} = {b}");
                }
                assert_eq!(S.compare(a, "2-1"), Ordering::Less, "{a} < 2-1");
                assert_eq!(S.compare(a, "2.0.1"), Ordering::Less, "{a} < 2.0.1");
            }
        }
        let cases = [
            ("1.0.0.RC1", "1.0.0-RC2", Ordering::Less),
            ("1.0.RC2", "1.0-RC3", Ordering::Less),
            ("1.0-RC3", "1.0.1", Ordering::Less),
            ("2.0.a", "2-1", Ordering::Less),
            ("1.foo", "1-foo", Ordering::Equal),
            ("1.foo", "1.0.foo", Ordering::Equal),
            ("2-alpha", "2.0.alpha", Ordering::Equal),
            ("2-alpha", "2.0.0.alpha", Ordering::Equal),
            ("1.0.0.alpha1", "1.0.0-alpha1", Ordering::Equal),
            ("1.0.0.beta", "1.0.0", Ordering::Less),
            ("1.0.0.sp", "1.0.0", Ordering::Greater),
            ("1.0.0.foo", "1.0.0", Ordering::Greater),
            ("1.0.0.foo", "1.0.0.1", Ordering::Less),
            ("1.2.3.RELEASE", "1.2.3", Ordering::Equal),
            ("1.2.3.Final", "1.2.3-GA", Ordering::Equal),
        ];
        for (a, b, o) in cases {
            assert_eq!(S.compare(a, b), o, "{a} vs {b}");
            assert_eq!(S.compare(b, a), o.reverse(), "{b} vs {a}");
        }
    }

    /// MNG-7714: `final`, `ga` and `release` rank as the release but are not dropped as null
    /// items, so a service pack of the same release still sorts above it.
    #[test]
    fn mng_7714_final_below_service_pack() {
        for sp in ["1.0-sp1-redhat", "1.0-sp-1-redhat", "1.0-sp.1-redhat"] {
            assert_eq!(S.compare("1.0.final-redhat", sp), Ordering::Less, "{sp}");
            assert_eq!(S.compare(sp, "1.0.final-redhat"), Ordering::Greater, "{sp}");
        }
        assert_eq!(S.compare("1.0.final", "1.0-sp1"), Ordering::Less);
        assert_eq!(S.compare("1.0.ga", "1.0"), Ordering::Equal);
    }

    /// Maven's ComparableVersion spec ("Version Order Specification" in the POM reference):
    /// qualifier order alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release
    /// < sp; `a1`, `b1`, `m1` abbreviate alpha-1, beta-1, milestone-1; a qualifier with a
    /// number sorts after the bare qualifier; `-` before a number after letters joins them.
    #[test]
    fn comparable_version_spec_table() {
        let ascending = [
            "1-alpha",
            "1-alpha1",
            "1-alpha2",
            "1-alpha10",
            "1-beta",
            "1-b2",
            "1-milestone1",
            "1-rc",
            "1-cr1",
            "1-rc2",
            "1-snapshot",
            "1",
            "1-sp",
            "1-sp1",
            "1-sp2",
            "1-abc",
            "1-xyz",
            "1-0.1",
            "1-1",
            "1.0.0.1",
            "1.0.1",
            "1.1-alpha",
            "1.1",
            "1.1.1",
            "2",
        ];
        for (i, a) in ascending.iter().enumerate() {
            for b in ascending.iter().skip(i + 1) {
                assert_eq!(S.compare(a, b), Ordering::Less, "{a} < {b}");
                assert_eq!(S.compare(b, a), Ordering::Greater, "{b} > {a}");
            }
        }
        let equal = [
            ["1", "1.0.0"],
            ["1-alpha-1", "1-a1"],
            ["1-alpha1", "1.0-alpha-1"],
            ["1.0-beta-2", "1.0-b2"],
            ["1-m3", "1-milestone3"],
            ["1-cr1", "1-rc-1"],
            ["1-final", "1"],
            ["1-ga", "1.0.0"],
            ["1-release", "1-GA"],
            ["1.0-SNAPSHOT", "1-snapshot"],
            ["1.0.0-Alpha", "1-ALPHA"],
            ["1.010", "1.10"],
        ];
        for [a, b] in equal {
            assert_eq!(S.compare(a, b), Ordering::Equal, "{a} = {b}");
            assert_eq!(S.compare(b, a), Ordering::Equal, "{b} = {a}");
        }
    }

    /// Release trains (Spring Cloud): ordered by train name, then M<n> < RC<n> < RELEASE <
    /// SR<n>; below numbered versions; a new train is major, a service release a patch.
    #[test]
    fn release_trains() {
        let ascending = [
            "Finchley.M9",
            "Finchley.RC2",
            "Finchley.RELEASE",
            "Finchley.SR4",
            "Greenwich.M1",
            "Greenwich.RELEASE",
            "Greenwich.SR6",
            "Hoxton.M2",
            "Hoxton.RC1",
            "Hoxton.RC2",
            "Hoxton.RELEASE",
            "Hoxton.SR1",
            "Hoxton.SR9",
            "Hoxton.SR10",
            "0.alpha",
            "0",
            "2020.0.0-M1",
            "2020.0.0",
        ];
        for (i, a) in ascending.iter().enumerate() {
            for b in ascending.iter().skip(i + 1) {
                assert_eq!(S.compare(a, b), Ordering::Less, "{a} < {b}");
                assert_eq!(S.compare(b, a), Ordering::Greater, "{b} > {a}");
            }
        }
        assert_eq!(S.compare("Hoxton.SR1", "hoxton.sr1"), Ordering::Equal);
        for (v, stable) in [
            ("Hoxton.SR1", true),
            ("Greenwich.RELEASE", true),
            ("Hoxton.M2", false),
            ("Hoxton.RC1", false),
        ] {
            assert!(S.is_valid(v), "{v}");
            assert_eq!(S.is_stable(v), stable, "{v}");
        }
        let kinds = [
            ("Hoxton.SR1", "Hoxton.SR2", Some(Patch)),
            ("Hoxton.RELEASE", "Hoxton.SR1", Some(Patch)),
            ("Greenwich.SR6", "Hoxton.SR1", Some(Major)),
            ("Hoxton.SR12", "2020.0.0", Some(Major)),
            ("Hoxton.SR2", "Hoxton.SR1", None),
            ("2020.0.0", "Hoxton.SR1", None),
        ];
        for (a, b, kind) in kinds {
            assert_eq!(S.update_kind(a, b), kind, "{a} -> {b}");
        }
        assert!(S.satisfies("Hoxton.SR3", "[Hoxton.SR1,Hoxton.SR5)"));
        assert!(!S.satisfies("Ilford.M1", "[Hoxton.SR1,Hoxton.SR5)"));
        assert_eq!(
            S.bump("Hoxton.SR1", "Hoxton.SR3").as_deref(),
            Some("Hoxton.SR3")
        );
        for bad in ["Hoxton.BUILD-SNAPSHOT", "Hoxton.SR", "Hoxton.SRx"] {
            assert!(!S.is_valid(bad), "{bad}");
            let why = version_error(bad).unwrap_or_default();
            assert!(why.contains("cannot be ordered"), "{bad}: {why}");
        }
        assert_eq!(version_error("Hoxton.SR1"), None);
        assert!(version_error("latest").is_some_and(|why| why.contains("starts with a digit")));
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

    /// Maven's `VersionRange.createFromVersionSpec` rejects these ("Range defies version
    /// ordering", "Range cannot have identical boundaries", "Ranges overlap", "Single version
    /// must be surrounded by []", "Invalid version range"); so do we, with the reason.
    #[test]
    fn ranges_maven_rejects() {
        let rejected = [
            ("[1.1,1.0]", "defies version ordering"),
            ("(2.0,1.0)", "defies version ordering"),
            ("[1.0.1,1.0]", "defies version ordering"),
            ("(1.0,1.0)", "is empty"),
            ("[1.0,1.0)", "is empty"),
            ("(1.0,1.0]", "is empty"),
            ("[1.0,1.2),(1.1,1.3]", "overlap or are out of order"),
            ("[1.2,1.3],[1.0,1.1]", "overlap or are out of order"),
            ("[1.0,),[2.0,3.0)", "overlap or are out of order"),
            ("[1.0,2.0),(,3.0]", "overlap or are out of order"),
            ("[1.0,,2.0]", "more than one comma"),
            ("[1.0,2.0),,[3.0,4.0)", "two commas in a row"),
            ("(1.0)", "single version is written `[1.0]`"),
            ("[1.0,2.0", "not closed"),
            ("[1.0,2.0]x", "is not a range"),
            ("[a b,2.0]", "is not a version"),
            ("[]", "holds no version"),
        ];
        for (range, why) in rejected {
            let error = range_error(range);
            assert!(
                error.as_deref().is_some_and(|e| e.contains(why)),
                "{range}: {error:?} should say {why:?}"
            );
            assert!(!S.is_valid_requirement(range), "{range}");
            assert!(!S.satisfies("1.0", range), "{range}");
        }
        for accepted in [
            "[1.0]",
            "[1.0,1.0]",
            "[1.0,2.0)",
            "(,1.0],[1.2,)",
            "[1.0,1.2),[1.2,1.3]",
            "[1.0,1.2],[1.2,1.3]",
            "[1.0,2.0)[3.0,4.0)",
            "[1.0,2.0),",
            "[ 1.0 , 2.0 )",
            "(,)",
            "1.0",
            "1.2.+",
        ] {
            assert_eq!(range_error(accepted), None, "{accepted}");
            assert!(S.is_valid_requirement(accepted), "{accepted}");
        }
    }

    #[test]
    fn lower_bound() {
        let cases = [
            ("1.2.3", Some("1.2.3")),
            ("[1.0,2.0)", Some("1.0")),
            ("[1.2]", Some("1.2")),
            ("[1.5,)", Some("1.5")),
            ("[1.0,1.5),[2.0,3.0)", Some("1.0")),
            ("[2.0,3.0),[1.0,1.5)", None),
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
