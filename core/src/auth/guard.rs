//! Authorisation per operation: what an operation requires, and the check that enforces
//! it with SPEC's answers (401, 403 `plan_required`, 403 `insufficient_scope`, and 429
//! for an address that keeps failing).

use std::net::{IpAddr, Ipv4Addr};

use poem::Request;

use super::{authenticator::AuthOutcome, failures::FailureLimiter, model::Principal};
use crate::{
    clock::SharedClock,
    error::{ApiError, ErrorCode},
};

/// What one operation requires of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Served without a key (health, the document).
    pub public: bool,
    /// The scope a key needs, if any.
    pub scope: Option<String>,
}

/// Enforces policies; shared by every route.
pub struct Guard {
    failures: FailureLimiter,
    clock: SharedClock,
}

impl Guard {
    pub fn new(failed_per_minute: u32, clock: SharedClock) -> Self {
        Guard {
            failures: FailureLimiter::new(failed_per_minute),
            clock,
        }
    }

    /// The caller, if `policy` lets this request through.
    pub fn authorize(&self, req: &Request, policy: &Policy) -> Result<Option<Principal>, ApiError> {
        if policy.public {
            return Ok(None);
        }
        let principal = match req.extensions().get::<AuthOutcome>() {
            Some(AuthOutcome::Authenticated(principal)) => principal,
            Some(AuthOutcome::Unavailable(err)) => {
                return Err(ApiError::new(err.code(), err.message()))
            }
            Some(AuthOutcome::Unauthenticated) | None => {
                return Err(self.unauthenticated(client_ip(req)))
            }
        };
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
        Ok(Some(principal.clone()))
    }

    fn unauthenticated(&self, ip: IpAddr) -> ApiError {
        match self.failures.fail(ip, self.clock.now_millis()) {
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

fn client_ip(req: &Request) -> IpAddr {
    req.remote_addr()
        .as_socket_addr()
        .map(|addr| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}
