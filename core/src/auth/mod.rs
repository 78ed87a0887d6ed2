//! Projects, API keys and who may call what.
//!
//! - [`key`]: the key format, its checksum and its hash;
//! - [`store`]: the `projects` and `api_keys` tables;
//! - [`authenticator`]: the auth step of the request path (key → `Principal`, cached);
//! - [`notices`]: revocations and project changes, told to every server;
//! - [`guard`]: each operation's policy, enforced where the route is known;
//! - [`failures`]: failed authentications limited per client address;
//! - [`sessions`]: console sign-in links and sessions, stored as hashes;
//! - [`model`]: plans, scopes, `Principal`, `Project`, `KeyRecord`.

pub mod authenticator;
pub mod failures;
pub mod guard;
pub mod key;
pub mod model;
pub mod notices;
pub mod sessions;
pub mod store;

pub use authenticator::{AuthOutcome, Authenticator};
pub use guard::{Guard, Policy};
pub use model::{Plan, Principal, Project, READ_SCOPES};
