//! What the integration tests share: the app on a real port with a fresh database ([`app`]), the
//! fake GitHub ([`fake_github`]), the fake package registries ([`fake_registries`]), real git
//! repositories in temporary directories ([`git`]) and the inventory a crawl would have stored,
//! built through the store ([`inventory`]). The fakes speak the real services' wire
//! formats on 127.0.0.1 and depend on nothing else in this folder, so the fleet benchmark
//! (`benches/fleet.rs`) includes them too.

pub mod app;
pub mod fake_github;
pub mod fake_registries;
pub mod git;
pub mod inventory;
