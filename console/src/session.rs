//! The sign-in cookie, the session it stands for, and the CSRF token tied to it.
//!
//! The cookie holds the session's token; the database holds only its hash
//! (`dashtray_core::auth::sessions`), so any replica accepts it. A form's CSRF token is a
//! hash of the session's token under a label of its own: another site can neither read
//! the cookie nor compute it, and no replica needs to store it.

use dashtray_core::auth::{key::hashes_match, sessions, store, Principal, Project};
use poem::{http::header, Request};
use sha2::{Digest, Sha256};

use crate::{form::FormData, ConsoleError, State, PREFIX};

/// The cookie's name.
pub const COOKIE: &str = "dashtray_console";
/// The hidden field every form posts its CSRF token in.
pub const CSRF_FIELD: &str = "csrf";

/// A request's live session and its project.
pub struct SignedIn {
    pub token: String,
    pub project: Project,
}

impl SignedIn {
    /// The token this session's forms carry.
    pub fn csrf(&self) -> String {
        csrf_for(&self.token)
    }

    /// The project as the rate limiter sees it (no key: the budget is the project's).
    pub fn principal(&self) -> Principal {
        Principal {
            key_id: String::new(),
            project_id: self.project.id.clone(),
            plan: self.project.plan,
            scopes: Default::default(),
            rate_limit_per_hour: self.project.rate_limit_per_hour,
            expires_at: None,
        }
    }

    /// Refuses a form without this session's CSRF token.
    pub fn check_csrf(&self, form: &FormData) -> Result<(), ConsoleError> {
        match form.get(CSRF_FIELD) {
            Some(sent) if hashes_match(sent, &self.csrf()) => Ok(()),
            _ => Err(ConsoleError::Csrf),
        }
    }
}

/// The session a form's POST comes from, its CSRF token checked: what every change
/// starts with, so that no handler can take the session without the token.
pub async fn posted_by(
    state: &State,
    req: &Request,
    form: &FormData,
) -> Result<SignedIn, ConsoleError> {
    let signed_in = signed_in(state, req).await?;
    signed_in.check_csrf(form)?;
    Ok(signed_in)
}

/// The session the request's cookie stands for; [`ConsoleError::SignedOut`] without one.
pub async fn signed_in(state: &State, req: &Request) -> Result<SignedIn, ConsoleError> {
    let token = cookie(req, COOKIE).ok_or(ConsoleError::SignedOut)?;
    let db = &state.services.db;
    let session = sessions::find_session(db, token, state.services.now_millis())
        .await?
        .ok_or(ConsoleError::SignedOut)?;
    let project = store::get_project(db, &session.project_id)
        .await?
        .ok_or(ConsoleError::SignedOut)?;
    Ok(SignedIn {
        token: token.to_owned(),
        project,
    })
}

fn csrf_for(token: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"dashtray console csrf\0");
    digest.update(token.as_bytes());
    hex::encode(digest.finalize())
}

/// `Set-Cookie` starting a session: only for `/console`, never sent by another site's
/// request or readable by script, and over https only when the console is served so.
pub fn set_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path={PREFIX}; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}")
}

/// `Set-Cookie` removing the session's cookie (Sign out).
pub fn clear_cookie(secure: bool) -> String {
    set_cookie("", 0, secure)
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_read_among_others() {
        let req = Request::builder()
            .header(header::COOKIE, "a=1; dashtray_console=tok; b=2")
            .finish();
        assert_eq!(cookie(&req, COOKIE), Some("tok"));
        let cleared = Request::builder()
            .header(header::COOKIE, "dashtray_console=")
            .finish();
        assert_eq!(cookie(&cleared, COOKIE), None);
    }

    #[test]
    fn csrf_tokens_differ_per_session() {
        assert_ne!(csrf_for("one"), csrf_for("two"));
        assert_eq!(csrf_for("one"), csrf_for("one"));
    }
}
