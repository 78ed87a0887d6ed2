//! JSON response bodies written straight from the value to bytes.
//!
//! poem-openapi's `Json` turns a body into a `serde_json::Value` tree (a map and a string
//! per field) and then writes the tree: for a page of a hundred points that was two
//! fifths of the request's CPU. This `Json` documents the body exactly as poem-openapi's
//! does (the schema comes from the type's `Object` derive), and writes it with the
//! type's own `serde::Serialize`, through sonic-rs, whose escaping checks a string's
//! bytes many at a time (writing a page took 51k instructions through it, 64k through
//! serde_json, by callgrind). The two derives must agree field for field: in debug
//! builds (every test) each body is also rendered poem-openapi's way and compared, so a
//! field renamed in one derive and not the other fails the first test that returns it.

use poem::{
    http::{header, HeaderValue},
    IntoResponse, Response,
};
use poem_openapi::{
    payload::Payload,
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry},
    types::{ToJSON, Type},
    ApiResponse,
};
use serde::Serialize;

/// A JSON body: `Json(value)` where the value derives both `Object` (its schema) and
/// `Serialize` (its bytes), with the same names.
#[derive(Debug, Clone, PartialEq)]
pub struct Json<T>(pub T);

impl<T: Type> Payload for Json<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        <poem_openapi::payload::Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + ToJSON + Send> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        // Room for a page at once: grown from serde_json's 128 bytes, a 5 KB body was
        // copied six times on the way.
        let mut body = Vec::with_capacity(8 * 1024);
        match sonic_rs::to_writer(&mut body, &self.0) {
            Ok(()) => {
                #[cfg(debug_assertions)]
                assert_written_as_documented(&self.0, &body);
                // A static value: `content_type(&str)` parses the text on every answer.
                let mut resp = Response::builder()
                    .header(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(Self::CONTENT_TYPE),
                    )
                    .body(body);
                // And room for the headers the layers add on the way out (rate limits,
                // ETag, caching, request id), which otherwise regrow the map on the way.
                resp.headers_mut().reserve(16);
                resp
            }
            // Only a map with non-text keys fails to serialise, and no body type has one.
            Err(err) => crate::ApiError::internal(err).into_response(),
        }
    }
}

impl<T: Serialize + ToJSON + Send> ApiResponse for Json<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// The body as written is the body as the schema's derive describes it.
#[cfg(debug_assertions)]
fn assert_written_as_documented<T: ToJSON>(value: &T, written: &[u8]) {
    let written: serde_json::Value = serde_json::from_slice(written).expect("a body is JSON");
    let by_schema = value.to_json().unwrap_or(serde_json::Value::Null);
    assert_eq!(
        written,
        by_schema,
        "{}: its Serialize and Object derives disagree (names, skipped fields)",
        std::any::type_name::<T>()
    );
}

#[cfg(test)]
mod tests {
    use poem_openapi::Object;

    use super::*;

    #[derive(Serialize, Object)]
    #[serde(rename_all = "camelCase")]
    #[oai(rename_all = "camelCase")]
    struct Agreeing {
        metric_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[oai(skip_serializing_if_is_none)]
        next_cursor: Option<String>,
    }

    #[derive(Serialize, Object)]
    struct Disagreeing {
        #[serde(rename = "metricId")]
        metric_id: String,
    }

    #[tokio::test]
    async fn bodies_are_written_as_the_schema_names_them() {
        let body = Agreeing {
            metric_id: "mrr".into(),
            next_cursor: None,
        };
        let resp = Json(body).into_response();
        assert_eq!(
            resp.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        let bytes = resp.into_body().into_vec().await.unwrap();
        assert_eq!(bytes, br#"{"metricId":"mrr"}"#);
    }

    #[test]
    #[should_panic(expected = "derives disagree")]
    fn a_field_named_differently_by_the_two_derives_fails_in_tests() {
        let _ = Json(Disagreeing {
            metric_id: "mrr".into(),
        })
        .into_response();
    }
}
