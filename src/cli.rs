//! The command line: one binary, role subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "upkeep", version, about = "Keeps every registered repository's dependencies current.", long_about = None)]
pub struct Cli {
    /// TOML configuration file (also `UPKEEP_CONFIG`); environment variables `UPKEEP_*` override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API and job workers in one process (migrates the database first).
    Serve,
    /// Run job workers only; start several to scale out on PostgreSQL.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Scan a directory for manifests and print every dependency.
    Scan(ScanArgs),
    /// Manage teams.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage registered repositories.
    #[command(subcommand)]
    Repo(RepoCommand),
    /// A repository's dependencies with their latest and recommended versions.
    Deps(DepsArgs),
    /// Questions across every registered repository.
    #[command(subcommand)]
    Fleet(FleetCommand),
}

impl Command {
    /// Whether the command only reads the database: it never creates one.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Command::Team(TeamCommand::List)
                | Command::Repo(RepoCommand::List { .. } | RepoCommand::Show { .. })
                | Command::Deps(_)
                | Command::Fleet(_)
        )
    }
}

#[derive(Debug, Args)]
pub struct DepsArgs {
    /// Repository id (see `upkeep repo list`).
    pub id: i64,
    /// Only dependencies with a newer release than the version in use.
    #[arg(long)]
    pub outdated: bool,
    /// Only dependencies whose update to the latest release is of this kind (implies --outdated).
    #[arg(long, value_enum)]
    pub kind: Option<UpdateKindArg>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,
}

/// The size of an update, for filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UpdateKindArg {
    Patch,
    Minor,
    Major,
}

impl From<UpdateKindArg> for upkeep_resolvers::versioning::UpdateKind {
    fn from(kind: UpdateKindArg) -> Self {
        match kind {
            UpdateKindArg::Patch => upkeep_resolvers::versioning::UpdateKind::Patch,
            UpdateKindArg::Minor => upkeep_resolvers::versioning::UpdateKind::Minor,
            UpdateKindArg::Major => upkeep_resolvers::versioning::UpdateKind::Major,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Which repositories use a package, at which versions, in which manifests.
    Usages {
        /// The package name (`django`, `@types/node`, `org.slf4j:slf4j-api`).
        package: String,
        /// Only this ecosystem (cargo, npm, pypi, maven, go, docker, github-actions, toolchain);
        /// default: every ecosystem with a package of that name.
        #[arg(long)]
        ecosystem: Option<String>,
        /// Only uses whose version in use is below this version.
        #[arg(long, value_name = "VERSION")]
        below: Option<String>,
        /// Only uses whose locked version lies under this prefix (`0.9` matches 0.9.0 and
        /// 0.9.2, not 0.90.1), lockfile-only transitive pins included.
        #[arg(long, value_name = "PREFIX")]
        locked: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Directory to scan, or one manifest or lockfile (with the lockfiles beside it).
    pub path: PathBuf,
    /// Do not contact any registry: list dependencies only.
    #[arg(long)]
    pub offline: bool,
    /// Exit with status 3 when an update of this kind or larger exists (for CI).
    #[arg(long, value_enum, value_name = "KIND", conflicts_with = "offline")]
    pub fail_on: Option<UpdateKindArg>,
    /// Only dependencies a manifest names: hide the transitive entries only a lockfile lists.
    #[arg(long)]
    pub direct: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,
    /// Also scan folders skipped by default (node_modules, vendor, fixtures, ...), by name.
    #[arg(long = "include-dir", value_name = "NAME")]
    pub include_dirs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// A readable table grouped by manifest.
    Table,
    /// One JSON object.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create a team.
    Create {
        /// Team name: letters, digits, `-`, `_`, `.`.
        name: String,
    },
    /// List teams.
    List,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a team and print it once.
    Create {
        /// The team the token acts for.
        #[arg(long)]
        team: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Register a repository: a GitHub URL, another git URL, or an absolute local path.
    Add {
        url: String,
        /// The owning team.
        #[arg(long)]
        team: String,
    },
    /// List registered repositories.
    List {
        /// Only this team's repositories.
        #[arg(long)]
        team: Option<String>,
    },
    /// Show a repository: its last crawl, warnings and dependency counts.
    Show { id: i64 },
    /// Queue a crawl of a repository now (a running `serve` or `worker` runs it).
    Crawl { id: i64 },
    /// Remove a repository by id.
    Remove { id: i64 },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        super::Cli::command().debug_assert();
    }
}
