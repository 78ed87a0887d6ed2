//! Webhooks: the project's endpoints (create, the secret shown once, enable or disable,
//! rotate the secret, send a test, delete on a confirmation page of its own) and each
//! endpoint's recent deliveries with their attempts, with Replay. Everything goes
//! through core's `webhooks::store`, scoped by the session's project, under the same
//! address rules as `dashtray webhooks`.

use std::sync::Arc;

use dashtray_core::webhooks::{
    address,
    store::{self, Endpoint, EndpointChanges, NewEndpoint},
};
use poem::{
    handler,
    http::StatusCode,
    web::{Data, Path, Redirect},
    IntoResponse, Request, Response,
};
use serde::Serialize;

use crate::{
    form::FormData,
    render::{Chrome, Page},
    session::{self, SignedIn},
    ConsoleError, State,
};

/// The list, where a deletion goes back to.
const LIST_PATH: &str = "/console/webhooks";
/// How long the previous secret keeps signing beside a rotated one, as the CLI's default:
/// time for the receiver to switch without missing a delivery.
const ROTATION_OVERLAP_HOURS: u32 = 24;
/// The deliveries an endpoint's page lists, newest first.
const RECENT_DELIVERIES: usize = 25;
/// Which section these pages belong to.
const SECTION: &str = "webhooks";

fn endpoint_path(id: &str) -> String {
    format!("{LIST_PATH}/{id}")
}

/// `GET /console/webhooks`: the project's endpoints.
#[handler]
pub async fn list(state: Data<&Arc<State>>, req: &Request) -> Result<Page, ConsoleError> {
    let signed_in = session::signed_in(&state, req).await?;
    let endpoints = store::list(&state.services.db, &signed_in.project.id).await?;
    state.templates.page(
        "webhooks.html",
        Some(Chrome::new(&signed_in, SECTION)),
        minijinja::context! { endpoints },
    )
}

/// What the Add endpoint form holds: as first shown, or as posted with its errors.
#[derive(Debug, Default, Serialize)]
struct EndpointForm {
    url: String,
    description: String,
    events: Vec<EventChoice>,
    errors: FieldErrors,
}

#[derive(Debug, Serialize)]
struct EventChoice {
    event: String,
    checked: bool,
}

/// Each field's error, shown beside it.
#[derive(Debug, Default, Serialize)]
struct FieldErrors {
    url: Option<String>,
    description: Option<String>,
    events: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        self.url.is_some() || self.description.is_some() || self.events.is_some()
    }
}

impl EndpointForm {
    fn new(known: &[String], url: &str, description: &str, events: &[String]) -> EndpointForm {
        EndpointForm {
            url: url.to_owned(),
            description: description.to_owned(),
            events: known
                .iter()
                .map(|event| EventChoice {
                    event: event.clone(),
                    checked: events.contains(event),
                })
                .collect(),
            errors: FieldErrors::default(),
        }
    }
}

/// Checks a submission with the store's own rules (the address rules resolve the host
/// now, as `dashtray webhooks create` does); the form to show again when a field is wrong.
async fn validate(state: &State, form: &FormData) -> Result<NewEndpoint, Box<EndpointForm>> {
    let url = form.get("url").unwrap_or_default().trim();
    let description = form.get("description").unwrap_or_default();
    let events: Vec<String> = form.all("event").map(str::to_owned).collect();
    let rules = state.webhook_rules();
    let mut shown = EndpointForm::new(&state.event_types(), url, description, &events);
    let errors = &mut shown.errors;
    if url.is_empty() {
        errors.url = Some("Enter the URL that receives the events.".into());
    } else if let Err(err) = address::check_url(url, rules.allow_private_targets).await {
        errors.url = Some(err.to_string());
    }
    if let Err(err) = store::check_description(description) {
        errors.description = Some(err.to_string());
    }
    if let Err(err) = store::check_events(&events, &rules) {
        errors.events = Some(err.to_string());
    }
    if errors.any() {
        return Err(Box::new(shown));
    }
    Ok(NewEndpoint {
        url: url.to_owned(),
        description: description.to_owned(),
        events,
    })
}

fn show_form(
    state: &State,
    signed_in: &SignedIn,
    form: EndpointForm,
) -> Result<Page, ConsoleError> {
    state.templates.page(
        "webhook_form.html",
        Some(Chrome::new(signed_in, SECTION)),
        minijinja::context! { form },
    )
}

/// `GET /console/webhooks/new`: the Add endpoint form, every event type unticked
/// (which subscribes to all of them).
#[handler]
pub async fn new_form(state: Data<&Arc<State>>, req: &Request) -> Result<Page, ConsoleError> {
    let signed_in = session::signed_in(&state, req).await?;
    let form = EndpointForm::new(&state.event_types(), "", "", &[]);
    show_form(&state, &signed_in, form)
}

/// `POST /console/webhooks`: creates the endpoint and shows its secret, the only time it
/// is shown; a wrong field shows the form again with its error and stores nothing.
#[handler]
pub async fn create(
    state: Data<&Arc<State>>,
    req: &Request,
    form: FormData,
) -> Result<Response, ConsoleError> {
    let signed_in = session::posted_by(&state, req, &form).await?;
    let new = match validate(&state, &form).await {
        Ok(new) => new,
        Err(shown) => {
            let page = show_form(&state, &signed_in, *shown)?;
            return Ok(page.with_status(StatusCode::BAD_REQUEST).into_response());
        }
    };
    let services = &state.services;
    let (endpoint, secret) = store::create(
        &services.db,
        &signed_in.project.id,
        new,
        &state.webhook_rules(),
        services.now_millis(),
    )
    .await?;
    show_secret(&state, &signed_in, &endpoint, &secret, false).map(IntoResponse::into_response)
}

