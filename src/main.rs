//! The `upkeep` binary: parse the command line, load configuration, run the role.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use upkeep::cli::{Cli, Command, DepsArgs, FleetCommand, RepoCommand, TeamCommand, TokenCommand};
use upkeep::cli_views;
use upkeep::config::Config;
use upkeep::repository_url::RepositoryUrl;
use upkeep::services::Services;
use upkeep::store::{Store, StoreError};
use upkeep::{scan_command, server, telemetry};

/// A failure that ends the process: configuration problems exit 2, everything else 1.
enum Failure {
    Config(String),
    Runtime(String),
    /// `scan --fail-on`: updates of the kind asked for exist (exit 3).
    UpdatesFound(String),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InvalidUrl(message) => Failure::Config(format!(
                "invalid configuration: UPKEEP_DATABASE_URL: {message}"
            )),
            other => Failure::Runtime(other.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
        Err(Failure::UpdatesFound(message)) => {
            eprintln!("{message}");
            ExitCode::from(3)
        }
    }
}

async fn open_store(config: &Config) -> Result<Store, Failure> {
    let size = upkeep::store::PoolSize {
        max: config.database_max_connections,
    };
    Store::open_sized(&config.database_url, size)
        .await
        .map_err(|e| match e {
            StoreError::InvalidUrl(_) => Failure::from(e),
            other => Failure::Runtime(format!(
                "cannot open the database at {}: {other}",
                upkeep::store::redact(&config.database_url)
            )),
        })
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Scan(args) = &cli.command {
        let outcome = scan_command::run(args, cli.config.as_deref())
            .await
            .map_err(Failure::Runtime)?;
        // A reader that goes away early (`upkeep scan . | head`) is not an error.
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = writeln!(stdout, "{}", outcome.text)
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            return Err(Failure::Runtime(format!("cannot write the scan: {e}")));
        }
        if let Some(threshold) = args
            .fail_on
            .map(upkeep_resolvers::versioning::UpdateKind::from)
            && let Some(largest) = outcome.largest_update
            && largest >= threshold
        {
            return Err(Failure::UpdatesFound(format!(
                "a {} update exists (--fail-on {})",
                largest.as_str(),
                threshold.as_str()
            )));
        }
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref()).map_err(|e| Failure::Config(e.to_string()))?;
    telemetry::init_logging(&config);
    let administrative = !matches!(
        cli.command,
        Command::Serve | Command::Worker | Command::Migrate
    );
    if administrative {
        check_database(&config, &cli, cli.command.is_read_only())?;
    }
    let store = open_store(&config).await?;
    match cli.command {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .map_err(|e| {
                    Failure::Runtime(format!("cannot listen on {}: {e}", config.listen))
                })?;
            let services = Services::from_config(&config, store.clone())
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            server::serve(services, listener, server::shutdown_signal())
                .await
                .map_err(|e| Failure::Runtime(e.to_string()))?;
        }
        Command::Worker => {
            let services = Services::from_config(&config, store.clone())
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            server::warn_if_secrets_unsealed(&services);
            let shutdown = server::shutdown_signal();
            let delivery = server::spawn_delivery(&services, &shutdown);
            let scheduler = tokio::spawn(upkeep::scheduler::run(
                store.clone(),
                server::schedule(&config),
                shutdown.clone(),
            ));
            upkeep::jobs::worker::run(
                services.clone(),
                upkeep::jobs::dispatch::JobTable::standard(),
                server::worker_settings(&config),
                shutdown,
            )
            .await;
            for task in delivery {
                let _ = task.await;
            }
            let _ = scheduler.await;
        }
        Command::Migrate => println!(
            "migrations applied to {}",
            upkeep::store::redact(&config.database_url)
        ),
        Command::Team(TeamCommand::Create { name }) => {
            let team = store.create_team(&name).await?;
            println!("created team {} (id {})", team.name, team.id);
        }
        Command::Team(TeamCommand::List) => {
            for team in store.teams().await? {
                println!("{}\t{}", team.id, team.name);
            }
        }
        Command::Token(TokenCommand::Create { team }) => {
            let team = store
                .team_by_name(&team)
                .await?
                .ok_or_else(|| Failure::Runtime(format!("no team `{team}`")))?;
            let created = store.create_token(&team).await?;
            println!("{}", created.token.expose());
            eprintln!(
                "token for team {} created; it is shown only this once",
                team.name
            );
        }
        Command::Repo(command) => repo(&config, &store, command).await?,
        Command::Deps(args) => deps(&store, args).await?,
        Command::Fleet(FleetCommand::Usages {
            package,
            ecosystem,
            below,
            locked,
        }) => {
            usages(
                &store,
                &package,
                ecosystem.as_deref(),
                below.as_deref(),
                locked.as_deref(),
            )
            .await?;
        }
        Command::Scan(_) => unreachable!("handled before configuration is loaded"),
    }
    store.close().await;
    Ok(())
}

