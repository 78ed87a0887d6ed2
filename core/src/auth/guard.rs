//! Authorisation per operation: what an operation requires, and the check that enforces
//! it with SPEC's answers (401, 403 `plan_required`, 403 `insufficient_scope`, and 429
//! for an address that keeps failing).

use std::net::{IpAddr, Ipv4Addr};

use poem::Request;
use prometheus_client::metrics::counter::Counter;

use super::{authenticator::AuthOutcome, failures::FailureLimiter, model::Principal};
use crate::{
    clock::SharedClock,
    error::{ApiError, ErrorCode},
};

pub use crate::policy::Policy;

/// Enforces policies; shared by every route.
pub struct Guard {
    failures: FailureLimiter,
    clock: SharedClock,
    /// `dashtray_auth_failures_total`.
    failed: Counter,
}

impl Guard {
    pub fn new(failed_per_minute: u32, clock: SharedClock, failed: Counter) -> Self {
        Guard {
            failures: FailureLimiter::new(failed_per_minute),
            clock,
            failed,
        }
    }

    /// The caller of a keyed operation: 401 (or 429 for an address that keeps failing)
    /// without a valid key. Takes the auth step's outcome out of the request rather
    /// than copying it: nothing after the router reads it.
    pub fn authenticate(&self, req: &mut Request) -> Result<Principal, ApiError> {
        match req.extensions_mut().remove::<AuthOutcome>() {
            Some(AuthOutcome::Authenticated(principal)) => Ok(principal),
            Some(AuthOutcome::Unavailable(err)) => Err(ApiError::shared(&err)),
            Some(AuthOutcome::Unauthenticated) | None => Err(self.unauthenticated(client_ip(req))),
        }
    }

    /// Whether an authenticated caller may use the operation: its plan and its scopes.
    pub fn permit(&self, principal: &Principal, policy: &Policy) -> Result<(), ApiError> {
        if !principal.plan.includes_api() {
            return Err(ApiError::new(
                ErrorCode::PlanRequired,
                format!(
                    "The API is part of the Scale plan and above; this project is on the {} plan.",
                    principal.plan
                ),
            ));
        }
        if let Some(scope) = &policy.scope {
            if !principal.has_scope(scope) {
                return Err(ApiError::insufficient_scope(scope));
            }
        }
        Ok(())
    }

    /// Counts a failed authentication from `ip` made some other way than with a key (a
    /// console sign-in link): `Some(seconds to wait)` once the address has failed too
    /// often, sharing the budget that guessing keys uses.
    pub fn failed_from(&self, ip: IpAddr) -> Option<u64> {
        self.failed.inc();
        self.failures.fail(ip, self.clock.now_millis())
    }

    fn unauthenticated(&self, ip: IpAddr) -> ApiError {
        match self.failed_from(ip) {
            Some(retry_after) => ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "Too many failed authentications from this address. Retry in {retry_after} seconds."
                ),
            )
            .with_retry_after(retry_after),
            None => ApiError::unauthorized(),
        }
    }
}

/// The address a request came from (unspecified when it is not a socket).
pub fn client_ip(req: &Request) -> IpAddr {
    req.remote_addr()
        .as_socket_addr()
        .map(|addr| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}
