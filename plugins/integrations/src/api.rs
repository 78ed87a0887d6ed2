//! The plugin's operations and their schemas: list and get, read-only.

use dashtray_core::{
    error::UnknownStoredValue,
    listing::{Limit, Offset, Pagination},
    ApiError, Db, Json, Principal,
};
use poem::{web::Data, Request};
use poem_openapi::{
    param::{Path, Query},
    Enum, Object, OpenApi, Tags,
};

use crate::store::{self, IntegrationRow};

#[derive(Tags)]
enum IntegrationsTag {
    /// The data sources connected to a project, and the metrics each one feeds.
    #[oai(rename = "integrations")]
    Integrations,
}

/// Where an integration's connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Serialize)]
#[oai(rename = "IntegrationStatus", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
enum IntegrationStatus {
    Connected,
    Syncing,
    Error,
    Paused,
}

impl IntegrationStatus {
    fn from_stored(value: &str) -> Option<Self> {
        match value {
            "connected" => Some(IntegrationStatus::Connected),
            "syncing" => Some(IntegrationStatus::Syncing),
            "error" => Some(IntegrationStatus::Error),
            "paused" => Some(IntegrationStatus::Paused),
            _ => None,
        }
    }
}

/// A data source connected to the project.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "Integration", rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
struct IntegrationBody {
    /// The integration's id (`int_...`).
    id: String,
    /// The connected service, e.g. `stripe`.
    provider: String,
    name: String,
    status: IntegrationStatus,
    /// When the integration was connected, in milliseconds since the Unix epoch.
    connected_at: i64,
    /// When its last sync finished, in milliseconds since the Unix epoch; null before
    /// the first sync.
    last_sync_at: Option<i64>,
    /// The metrics this integration feeds, sorted.
    metric_ids: Vec<String>,
}

impl TryFrom<IntegrationRow> for IntegrationBody {
    type Error = ApiError;

    fn try_from(row: IntegrationRow) -> Result<Self, ApiError> {
        // A status the API does not know is a fault in the stored data, not the caller's.
        let status =
            IntegrationStatus::from_stored(&row.status).ok_or_else(|| UnknownStoredValue {
                resource: "integration",
                id: row.id.clone(),
                field: "status",
                value: row.status.clone(),
            })?;
        Ok(IntegrationBody {
            id: row.id,
            provider: row.provider,
            name: row.name,
            status,
            connected_at: row.connected_at,
            last_sync_at: row.last_sync_at,
            metric_ids: row.metric_ids,
        })
    }
}

/// `{"data": <integration>}`
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "IntegrationResponse")]
struct IntegrationResponse {
    data: IntegrationBody,
}

dashtray_core::list_page! {
    /// `{"data": [<integration>...], "pagination": {...}}`
    IntegrationPage of IntegrationBody, answered as ListResponse: "A page of the project's integrations."
}

pub(crate) struct IntegrationsApi {
    db: Db,
}

impl IntegrationsApi {
    pub(crate) fn new(db: Db) -> Self {
        IntegrationsApi { db }
    }
}

#[OpenApi(tag = "IntegrationsTag::Integrations")]
impl IntegrationsApi {
    /// List integrations
    ///
    /// The project's integrations, oldest connection first (ties by id).
    #[oai(
        path = "/integrations",
        method = "get",
        operation_id = "listIntegrations"
    )]
    async fn list_integrations(
        &self,
        req: &Request,
        principal: Data<&Principal>,
        /// Integrations per page, 1 to 1000.
        limit: Query<Limit>,
        /// Integrations to skip before the page.
        offset: Query<Offset>,
    ) -> Result<ListResponse, ApiError> {
        let (rows, total) =
            store::page(&self.db, &principal.project_id, limit.get(), offset.get()).await?;
        let data = rows
            .into_iter()
            .map(IntegrationBody::try_from)
            .collect::<Result<_, _>>()?;
        Ok(ListResponse::page(
            data,
            Pagination::of(limit.0, offset.0, total),
            req,
        ))
    }

    /// Get integration
    ///
    /// One of the project's integrations.
    #[oai(
        path = "/integrations/:integration_id",
        method = "get",
        operation_id = "getIntegration"
    )]
    async fn get_integration(
        &self,
        principal: Data<&Principal>,
        /// The integration's id (`int_...`).
        integration_id: Path<String>,
    ) -> Result<Json<IntegrationResponse>, ApiError> {
        // Another project's integration answers exactly like a missing one.
        let row = store::find(&self.db, &principal.project_id, &integration_id.0)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "No integration `{}` in this project.",
                    integration_id.0
                ))
            })?;
        Ok(Json(IntegrationResponse {
            data: row.try_into()?,
        }))
    }
}