/// Whether the database was configured (a config file naming it, or `UPKEEP_DATABASE_URL`);
/// without either the default `sqlite://upkeep.db` is relative to the working directory.
fn database_configured(cli: &Cli) -> bool {
    let file = cli
        .config
        .clone()
        .or_else(|| std::env::var_os("UPKEEP_CONFIG").map(std::path::PathBuf::from));
    let in_file = file
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
        .is_some_and(|table| table.contains_key("database_url"));
    in_file || std::env::var_os("UPKEEP_DATABASE_URL").is_some()
}

/// Before an administrative command opens the database: say which one when it was not
/// configured (one line on stderr), and refuse to create an empty SQLite database for a command
/// that only reads.
fn check_database(config: &Config, cli: &Cli, read_only: bool) -> Result<(), Failure> {
    let url = upkeep::store::DatabaseUrl::parse(&config.database_url).map_err(|e| {
        Failure::Config(format!(
            "invalid configuration: UPKEEP_DATABASE_URL: {}",
            e.0
        ))
    })?;
    let file = url
        .sqlite_file()
        .map(|path| std::path::absolute(&path).unwrap_or(path));
    if let Some(path) = &file
        && read_only
        && !path.exists()
    {
        return Err(Failure::Runtime(format!(
            "no database at {} (the service's database is named by `database_url` in its \
             configuration file, --config FILE or UPKEEP_CONFIG, or by UPKEEP_DATABASE_URL)",
            path.display()
        )));
    }
    if !database_configured(cli) {
        let name = file.map_or_else(
            || upkeep::store::redact(&config.database_url),
            |path| path.display().to_string(),
        );
        eprintln!(
            "using the database {name} (the default; set UPKEEP_DATABASE_URL or --config to use the service's)"
        );
    }
    Ok(())
}

/// The repository with this id, or a one-line error.
async fn repository(
    store: &Store,
    id: i64,
) -> Result<upkeep::store::repositories::Repository, Failure> {
    store.repository(id).await?.ok_or_else(|| {
        Failure::Runtime(format!(
            "no repository with id {id} (see `upkeep repo list`)"
        ))
    })
}

/// Every dependency of a repository, evaluated as the API lists them.
async fn all_dependencies(
    store: &Store,
    id: i64,
) -> Result<Vec<upkeep::fleet::ListedDependency>, Failure> {
    let now = chrono::Utc::now();
    let mut after = 0;
    let mut all = Vec::new();
    loop {
        let page = upkeep::fleet::dependencies(store, id, after, 500, now).await?;
        all.extend(page.items);
        match page.next {
            Some(next) => after = next,
            None => return Ok(all),
        }
    }
}

fn team_names(teams: Vec<upkeep::store::teams::Team>) -> std::collections::HashMap<i64, String> {
    teams.into_iter().map(|t| (t.id, t.name)).collect()
}

async fn deps(store: &Store, args: DepsArgs) -> Result<(), Failure> {
    repository(store, args.id).await?;
    let kind = args
        .kind
        .map(upkeep_resolvers::versioning::UpdateKind::from);
    let listed: Vec<_> = all_dependencies(store, args.id)
        .await?
        .into_iter()
        .filter(|d| {
            let update = d.evaluation.update;
            (!args.outdated || update.is_some()) && kind.is_none_or(|k| update == Some(k))
        })
        .collect();
    let text = match args.format {
        upkeep::cli::ScanFormat::Table => cli_views::dependency_table(&listed),
        upkeep::cli::ScanFormat::Json => cli_views::dependency_json(listed).to_string(),
    };
    println!("{text}");
    Ok(())
}

