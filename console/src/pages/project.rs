//! The project page: what the session's project is, its budget, and how sessions end.

use std::sync::Arc;

use poem::{handler, web::Data, Request};
use serde::Serialize;

use crate::{
    render::{Chrome, Page},
    session, ConsoleError, State,
};

#[derive(Serialize)]
struct ProjectView<'a> {
    id: &'a str,
    name: &'a str,
    slug: &'a str,
    plan: &'a str,
    includes_api: bool,
    /// The budget the project gets, and whether it is the project's own.
    limit_per_hour: u64,
    own_limit: bool,
    created_at: i64,
    session_hours: u32,
}

/// `GET /console/project`.
#[handler]
pub async fn page(state: Data<&Arc<State>>, req: &Request) -> Result<Page, ConsoleError> {
    let signed_in = session::signed_in(&state, req).await?;
    let config = &state.services.config;
    let project = &signed_in.project;
    let view = ProjectView {
        id: &project.id,
        name: &project.name,
        slug: &project.slug,
        plan: project.plan.as_str(),
        includes_api: project.plan.includes_api(),
        limit_per_hour: state.services.limiter.limit_for(&signed_in.principal()),
        own_limit: project.rate_limit_per_hour.is_some(),
        created_at: project.created_at,
        session_hours: config.console.session_hours.0,
    };
    state.templates.page(
        "project.html",
        Some(Chrome::new(&signed_in, "project")),
        minijinja::context! { project => view },
    )
}
