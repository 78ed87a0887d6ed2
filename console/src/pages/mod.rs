//! The console's sections, one module each: [`keys`] (Settings → API Keys), [`usage`],
//! [`webhooks`] and [`project`]. Each handler starts from the request's session and reads or changes
//! only that session's project.

pub mod keys;
pub mod project;
pub mod usage;
pub mod webhooks;

use poem::{handler, web::Redirect};

/// `GET /console`: the first section.
#[handler]
pub fn home() -> Redirect {
    Redirect::see_other(crate::render::SECTIONS[0].path)
}
