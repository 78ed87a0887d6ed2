//! What can go wrong in a console request, and the status each answers with; the page
//! shown for each is [`crate::render::error_response`]'s.

use dashtray_core::{auth::store::StoreError, db::DbError, webhooks::WebhookError};
use poem::{error::ResponseError, http::StatusCode};

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("You are not signed in, or your session has ended.")]
    SignedOut,
    #[error("There is no such page in this project.")]
    NotFound,
    #[error(
        "This form did not come from your console session. Go back, reload the page and \
         try again."
    )]
    Csrf,
    /// A request the user can correct, such as replaying a delivery still pending.
    #[error("{0}")]
    Refused(String),
    #[error("Too many failed sign-in attempts from this address. Try again in {0} seconds.")]
    TooManyAttempts(u64),
    #[error("the database failed: {0}")]
    Database(#[from] DbError),
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    #[error("a template failed: {0}")]
    Template(#[from] minijinja::Error),
    #[error("{0}")]
    Internal(String),
}

impl ConsoleError {
    /// Whether the message is for the user; otherwise it is logged and a generic page
    /// shown, so no internals reach the browser.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            ConsoleError::Database(_)
                | ConsoleError::Store(_)
                | ConsoleError::Template(_)
                | ConsoleError::Internal(_)
        )
    }
}

impl ResponseError for ConsoleError {
    fn status(&self) -> StatusCode {
        match self {
            ConsoleError::SignedOut => StatusCode::UNAUTHORIZED,
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::Csrf => StatusCode::FORBIDDEN,
            ConsoleError::Refused(_) => StatusCode::CONFLICT,
            ConsoleError::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            ConsoleError::Database(err) if err.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The webhooks store's errors: an id of another project reads as any unknown page, a
/// refusal keeps its message, a database failure is internal.
impl From<WebhookError> for ConsoleError {
    fn from(err: WebhookError) -> Self {
        match err {
            WebhookError::NotFound(_) => ConsoleError::NotFound,
            WebhookError::Database(err) => ConsoleError::Database(err),
            refused @ (WebhookError::Invalid(_) | WebhookError::Address(_)) => {
                ConsoleError::Refused(refused.to_string())
            }
        }
    }
}