async fn usages(
    store: &Store,
    package: &str,
    ecosystem: Option<&str>,
    below: Option<&str>,
    locked: Option<&str>,
) -> Result<(), Failure> {
    use upkeep_resolvers::Ecosystem;
    let locked = locked
        .map(upkeep::fleet::VersionPrefix::parse)
        .transpose()
        .map_err(|problem| Failure::Runtime(format!("--locked: {problem}")))?;
    let filter = upkeep::fleet::UsageFilter {
        below,
        locked: locked.as_ref(),
    };
    let ecosystems: Vec<Ecosystem> = match ecosystem {
        Some(name) => vec![name.parse::<Ecosystem>().map_err(|_| {
            let known: Vec<&str> = Ecosystem::ALL.iter().map(|e| e.as_str()).collect();
            Failure::Runtime(format!(
                "--ecosystem: unknown ecosystem `{name}` (one of {})",
                known.join(", ")
            ))
        })?],
        None => Ecosystem::ALL.to_vec(),
    };
    let mut found = Vec::new();
    for eco in ecosystems {
        if let Some(version) = below
            && ecosystem.is_some()
            && !eco.versioning().scheme().is_valid(version)
        {
            return Err(Failure::Runtime(format!(
                "--below: `{version}` is not a {eco} version"
            )));
        }
        for repo in upkeep::fleet::package_usages(store, eco, package, &filter, None).await? {
            found.push((eco.as_str().to_owned(), repo.into()));
        }
    }
    println!("{}", cli_views::usage_table(&found));
    Ok(())
}

async fn repo(config: &Config, store: &Store, command: RepoCommand) -> Result<(), Failure> {
    let team_named = |name: String| async move {
        store
            .team_by_name(&name)
            .await?
            .ok_or_else(|| Failure::Runtime(format!("no team `{name}`")))
    };
    match command {
        RepoCommand::Add { url, team } => {
            let team = team_named(team).await?;
            let url =
                RepositoryUrl::parse(&url).map_err(|e| Failure::Runtime(format!("url: {e}")))?;
            let services = Services::from_config(config, store.clone())
                .map_err(|e| Failure::Runtime(e.to_string()))?;
            let repo = upkeep::crawler::registration::register(&services, team.id, &url)
                .await
                .map_err(|e| match e {
                    upkeep::crawler::registration::RegisterError::Store(e) => Failure::from(e),
                    refused => Failure::Runtime(format!("url: {refused}")),
                })?;
            println!(
                "registered {} (id {}, {})",
                repo.url,
                repo.id,
                repo.provider.as_str()
            );
        }
        RepoCommand::List { team } => {
            let team_id = match team {
                Some(name) => Some(team_named(name).await?.id),
                None => None,
            };
            let teams = team_names(store.teams().await?);
            let mut after = 0;
            let mut listed = Vec::new();
            loop {
                let page = store.repositories(team_id, after, 500).await?;
                for repo in page.items {
                    let team = teams.get(&repo.team_id).cloned().unwrap_or_default();
                    listed.push((repo, team));
                }
                match page.next {
                    Some(next) => after = next,
                    None => break,
                }
            }
            println!("{}", cli_views::repository_list(&listed));
        }
        RepoCommand::Show { id } => {
            let repo = repository(store, id).await?;
            let team = team_names(store.teams().await?)
                .remove(&repo.team_id)
                .unwrap_or_default();
            let crawls = store.crawls_of(id).await?;
            let manifests = store.manifests_of(id).await?;
            let dependencies = all_dependencies(store, id).await?;
            println!(
                "{}",
                cli_views::repository_show(&repo, &team, crawls.first(), &manifests, &dependencies)
            );
        }
        RepoCommand::Crawl { id } => {
            let repo = repository(store, id).await?;
            let queued = upkeep::jobs::crawl::queue_now(
                store,
                id,
                upkeep::jobs::crawl::URGENT_CRAWL_PRIORITY,
            )
            .await?;
            let how = if queued {
                "queued"
            } else {
                "already pending; moved up"
            };
            println!("crawl of {} (id {}) {how}", repo.url, repo.id);
            eprintln!("a running `upkeep serve` or `upkeep worker` on this database runs it");
        }
        RepoCommand::Remove { id } => {
            let repo = store.remove_repository(id).await?;
            println!("removed {} (id {})", repo.url, repo.id);
        }
    }
    Ok(())
}
