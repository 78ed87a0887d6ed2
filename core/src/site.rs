//! Sites: pages served beside the API under a path of their own (the console), made by
//! crates that depend on core and that core therefore cannot name. The binary hands
//! them to [`crate::server::serve_with_sites`].

use poem::{endpoint::BoxEndpoint, Response};

use crate::{services::Services, spec::ApiDocument};

pub trait Site: Send + Sync {
    /// The path it is served under, such as `/console`; requests reach the endpoint with
    /// this prefix removed.
    fn prefix(&self) -> &'static str;

    /// Its endpoint, given the running server's services and the API as mounted (its
    /// operations and their scopes). It answers every request itself (its errors as its
    /// own pages): the API's problem+json normaliser only sees what it leaves as an error.
    fn endpoint(&self, services: &Services, api: &ApiDocument) -> BoxEndpoint<'static, Response>;
}
