//! Signing in with a one-time link, and signing out.

use std::sync::Arc;

use dashtray_core::auth::{guard::client_ip, sessions};
use poem::{
    handler,
    http::{header, StatusCode},
    web::{Data, Query},
    IntoResponse, Request, Response,
};
use serde::Deserialize;

use crate::{form::FormData, session, ConsoleError, State, PREFIX};

const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    token: String,
}

/// `GET /console/signin?token=…`: a link that works once starts a session and goes to
/// the API keys; any other (used, expired, unknown, missing) gets the same plain page,
/// and counts as a failed authentication of the address.
#[handler]
pub async fn open_link(
    state: Data<&Arc<State>>,
    req: &Request,
    query: poem::Result<Query<LinkQuery>>,
) -> Result<Response, ConsoleError> {
    let token = query.map(|q| q.0.token).unwrap_or_default();
    let services = &state.services;
    let session_ms = i64::from(services.config.console.session_hours.0) * HOUR_MS;
    let started = match token.is_empty() {
        true => None,
        false => {
            sessions::redeem_link(&services.db, &token, services.now_millis(), session_ms).await?
        }
    };
    let Some(started) = started else {
        if let Some(wait) = services.guard.failed_from(client_ip(req)) {
            return Err(ConsoleError::TooManyAttempts(wait));
        }
        let page = state.templates.page("link_unusable.html", None, ())?;
        return Ok(page.with_status(StatusCode::UNAUTHORIZED).into_response());
    };
    let cookie = session::set_cookie(&started.token, session_ms / 1000, state.secure());
    Ok(Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, format!("{PREFIX}/keys"))
        .header(header::SET_COOKIE, cookie)
        .finish())
}

/// `POST /console/signout`: ends this session and removes its cookie.
#[handler]
pub async fn sign_out(
    state: Data<&Arc<State>>,
    req: &Request,
    form: FormData,
) -> Result<Response, ConsoleError> {
    let signed_in = session::posted_by(&state, req, &form).await?;
    sessions::end_session(&state.services.db, &signed_in.token).await?;
    let page = state.templates.page("signed_out.html", None, ())?;
    Ok(page
        .with_header(header::SET_COOKIE, session::clear_cookie(state.secure()))
        .into_response())
}
