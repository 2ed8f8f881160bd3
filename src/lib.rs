//! upkeep: keeps every registered repository's dependencies current.
//!
//! This crate is the service: configuration, the store (SQLite or PostgreSQL), the durable job
//! queue and its workers, the HTTP API, and the CLI. All ecosystem knowledge lives in the
//! `upkeep-resolvers` crate, which knows nothing of the database or the web server.

pub mod api;
pub mod cli;
pub mod cli_views;
pub mod config;
pub mod crawler;
pub mod delivery;
pub mod events;
pub mod fleet;
pub mod forge;
pub mod jobs;
pub mod keys;
pub mod policy;
pub mod recommendation_kind;
pub mod repository_url;
pub mod resolve;
pub mod scan_command;
pub mod scan_output;
pub mod scheduler;
pub mod secret_box;
pub mod server;
pub mod services;
pub mod store;
pub mod telemetry;
