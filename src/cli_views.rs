//! What the administrative commands print: aligned tables with a header, and the JSON forms
//! (the API's shapes, so a script reads the same fields from either). Rendering only; the
//! commands in `main.rs` fetch what they show.

use chrono::{DateTime, Utc};

use crate::api::fleet::{DependencyItem, RepositoryUsage};
use crate::fleet::ListedDependency;
use crate::store::inventory::{CrawlRecord, StoredManifest};
use crate::store::repositories::Repository;

/// `rows` under `headers`, each column as wide as its widest cell, two spaces apart.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            if i + 1 < widths.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.trim_end().to_owned()
    };
    let mut lines = vec![line(&mut headers.iter().copied())];
    for row in rows {
        lines.push(line(&mut row.iter().map(String::as_str)));
    }
    lines.join("\n")
}

/// A time as `2026-12-06 02:15 UTC`.
fn when(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "never".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

/// `count` and `word`, plural (`word` + "s") unless one: "1 warning", "2 warnings".
pub fn counted(count: usize, word: &str) -> String {
    counted_as(count, word, &format!("{word}s"))
}

/// `count` and `singular`, or `plural` unless one.
pub fn counted_as(count: usize, singular: &str, plural: &str) -> String {
    if count == 1 {
        format!("1 {singular}")
    } else {
        format!("{count} {plural}")
    }
}

/// `repo list`: one line per repository with its team and last crawl.
pub fn repository_list(repositories: &[(Repository, String)]) -> String {
    if repositories.is_empty() {
        return "no repositories registered (add one with `upkeep repo add URL --team TEAM`)"
            .to_owned();
    }
    let rows: Vec<Vec<String>> = repositories
        .iter()
        .map(|(repo, team)| {
            vec![
                repo.id.to_string(),
                team.clone(),
                repo.provider.as_str().to_owned(),
                when(repo.last_crawled_at),
                repo.url.clone(),
            ]
        })
        .collect();
    table(&["ID", "TEAM", "PROVIDER", "LAST CRAWL", "URL"], &rows)
}

/// `repo show`: the repository, its last crawl, the warnings the crawl left on its manifests and
/// counts of its dependencies.
pub fn repository_show(
    repo: &Repository,
    team: &str,
    last_crawl: Option<&CrawlRecord>,
    manifests: &[StoredManifest],
    dependencies: &[ListedDependency],
) -> String {
    let mut lines = vec![
        format!("repository {} (id {})", repo.full_name, repo.id),
        format!("  url:         {}", repo.url),
        format!("  provider:    {}", repo.provider.as_str()),
        format!("  team:        {team}"),
        format!("  registered:  {}", when(Some(repo.created_at))),
        format!("  last crawl:  {}", when(repo.last_crawled_at)),
    ];
    match last_crawl {
        None => lines.push("  crawl:       none yet".to_owned()),
        Some(crawl) => {
            let commit = crawl
                .commit_sha
                .as_deref()
                .map_or_else(|| "-".to_owned(), |c| c.chars().take(12).collect());
            lines.push(format!(
                "  crawl:       {} at commit {commit}, {} read",
                crawl.status,
                counted(
                    usize::try_from(crawl.manifests_read).unwrap_or(0),
                    "manifest"
                )
            ));
            if let Some(error) = &crawl.error {
                lines.push(format!("  crawl error: {error}"));
            }
        }
    }
    let warnings: Vec<String> = manifests
        .iter()
        .flat_map(|m| {
            manifest_warnings(&m.warnings)
                .into_iter()
                .map(move |w| format!("    {}: {w}", m.path))
        })
        .collect();
    let outdated = dependencies
        .iter()
        .filter(|d| d.evaluation.update.is_some())
        .count();
    let recommended = dependencies
        .iter()
        .filter(|d| !d.recommendations.is_empty())
        .count();
    lines.push(format!(
        "  manifests:   {}, {}",
        manifests.len(),
        counted_as(dependencies.len(), "dependency", "dependencies")
    ));
    lines.push(format!(
        "  outdated:    {outdated}, with a recommendation: {recommended}"
    ));
    lines.push(format!("  warnings:    {}", warnings.len()));
    lines.extend(warnings);
    lines.join("\n")
}

/// The messages of a manifest's stored warnings (a JSON array of `{line, message}`).
fn manifest_warnings(json: &str) -> Vec<String> {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str(json) else {
        return Vec::new();
    };
    items
        .iter()
        .map(|w| {
            let message = w["message"].as_str().unwrap_or("(no message)");
            match w["line"].as_u64() {
                Some(line) => format!("line {line}: {message}"),
                None => message.to_owned(),
            }
        })
        .collect()
}

/// The `RECOMMENDED` cell: the first recommendation with its kind, then the newer release the
/// declared runtime holds back (`4.2.20 (patch); 6.1.3 needs Python >=3.12 (declared: Python 3.8)`).
fn recommended_cell(listed: &ListedDependency) -> String {
    let recommended = listed.recommendations.first().map_or_else(
        || "-".to_owned(),
        |r| format!("{} ({})", r.target_version, r.kind),
    );
    match &listed.blocked_by_runtime {
        Some(block) => format!("{recommended}; {block}"),
        None => recommended,
    }
}

/// `deps`: one line per dependency.
pub fn dependency_table(dependencies: &[ListedDependency]) -> String {
    if dependencies.is_empty() {
        return "no dependencies match".to_owned();
    }
    let rows: Vec<Vec<String>> = dependencies
        .iter()
        .map(|listed| {
            let d = &listed.dependency;
            let e = &listed.evaluation;
            vec![
                d.manifest.clone(),
                d.ecosystem.as_str().to_owned(),
                d.name.clone(),
                or_dash(d.requirement.as_deref()),
                or_dash(e.current.as_deref()),
                or_dash(e.latest.as_deref()),
                e.update
                    .map_or_else(|| "-".to_owned(), |k| k.as_str().to_owned()),
                recommended_cell(listed),
            ]
        })
        .collect();
    table(
        &[
            "MANIFEST",
            "ECOSYSTEM",
            "NAME",
            "REQUIREMENT",
            "CURRENT",
            "LATEST",
            "UPDATE",
            "RECOMMENDED",
        ],
        &rows,
    )
}

/// `deps --format json`: `{"items": [...]}` with the API's dependency items.
pub fn dependency_json(dependencies: Vec<ListedDependency>) -> serde_json::Value {
    let items: Vec<DependencyItem> = dependencies.into_iter().map(Into::into).collect();
    serde_json::json!({ "items": items })
}

/// `fleet usages`: one line per use, by ecosystem and repository.
pub fn usage_table(found: &[(String, RepositoryUsage)]) -> String {
    let rows: Vec<Vec<String>> = found
        .iter()
        .flat_map(|(ecosystem, repo)| {
            repo.usages.iter().map(move |u| {
                vec![
                    repo.repository_id.to_string(),
                    repo.full_name.clone(),
                    ecosystem.clone(),
                    u.manifest.clone(),
                    or_dash(u.requirement.as_deref()),
                    or_dash(u.version.as_deref()),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        return "no repository uses this package".to_owned();
    }
    table(
        &[
            "ID",
            "REPOSITORY",
            "ECOSYSTEM",
            "MANIFEST",
            "REQUIREMENT",
            "VERSION",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_under_the_header() {
        let text = table(
            &["ID", "NAME"],
            &[
                vec!["1".into(), "django".into()],
                vec!["100".into(), "rand".into()],
            ],
        );
        assert_eq!(text, "ID   NAME\n1    django\n100  rand");
    }

    #[test]
    fn one_is_singular() {
        assert_eq!(counted(1, "warning"), "1 warning");
        assert_eq!(counted(0, "warning"), "0 warnings");
        assert_eq!(counted(2, "warning"), "2 warnings");
    }
}
