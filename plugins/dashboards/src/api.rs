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

use crate::store::{self, DashboardRow, WidgetRow};

#[derive(Tags)]
enum DashboardsTag {
    /// A project's dashboards and the widgets laid out on them.
    #[oai(rename = "dashboards")]
    Dashboards,
}

/// How a widget draws its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Serialize)]
#[oai(rename = "WidgetType", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
enum WidgetType {
    Line,
    Bar,
    Number,
    Table,
}

impl WidgetType {
    fn from_stored(value: &str) -> Option<Self> {
        match value {
            "line" => Some(WidgetType::Line),
            "bar" => Some(WidgetType::Bar),
            "number" => Some(WidgetType::Number),
            "table" => Some(WidgetType::Table),
            _ => None,
        }
    }
}

/// Where a widget sits on the dashboard's grid, in grid units.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "WidgetPosition")]
struct WidgetPosition {
    /// Column of the left edge.
    x: i32,
    /// Row of the top edge.
    y: i32,
    /// Width.
    w: i32,
    /// Height.
    h: i32,
}

/// One widget of a dashboard.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "DashboardWidget", rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
struct DashboardWidget {
    /// The widget's id (`wgt_...`).
    id: String,
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    widget_type: WidgetType,
    title: String,
    /// The metrics the widget shows, in display order.
    metric_ids: Vec<String>,
    position: WidgetPosition,
}

impl TryFrom<WidgetRow> for DashboardWidget {
    type Error = ApiError;

    fn try_from(row: WidgetRow) -> Result<Self, ApiError> {
        // A type the API does not know is a fault in the stored data, not the caller's.
        let widget_type =
            WidgetType::from_stored(&row.widget_type).ok_or_else(|| UnknownStoredValue {
                resource: "widget",
                id: row.id.clone(),
                field: "type",
                value: row.widget_type.clone(),
            })?;
        Ok(DashboardWidget {
            id: row.id,
            widget_type,
            title: row.title,
            metric_ids: row.metric_ids,
            position: WidgetPosition {
                x: row.x,
                y: row.y,
                w: row.w,
                h: row.h,
            },
        })
    }
}

/// A dashboard of the project.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "Dashboard", rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
struct DashboardBody {
    /// The dashboard's id (`dsh_...`).
    id: String,
    name: String,
    description: String,
    /// In display order.
    widgets: Vec<DashboardWidget>,
    /// When the dashboard was created, in milliseconds since the Unix epoch.
    created_at: i64,
    /// When the dashboard last changed, in milliseconds since the Unix epoch.
    updated_at: i64,
}

impl TryFrom<DashboardRow> for DashboardBody {
    type Error = ApiError;

    fn try_from(row: DashboardRow) -> Result<Self, ApiError> {
        let widgets = row
            .widgets
            .into_iter()
            .map(DashboardWidget::try_from)
            .collect::<Result<_, _>>()?;
        Ok(DashboardBody {
            id: row.id,
            name: row.name,
            description: row.description,
            widgets,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// `{"data": <dashboard>}`
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "DashboardResponse")]
struct DashboardResponse {
    data: DashboardBody,
}

dashtray_core::list_page! {
    /// `{"data": [<dashboard>...], "pagination": {...}}`
    DashboardPage of DashboardBody, answered as ListResponse: "A page of the project's dashboards."
}

pub(crate) struct DashboardsApi {
    db: Db,
}

impl DashboardsApi {
    pub(crate) fn new(db: Db) -> Self {
        DashboardsApi { db }
    }
}

#[OpenApi(tag = "DashboardsTag::Dashboards")]
impl DashboardsApi {
    /// List dashboards
    ///
    /// The project's dashboards, oldest first (ties by id), each with its widgets.
    #[oai(path = "/dashboards", method = "get", operation_id = "listDashboards")]
    async fn list_dashboards(
        &self,
        req: &Request,
        principal: Data<&Principal>,
        /// Dashboards per page, 1 to 1000.
        limit: Query<Limit>,
        /// Dashboards to skip before the page.
        offset: Query<Offset>,
    ) -> Result<ListResponse, ApiError> {
        let (rows, total) =
            store::page(&self.db, &principal.project_id, limit.get(), offset.get()).await?;
        let data = rows
            .into_iter()
            .map(DashboardBody::try_from)
            .collect::<Result<_, _>>()?;
        Ok(ListResponse::page(
            data,
            Pagination::of(limit.0, offset.0, total),
            req,
        ))
    }

    /// Get dashboard
    ///
    /// One of the project's dashboards, with its widgets.
    #[oai(
        path = "/dashboards/:dashboard_id",
        method = "get",
        operation_id = "getDashboard"
    )]
    async fn get_dashboard(
        &self,
        principal: Data<&Principal>,
        /// The dashboard's id (`dsh_...`).
        dashboard_id: Path<String>,
    ) -> Result<Json<DashboardResponse>, ApiError> {
        // Another project's dashboard answers exactly like a missing one.
        let row = store::find(&self.db, &principal.project_id, &dashboard_id.0)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "No dashboard `{}` in this project.",
                    dashboard_id.0
                ))
            })?;
        Ok(Json(DashboardResponse {
            data: row.try_into()?,
        }))
    }
}
