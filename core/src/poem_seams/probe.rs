//! A small poem-openapi API for the seams' tests: real extractors, real errors and a real
//! generated document, served the way the router serves a plugin's operations.

use std::collections::HashMap;

use poem::{http::StatusCode, Endpoint, EndpointExt, Request, Route, RouteMethod};
use poem_openapi::{
    param::{Path, Query},
    payload::{Json, PlainText},
    ApiResponse, Enum, Object, OpenApi,
};

use super::{paths, query};
use crate::params::{Patterned, TextRule};

pub const THINGS_PATH: &str = "/things";
pub const PART_PATH: &str = "/things/{thing_id}/parts/{part}";
pub const SEARCH_PATH: &str = "/search";

/// Up to three digits.
pub struct Digits;

impl TextRule for Digits {
    const PATTERN: &'static str = "^[0-9]{1,3}$";

    fn accepts(value: &str) -> bool {
        (1..=3).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit())
    }
}

#[derive(Enum)]
#[oai(rename_all = "lowercase")]
pub enum Colour {
    Red,
    Blue,
}

/// A page of things.
#[derive(Object)]
pub struct Page {
    /// How many there are.
    total: u32,
    /// The colour asked for, if any.
    colour: Option<Colour>,
    /// The shade every thing has.
    #[oai(default = "default_shade")]
    shade: Colour,
}

fn default_shade() -> Colour {
    Colour::Blue
}

#[derive(ApiResponse)]
pub enum Listed {
    #[oai(status = 200)]
    Page(Json<Page>, #[oai(header = "Link")] Option<String>),
}

pub struct Probe;

#[OpenApi]
impl Probe {
    /// The query as the extractors saw it.
    #[oai(path = "/things", method = "get")]
    async fn things(
        &self,
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))] limit: Query<Option<u32>>,
        #[oai(validator(min_length = 1, max_length = 3))] cursor: Query<Option<String>>,
        code: Query<Option<Patterned<Digits>>>,
        colour: Query<Option<Colour>>,
    ) -> PlainText<String> {
        let _ = (cursor, code, colour);
        PlainText(format!("limit={:?}", limit.0))
    }

    /// A page, for the document's tests.
    #[oai(path = "/pages", method = "get")]
    async fn pages(&self) -> Listed {
        let page = Page {
            total: 0,
            colour: None,
            shade: Colour::Red,
        };
        Listed::Page(Json(page), None)
    }

    /// The path parameters as the extractors saw them.
    #[oai(path = "/things/:thing_id/parts/:part", method = "get")]
    async fn part(&self, thing_id: Path<u32>, part: Path<String>) -> PlainText<String> {
        PlainText(format!("{}/{}", thing_id.0, part.0))
    }

    /// A required query parameter.
    #[oai(path = "/search", method = "get")]
    async fn search(&self, q: Query<String>) -> PlainText<String> {
        PlainText(q.0)
    }
}

/// The probe's generated document.
pub fn document() -> serde_json::Value {
    let service = poem_openapi::OpenApiService::new(Probe, "probe", "0");
    serde_json::from_str(&service.spec()).expect("the spec is JSON")
}

/// Calls the probe's endpoint for `uri` as the router would: with the seams (the query
/// handed over, undecodable segments named) or, to show poem-openapi's own behaviour,
/// without them.
pub async fn call(uri: &str, with_seams: bool) -> poem::Result<poem::Response> {
    let mut table = HashMap::new();
    Probe.add_routes(&mut table);
    let mut route = Route::new();
    for openapi_path in [THINGS_PATH, PART_PATH, SEARCH_PATH] {
        let params = std::sync::Arc::new(paths::PathParams::of(openapi_path));
        let mut methods = table
            .remove(&paths::poem_path(openapi_path))
            .expect("the probe lists the path");
        let endpoint = methods.remove(&poem::http::Method::GET).expect("a GET");
        let seamed = move |mut req: Request| {
            let params = params.clone();
            async move {
                if with_seams {
                    query::hand_over(&mut req);
                    if let Some(name) = params.undecodable(&req) {
                        return Err(poem::Error::from_string(
                            format!("undecodable: {name}"),
                            StatusCode::BAD_REQUEST,
                        ));
                    }
                }
                Ok(req)
            }
        };
        route = route.at(
            paths::poem_path(openapi_path),
            RouteMethod::new().get(endpoint.before(seamed)),
        );
    }
    let req = Request::builder().uri(uri.parse().expect("a URI")).finish();
    route.call(req).await
}

/// The probe's answer for `uri` with the seams: status and body (or error text).
pub async fn answer(uri: &str, with_seams: bool) -> (u16, String) {
    match call(uri, with_seams).await {
        Ok(resp) => (
            resp.status().as_u16(),
            resp.into_body().into_string().await.expect("a text body"),
        ),
        Err(err) => (err.status().as_u16(), err.to_string()),
    }
}
