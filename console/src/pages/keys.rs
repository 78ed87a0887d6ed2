//! Settings → API Keys: the project's keys, Create API Key (the key shown once), and
//! Revoke on a confirmation page of its own, told to every server at once.

use std::{collections::BTreeSet, sync::Arc};

use dashtray_core::auth::{model::KeyRecord, notices::Notice, store, READ_SCOPES};
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

const DAY_MS: i64 = 86_400_000;
/// The list, where a revocation goes back to.
const LIST_PATH: &str = "/console/keys";
/// The longest name a key may have, as the store allows.
pub const MAX_NAME_CHARS: usize = 200;

/// The expiries the form offers: the field's value and what it says.
const EXPIRIES: [(&str, &str); 4] = [
    ("never", "Never"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "365 days"),
];

/// A key as the table shows it.
#[derive(Serialize)]
struct KeyRow {
    id: String,
    name: String,
    scopes: Vec<String>,
    created_at: i64,
    last_used_at: Option<i64>,
    expires_at: Option<i64>,
    status: &'static str,
}

impl KeyRow {
    fn new(record: KeyRecord, now: i64) -> KeyRow {
        let status = match (record.revoked_at, record.expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(at)) if at <= now => "expired",
            _ => "active",
        };
        KeyRow {
            id: record.id,
            name: record.name,
            scopes: record.scopes,
            created_at: record.created_at,
            last_used_at: record.last_used_at,
            expires_at: record.expires_at,
            status,
        }
    }
}

/// `GET /console/keys`.
#[handler]
pub async fn list(state: Data<&Arc<State>>, req: &Request) -> Result<Page, ConsoleError> {
    let signed_in = session::signed_in(&state, req).await?;
    let now = state.services.now_millis();
    let keys: Vec<KeyRow> = store::list_keys(&state.services.db, &signed_in.project.id)
        .await?
        .into_iter()
        .rev()
        .map(|record| KeyRow::new(record, now))
        .collect();
    state.templates.page(
        "keys.html",
        Some(Chrome::new(&signed_in, "keys")),
        minijinja::context! { keys },
    )
}

/// What the Create API Key form holds: as first shown, or as posted with its errors.
#[derive(Debug, Default, Serialize)]
struct KeyForm {
    name: String,
    scopes: Vec<ScopeChoice>,
    expiries: Vec<ExpiryChoice>,
    errors: FieldErrors,
}

#[derive(Debug, Serialize)]
struct ScopeChoice {
    scope: String,
    checked: bool,
}

#[derive(Debug, Serialize)]
struct ExpiryChoice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

/// Each field's error, shown beside it.
#[derive(Debug, Default, Serialize)]
struct FieldErrors {
    name: Option<String>,
    scopes: Option<String>,
    expiry: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        self.name.is_some() || self.scopes.is_some() || self.expiry.is_some()
    }
}

impl KeyForm {
    fn new(known: &[String], name: &str, scopes: &BTreeSet<&str>, expiry: &str) -> KeyForm {
        KeyForm {
            name: name.to_owned(),
            scopes: known
                .iter()
                .map(|scope| ScopeChoice {
                    scope: scope.clone(),
                    checked: scopes.contains(scope.as_str()),
                })
                .collect(),
            expiries: EXPIRIES
                .iter()
                .map(|&(value, label)| ExpiryChoice {
                    value,
                    label,
                    checked: value == expiry,
                })
                .collect(),
            errors: FieldErrors::default(),
        }
    }

    /// The form as first shown: every read scope ticked, no expiry.
    fn blank(known: &[String]) -> KeyForm {
        KeyForm::new(known, "", &READ_SCOPES.into_iter().collect(), "never")
    }
}

/// A valid submission.
struct NewKey {
    name: String,
    scopes: BTreeSet<String>,
    expires_in_days: Option<i64>,
}