/// The page that shows a secret once: after creating an endpoint or rotating its secret.
fn show_secret(
    state: &State,
    signed_in: &SignedIn,
    endpoint: &Endpoint,
    secret: &str,
    rotated: bool,
) -> Result<Page, ConsoleError> {
    state.templates.page(
        "webhook_secret.html",
        Some(Chrome::new(signed_in, SECTION)),
        minijinja::context! { endpoint, secret, rotated, overlap_hours => ROTATION_OVERLAP_HOURS },
    )
}

/// The session's project's endpoint `id`; another project's endpoint, or none, is not
/// found.
async fn owned_endpoint(
    state: &State,
    signed_in: &SignedIn,
    id: &str,
) -> Result<Endpoint, ConsoleError> {
    Ok(store::get(&state.services.db, &signed_in.project.id, id).await?)
}

/// `GET /console/webhooks/:id`: the endpoint, what can be done to it, and its recent
/// deliveries with their attempts.
#[handler]
pub async fn show(
    state: Data<&Arc<State>>,
    req: &Request,
    Path(id): Path<String>,
) -> Result<Page, ConsoleError> {
    let signed_in = session::signed_in(&state, req).await?;
    let endpoint = owned_endpoint(&state, &signed_in, &id).await?;
    let mut deliveries =
        store::deliveries(&state.services.db, &signed_in.project.id, &id, None).await?;
    deliveries.truncate(RECENT_DELIVERIES);
    state.templates.page(
        "webhook_endpoint.html",
        Some(Chrome::new(&signed_in, SECTION)),
        minijinja::context! { endpoint, deliveries },
    )
}

/// `POST /console/webhooks/:id/status`: enables (`enabled=true`) or disables
/// (`enabled=false`) the endpoint.
#[handler]
pub async fn set_status(
    state: Data<&Arc<State>>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Redirect, ConsoleError> {
    let signed_in = session::posted_by(&state, req, &form).await?;
    let enabled = match form.get("enabled") {
        Some("true") => true,
        Some("false") => false,
        _ => {
            return Err(ConsoleError::Refused(
                "Choose Enable endpoint or Disable endpoint.".into(),
            ))
        }
    };
    let changes = EndpointChanges {
        enabled: Some(enabled),
        ..EndpointChanges::default()
    };
    let endpoint = store::update(
        &state.services.db,
        &signed_in.project.id,
        &id,
        changes,
        &state.webhook_rules(),
    )
    .await?;
    Ok(Redirect::see_other(endpoint_path(&endpoint.id)))
}

/// `POST /console/webhooks/:id/rotate`: a new secret, shown once; the previous one keeps
/// signing beside it for [`ROTATION_OVERLAP_HOURS`].
#[handler]
pub async fn rotate(
    state: Data<&Arc<State>>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Page, ConsoleError> {
    let signed_in = session::posted_by(&state, req, &form).await?;
    let services = &state.services;
    let (endpoint, secret) = store::rotate_secret(
        &services.db,
        &signed_in.project.id,
        &id,
        ROTATION_OVERLAP_HOURS,
        services.now_millis(),
    )
    .await?;
    show_secret(&state, &signed_in, &endpoint, &secret, true)
}

/// `POST /console/webhooks/:id/test`: queues a `webhook.test` event for this endpoint;
/// its delivery shows on the endpoint's page.
#[handler]
pub async fn send_test(
    state: Data<&Arc<State>>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Redirect, ConsoleError> {
    let signed_in = session::posted_by(&state, req, &form).await?;
    let services = &state.services;
    let delivery = store::send_test(
        &services.db,
        &signed_in.project.id,
        &id,
        services.now_millis(),
    )
    .await?;
    Ok(Redirect::see_other(endpoint_path(&delivery.endpoint_id)))
}

/// `GET /console/webhooks/:id/delete`: the confirmation page.
#[handler]
pub async fn confirm_delete(
    state: Data<&Arc<State>>,
    req: &Request,
    Path(id): Path<String>,
) -> Result<Page, ConsoleError> {
    let signed_in = session::signed_in(&state, req).await?;
    let endpoint = owned_endpoint(&state, &signed_in, &id).await?;
    state.templates.page(
        "webhook_delete.html",
        Some(Chrome::new(&signed_in, SECTION)),
        minijinja::context! { endpoint },
    )
}

/// `POST /console/webhooks/:id/delete`: deletes the endpoint and its deliveries, then
/// goes back to the list.
#[handler]
pub async fn delete(
    state: Data<&Arc<State>>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Redirect, ConsoleError> {
    let signed_in = session::posted_by(&state, req, &form).await?;
    store::delete(&state.services.db, &signed_in.project.id, &id).await?;
    Ok(Redirect::see_other(LIST_PATH))
}

/// `POST /console/webhooks/deliveries/:id/replay`: sends a delivered or failed delivery
/// again, with the same `webhook-id`, then shows its endpoint.
#[handler]
pub async fn replay(
    state: Data<&Arc<State>>,
    req: &Request,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Redirect, ConsoleError> {
    let signed_in = session::posted_by(&state, req, &form).await?;
    let services = &state.services;
    let delivery = store::replay(
        &services.db,
        &signed_in.project.id,
        &id,
        services.now_millis(),
    )
    .await?;
    Ok(Redirect::see_other(endpoint_path(&delivery.endpoint_id)))
}
