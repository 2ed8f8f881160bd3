//! The `upkeep` binary: parse the command line, load configuration, run the role.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use upkeep::cli::{Cli, Command, RepoCommand, TeamCommand, TokenCommand};
use upkeep::config::Config;
use upkeep::repository_url::RepositoryUrl;
use upkeep::services::Services;
use upkeep::store::{Store, StoreError};
use upkeep::{scan_command, server, telemetry};

/// A failure that ends the process: configuration problems exit 2, everything else 1.
enum Failure {
    Config(String),
    Runtime(String),
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
        let text = scan_command::run(args, cli.config.as_deref())
            .await
            .map_err(Failure::Runtime)?;
        // A reader that goes away early (`upkeep scan . | head`) is not an error.
        let mut stdout = std::io::stdout().lock();
        return match writeln!(stdout, "{text}") {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(Failure::Runtime(format!("cannot write the scan: {e}")))
            }
            _ => Ok(()),
        };
    }
    let config = Config::load(cli.config.as_deref()).map_err(|e| Failure::Config(e.to_string()))?;
    telemetry::init_logging(&config);
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
        Command::Scan(_) => unreachable!("handled before configuration is loaded"),
    }
    store.close().await;
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
            let mut after = 0;
            loop {
                let page = store.repositories(team_id, after, 500).await?;
                for repo in &page.items {
                    println!("{}\t{}\t{}", repo.id, repo.provider.as_str(), repo.url);
                }
                match page.next {
                    Some(next) => after = next,
                    None => break,
                }
            }
        }
        RepoCommand::Remove { id } => {
            let repo = store.remove_repository(id).await?;
            println!("removed {} (id {})", repo.url, repo.id);
        }
    }
    Ok(())
}