/// Checks a submission; the form to show again when any field is wrong.
fn validate(known: &[String], form: &FormData) -> Result<NewKey, Box<KeyForm>> {
    let name = form.get("name").unwrap_or_default().trim();
    let scopes: BTreeSet<&str> = form.all("scope").collect();
    let expiry = form.get("expiry").unwrap_or_default();
    let mut shown = KeyForm::new(known, name, &scopes, expiry);
    let errors = &mut shown.errors;
    if name.is_empty() {
        errors.name = Some("Give the key a name, such as what will use it.".into());
    } else if name.chars().count() > MAX_NAME_CHARS {
        errors.name = Some(format!("A name is at most {MAX_NAME_CHARS} characters."));
    }
    if scopes.is_empty() {
        errors.scopes = Some("Choose at least one scope.".into());
    } else if let Some(unknown) = scopes.iter().find(|s| !known.iter().any(|k| k == *s)) {
        errors.scopes = Some(format!("There is no scope `{unknown}`."));
    }
    let expires_in_days = match expiry {
        "never" => None,
        days if EXPIRIES.iter().any(|(value, _)| *value == days) => days.parse().ok(),
        _ => {
            errors.expiry = Some("Choose one of the expiries listed.".into());
            None
        }
    };
    if errors.any() {
        return Err(Box::new(shown));
    }
    Ok(NewKey {
        name: name.to_owned(),
        scopes: scopes.into_iter().map(str::to_owned).collect(),
        expires_in_days,
    })
}

/// `GET /console/keys/new`: the Create API Key form.
#[handler]
pub async fn new_form(state: Data<&Arc<State>>, req: &Request) -> Result<Page, ConsoleError> {
    let signed_in = session::signed_in(&state, req).await?;
    show_form(&state, &signed_in, KeyForm::blank(&state.scopes))
}

fn show_form(state: &State, signed_in: &SignedIn, form: KeyForm) -> Result<Page, ConsoleError> {
    state.templates.page(
        "key_form.html",
        Some(Chrome::new(signed_in, "keys")),
        minijinja::context! { form },
    )
}

/// `POST /console/keys`: creates the key and shows it, the only time it is shown; a
/// wrong field shows the form again with its error and creates nothing.
#[handler]
pub async fn create(
    state: Data<&Arc<State>>,
    req: &Request,
    form: FormData,
) -> Result<Response, ConsoleError> {
    let signed_in = session::posted_by(&state, req, &form).await?;
    let new = match validate(&state.scopes, &form) {
        Ok(new) => new,
        Err(shown) => {
            let page = show_form(&state, &signed_in, *shown)?;
            return Ok(page.with_status(StatusCode::BAD_REQUEST).into_response());
        }
    };
    let services = &state.services;
    let now = services.now_millis();
    let (record, key) = store::create_key(
        &services.db,
        services.authenticator.hasher(),
        &signed_in.project.id,
        &new.name,
        &new.scopes,
        new.expires_in_days.map(|days| now + days * DAY_MS),
        now,
    )
    .await?;
    let created = KeyRow::new(record, now);
    let page = state.templates.page(
        "key_created.html",
        Some(Chrome::new(&signed_in, "keys")),
        minijinja::context! { key, created },
    )?;
    Ok(page.into_response())
}

/// The session's project's key `key_id`; another project's key, or none, is not found.
async fn owned_key(
    state: &State,
    signed_in: &SignedIn,
    key_id: &str,
) -> Result<KeyRecord, ConsoleError> {
    store::list_keys(&state.services.db, &signed_in.project.id)
        .await?
        .into_iter()
        .find(|record| record.id == key_id)
        .ok_or(ConsoleError::NotFound)
}

/// `GET /console/keys/:id/revoke`: the confirmation page.
#[handler]
pub async fn confirm_revoke(
    state: Data<&Arc<State>>,
    req: &Request,
    Path(key_id): Path<String>,
) -> Result<Page, ConsoleError> {
    let signed_in = session::signed_in(&state, req).await?;
    let record = owned_key(&state, &signed_in, &key_id).await?;
    let key = KeyRow::new(record, state.services.now_millis());
    state.templates.page(
        "key_revoke.html",
        Some(Chrome::new(&signed_in, "keys")),
        minijinja::context! { key },
    )
}

/// `POST /console/keys/:id/revoke`: revokes the key here at once and tells every other
/// server, then goes back to the list.
#[handler]
pub async fn revoke(
    state: Data<&Arc<State>>,
    req: &Request,
    Path(key_id): Path<String>,
    form: FormData,
) -> Result<Redirect, ConsoleError> {
    let signed_in = session::posted_by(&state, req, &form).await?;
    let record = owned_key(&state, &signed_in, &key_id).await?;
    let services = &state.services;
    let now = services.now_millis();
    store::revoke_key(&services.db, &record.id, now).await?;
    services.authenticator.forget_key(&record.id);
    if let Err(err) = services
        .notices
        .announce(&Notice::Key(record.id.clone()), now)
        .await
    {
        tracing::warn!(error = %err, key = %record.id, "other servers were not told of a revocation; they will see it within auth.cache_ttl_secs");
    }
    Ok(Redirect::see_other(LIST_PATH))
}
