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
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Directory to scan.
    pub path: PathBuf,
    /// Do not contact any registry: list dependencies only.
    #[arg(long)]
    pub offline: bool,
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
