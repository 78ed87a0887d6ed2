//! Projects, plans, scopes and the `Principal` a valid key stands for.

use std::{collections::BTreeSet, fmt, str::FromStr, sync::Arc};

use serde::{Deserialize, Serialize};

/// A project's subscription tier, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Starter,
    Growth,
    Scale,
    Agency,
}

impl Plan {
    pub const ALL: [Plan; 4] = [Plan::Starter, Plan::Growth, Plan::Scale, Plan::Agency];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Starter => "starter",
            Plan::Growth => "growth",
            Plan::Scale => "scale",
            Plan::Agency => "agency",
        }
    }

    /// The API is for Scale and above.
    pub fn includes_api(self) -> bool {
        self >= Plan::Scale
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Plan {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Plan::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown plan `{s}`; expected starter, growth, scale or agency"))
    }
}

/// The scopes a key can hold: read access to one resource each.
pub const READ_SCOPES: [&str; 4] = [
    "projects:read",
    "metrics:read",
    "integrations:read",
    "dashboards:read",
];

/// Validates a comma-separated scope list against `known`.
pub fn parse_scopes(list: &str, known: &BTreeSet<String>) -> Result<BTreeSet<String>, String> {
    let mut scopes = BTreeSet::new();
    for scope in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !known.contains(scope) {
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            return Err(format!(
                "unknown scope `{scope}`; known: {}",
                known.join(", ")
            ));
        }
        scopes.insert(scope.to_owned());
    }
    if scopes.is_empty() {
        return Err("a key needs at least one scope".into());
    }
    Ok(scopes)
}

/// Who is calling: resolved from a valid key by the auth step, read by handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub key_id: String,
    pub project_id: String,
    pub plan: Plan,
    /// Shared: a principal is copied from the key cache and into the request on every
    /// keyed request, and copying the set copied each scope's text.
    pub scopes: Arc<BTreeSet<String>>,
    /// The project's own hourly budget, if it has one.
    pub rate_limit_per_hour: Option<i64>,
    pub expires_at: Option<i64>,
}

impl Principal {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
}

/// A project as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub plan: Plan,
    pub rate_limit_per_hour: Option<i64>,
    pub created_at: i64,
}

/// An API key's record: everything but the key and its hash, which are never shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}
