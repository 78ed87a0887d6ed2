//! The templates (minijinja, HTML auto-escaped), the navigation every signed-in page
//! shows, and the pages errors answer with.

use minijinja::{context, Environment, Value};
use poem::{error::ResponseError, http::StatusCode, web::Html, IntoResponse, Response};
use serde::Serialize;

use crate::{session::SignedIn, ConsoleError, State};

/// A rendered page.
pub type Page = Html<String>;

/// One entry of the navigation: its id (a page says which it is), label and path.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Section {
    pub id: &'static str,
    pub label: &'static str,
    pub path: &'static str,
}

/// The navigation, in order. A new section is one entry here.
pub const SECTIONS: [Section; 4] = [
    Section {
        id: "keys",
        label: "API Keys",
        path: "/console/keys",
    },
    Section {
        id: "usage",
        label: "Usage",
        path: "/console/usage",
    },
    Section {
        id: "webhooks",
        label: "Webhooks",
        path: "/console/webhooks",
    },
    Section {
        id: "project",
        label: "Project",
        path: "/console/project",
    },
];

/// What the layout shows around a signed-in page: the project, the section, and the
/// CSRF token the Sign out form (and the page's own forms) carry.
#[derive(Debug, Serialize)]
pub struct Chrome {
    pub project_name: String,
    pub project_id: String,
    pub csrf: String,
    pub section: &'static str,
}

impl Chrome {
    pub fn new(signed_in: &SignedIn, section: &'static str) -> Chrome {
        Chrome {
            project_name: signed_in.project.name.clone(),
            project_id: signed_in.project.id.clone(),
            csrf: signed_in.csrf(),
            section,
        }
    }
}

/// The compiled templates, each from `templates/`.
pub struct Templates {
    env: Environment<'static>,
}

macro_rules! templates {
    ($env:ident, $($name:literal),* $(,)?) => {
        $( $env
            .add_template($name, include_str!(concat!("../templates/", $name)))
            .expect(concat!("templates/", $name, " parses")); )*
    };
}

impl Templates {
    pub fn new() -> Templates {
        let mut env = Environment::new();
        templates!(
            env,
            "base.html",
            "message.html",
            "link_unusable.html",
            "signed_out.html",
            "keys.html",
            "key_form.html",
            "key_created.html",
            "key_revoke.html",
            "usage.html",
            "webhooks.html",
            "webhook_form.html",
            "webhook_secret.html",
            "webhook_endpoint.html",
            "webhook_delete.html",
            "project.html",
        );
        env.add_filter("datetime", datetime);
        Templates { env }
    }

    /// Renders `name` with `values`, inside the layout's `chrome` when signed in.
    pub fn page(
        &self,
        name: &str,
        chrome: Option<Chrome>,
        values: impl Serialize,
    ) -> Result<Page, ConsoleError> {
        let ctx = context! {
            chrome => chrome,
            sections => SECTIONS,
            ..Value::from_serialize(values)
        };
        Ok(Html(self.env.get_template(name)?.render(ctx)?))
    }
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

/// `{{ ms | datetime }}`: milliseconds since the epoch as `2026-03-14 09:26 UTC`; none
/// as an em dash.
fn datetime(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(
            || "—".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
}

/// The page an error answers with: its own message when it is for the user, a generic
/// one (the cause logged) otherwise.
pub fn error_response(state: &State, err: poem::Error) -> Response {
    let status = err.status();
    let (heading, message, sign_in) = match err.downcast_ref::<ConsoleError>() {
        Some(err) if err.is_internal() => {
            tracing::error!(error = %err, "console request failed");
            (
                "Something went wrong",
                internal_message(err.status()),
                false,
            )
        }
        Some(err @ ConsoleError::SignedOut) => ("Sign in", err.to_string(), true),
        Some(err) => (heading_for(err.status()), err.to_string(), false),
        None => (heading_for(status), generic_message(status), false),
    };
    let page = state
        .templates
        .page("message.html", None, context! { heading, message, sign_in });
    match page {
        Ok(page) => page.with_status(status).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "the console's error page failed");
            status.into_response()
        }
    }
}

fn heading_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Refused",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        StatusCode::METHOD_NOT_ALLOWED => "Not allowed",
        _ => "Cannot do that",
    }
}

fn generic_message(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => ConsoleError::NotFound.to_string(),
        StatusCode::METHOD_NOT_ALLOWED => "This page does not take that method.".into(),
        _ => "The request could not be read.".into(),
    }
}

fn internal_message(status: StatusCode) -> String {
    match status {
        StatusCode::SERVICE_UNAVAILABLE => {
            "The database does not answer. Try again in a moment.".into()
        }
        _ => "The server could not finish this request; it has been logged.".into(),
    }
}
