//! The stylesheet and the Copy button's script, served from the binary: the console
//! loads nothing from anywhere else.

use poem::{handler, http::header, IntoResponse, Response};

const STYLESHEET: &str = include_str!("../assets/console.css");
const SCRIPT: &str = include_str!("../assets/console.js");

#[handler]
pub fn stylesheet() -> Response {
    STYLESHEET
        .with_content_type("text/css; charset=utf-8")
        .into_response()
}

#[handler]
pub fn script() -> Response {
    SCRIPT
        .with_header(header::CONTENT_TYPE, "text/javascript; charset=utf-8")
        .into_response()
}
