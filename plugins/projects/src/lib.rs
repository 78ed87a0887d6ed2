//! The `projects` plugin: `GET /api/v1/projects` answers the caller's own project.
//!
//! The smallest complete plugin: one operation, its schema, its scope. The project
//! table itself belongs to core (keys hang off it), so this plugin has no migrations.

use dashtray_core::{
    auth::{store, Plan},
    ApiError, Db, Json, Mounted, Plugin, PluginContext, PluginError, Principal,
};
use poem::web::Data;
use poem_openapi::{Enum, Object, OpenApi, Tags};

/// The scope a key needs to read its project.
pub const SCOPE: &str = "projects:read";

pub struct ProjectsPlugin;

impl Plugin for ProjectsPlugin {
    fn name(&self) -> &str {
        "projects"
    }

    fn mount(&self, cx: &PluginContext) -> Result<Mounted, PluginError> {
        let api = ProjectsApi {
            db: cx.db().clone(),
        };
        Ok(Mounted::from_api(api)?.scope(SCOPE))
    }
}

#[derive(Tags)]
enum ProjectsTag {
    /// The project an API key belongs to.
    #[oai(rename = "projects")]
    Projects,
}

/// A project's subscription tier.
#[derive(Debug, Clone, Copy, Enum, serde::Serialize)]
#[oai(rename = "ProjectPlan", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
enum ProjectPlan {
    Starter,
    Growth,
    Scale,
    Agency,
}

impl From<Plan> for ProjectPlan {
    fn from(plan: Plan) -> Self {
        match plan {
            Plan::Starter => ProjectPlan::Starter,
            Plan::Growth => ProjectPlan::Growth,
            Plan::Scale => ProjectPlan::Scale,
            Plan::Agency => ProjectPlan::Agency,
        }
    }
}

/// A Dashtray project.
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "Project", rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
struct ProjectBody {
    /// The project's id (`prj_...`).
    id: String,
    name: String,
    /// URL-friendly, unique name.
    slug: String,
    plan: ProjectPlan,
    /// When the project was created, in milliseconds since the Unix epoch.
    created_at: i64,
}

/// `{"data": <project>}`
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename = "ProjectResponse")]
struct ProjectResponse {
    data: ProjectBody,
}

struct ProjectsApi {
    db: Db,
}

#[OpenApi(tag = "ProjectsTag::Projects")]
impl ProjectsApi {
    /// Get project
    ///
    /// The project the API key belongs to.
    #[oai(path = "/projects", method = "get", operation_id = "getProject")]
    async fn get_project(
        &self,
        principal: Data<&Principal>,
    ) -> Result<Json<ProjectResponse>, ApiError> {
        let project = store::get_project(&self.db, &principal.project_id)
            .await?
            .ok_or_else(|| ApiError::not_found("The key's project no longer exists."))?;
        Ok(Json(ProjectResponse {
            data: ProjectBody {
                id: project.id,
                name: project.name,
                slug: project.slug,
                plan: project.plan.into(),
                created_at: project.created_at,
            },
        }))
    }
}
