//! The plugin's tables: written by [`insert`] (demo loader, tests), read by the API with a
//! fixed number of queries per page.

use dashtray_core::{
    auth::key::random_id,
    db::{
        query,
        resource::{children, Rows},
        DbError, Row,
    },
    Db, Migration,
};

/// The plugin's schema. A widget's metric ids are one comma-separated column: they are
/// only ever read with their widget.
pub(crate) const MIGRATIONS: [Migration; 1] = [Migration::portable(
    1,
    "dashboards and their widgets",
    "CREATE TABLE dashboards (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE INDEX dashboards_project_created ON dashboards (project_id, created_at, id);
    CREATE TABLE dashboard_widgets (
        id TEXT PRIMARY KEY,
        dashboard_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        type TEXT NOT NULL,
        title TEXT NOT NULL,
        metric_ids TEXT NOT NULL,
        x INTEGER NOT NULL,
        y INTEGER NOT NULL,
        w INTEGER NOT NULL,
        h INTEGER NOT NULL
    );
    CREATE INDEX dashboard_widgets_dashboard ON dashboard_widgets (dashboard_id, position);",
)];

/// A dashboard to store, with its widgets in display order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDashboard {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Milliseconds since the Unix epoch.
    pub updated_at: i64,
    /// A widget's position is its index here.
    pub widgets: Vec<NewWidget>,
}

/// A widget of a [`NewDashboard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWidget {
    pub id: String,
    /// One of `line`, `bar`, `number`, `table`.
    pub widget_type: String,
    pub title: String,
    /// No id may contain a comma: they are stored comma-separated.
    pub metric_ids: Vec<String>,
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

/// A fresh dashboard id: `dsh_` and 16 base62 characters.
pub fn new_id() -> String {
    format!("dsh_{}", random_id(16))
}

/// A fresh widget id: `wgt_` and 16 base62 characters.
pub fn new_widget_id() -> String {
    format!("wgt_{}", random_id(16))
}

/// Stores `dashboard` and its widgets; rows that already exist are kept as they are, so
/// loading the same data twice changes nothing.
pub async fn insert(db: &Db, dashboard: &NewDashboard) -> Result<(), DbError> {
    let metric_ids = dashboard
        .widgets
        .iter()
        .map(|widget| join_ids(&widget.metric_ids))
        .collect::<Result<Vec<_>, _>>()?;
    // One transaction: a reader never sees a dashboard with only some of its widgets.
    let mut tx = db.begin().await?;
    query(
        "INSERT INTO dashboards (id, project_id, name, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(&dashboard.id)
    .bind(&dashboard.project_id)
    .bind(&dashboard.name)
    .bind(&dashboard.description)
    .bind(dashboard.created_at)
    .bind(dashboard.updated_at)
    .execute(&mut tx)
    .await?;
    for (position, (widget, metric_ids)) in dashboard.widgets.iter().zip(metric_ids).enumerate() {
        // A dashboard with more than i32::MAX widgets cannot exist.
        let position = i32::try_from(position).unwrap_or(i32::MAX);
        query(
            "INSERT INTO dashboard_widgets \
             (id, dashboard_id, position, type, title, metric_ids, x, y, w, h) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        )
        .bind(&widget.id)
        .bind(&dashboard.id)
        .bind(position)
        .bind(&widget.widget_type)
        .bind(&widget.title)
        .bind(metric_ids)
        .bind(widget.x)
        .bind(widget.y)
        .bind(widget.w)
        .bind(widget.h)
        .execute(&mut tx)
        .await?;
    }
    tx.commit().await
}

/// A stored dashboard as the API reads it.
#[derive(Debug, Clone)]
pub(crate) struct DashboardRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// In position order.
    pub widgets: Vec<WidgetRow>,
}

/// A stored widget as the API reads it.
#[derive(Debug, Clone)]
pub(crate) struct WidgetRow {
    pub id: String,
    pub widget_type: String,
    pub title: String,
    pub metric_ids: Vec<String>,
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

/// The project's dashboards by `created_at`, then `id`.
const DASHBOARDS: Rows = Rows::new(
    "dashboards",
    "id, name, description, created_at, updated_at",
    "created_at, id",
);

/// One page of the project's dashboards and the size of the whole list: at most three
/// queries whatever the page size (page, count, widgets).
pub(crate) async fn page(
    db: &Db,
    project_id: &str,
    limit: u32,
    offset: u64,
) -> Result<(Vec<DashboardRow>, u64), DbError> {
    let (mut rows, total) = DASHBOARDS
        .page(db, project_id, limit, offset, from_row)
        .await?;
    attach_widgets(db, &mut rows).await?;
    Ok((rows, total))
}

/// The project's dashboard `id`; `None` when it does not exist or is another project's.
pub(crate) async fn find(
    db: &Db,
    project_id: &str,
    id: &str,
) -> Result<Option<DashboardRow>, DbError> {
    let Some(found) = DASHBOARDS.find(db, project_id, id, from_row).await? else {
        return Ok(None);
    };
    let mut rows = vec![found];
    attach_widgets(db, &mut rows).await?;
    Ok(rows.pop())
}

/// Fills every dashboard's widgets with one query for all of them.
async fn attach_widgets(db: &Db, rows: &mut [DashboardRow]) -> Result<(), DbError> {
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    let mut by_dashboard = children(
        db,
        "SELECT id, dashboard_id, type, title, metric_ids, x, y, w, h FROM dashboard_widgets \
         WHERE dashboard_id IN ({parents}) ORDER BY dashboard_id, position",
        &ids,
        |found| Ok((found.get("dashboard_id")?, widget_from_row(found)?)),
    )
    .await?;
    for row in rows {
        row.widgets = by_dashboard.remove(&row.id).unwrap_or_default();
    }
    Ok(())
}

fn from_row(row: &Row<'_>) -> Result<DashboardRow, DbError> {
    Ok(DashboardRow {
        id: row.get("id")?,
        name: row.get("name")?,
        description: row.get("description")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        widgets: Vec::new(),
    })
}

fn widget_from_row(row: &Row<'_>) -> Result<WidgetRow, DbError> {
    let metric_ids: String = row.get("metric_ids")?;
    Ok(WidgetRow {
        id: row.get("id")?,
        widget_type: row.get("type")?,
        title: row.get("title")?,
        metric_ids: split_ids(&metric_ids),
        x: row.get("x")?,
        y: row.get("y")?,
        w: row.get("w")?,
        h: row.get("h")?,
    })
}

/// The column form of a widget's metric ids; an id with a comma would come back as two.
fn join_ids(ids: &[String]) -> Result<String, DbError> {
    match ids.iter().find(|id| id.contains(',')) {
        Some(id) => Err(DbError::Invalid(format!(
            "metric id `{id}` contains a comma"
        ))),
        None => Ok(ids.join(",")),
    }
}

/// The stored comma-separated list; an empty column is no ids, not one empty id.
fn split_ids(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_metric_ids_split_back() {
        assert_eq!(split_ids("mrr,arr"), ["mrr", "arr"]);
        assert!(split_ids("").is_empty());
    }

    #[test]
    fn metric_ids_with_commas_are_refused() {
        assert_eq!(join_ids(&["mrr".into(), "arr".into()]).unwrap(), "mrr,arr");
        assert!(join_ids(&["a,b".into()]).is_err());
    }

    #[test]
    fn ids_carry_their_prefix() {
        for (id, prefix) in [(new_id(), "dsh_"), (new_widget_id(), "wgt_")] {
            assert!(id.starts_with(prefix), "{id}");
            assert_eq!(id.len(), prefix.len() + 16);
        }
    }
}
