//! Conditional GET: an `ETag` on every GET 200 (with `Cache-Control: private, max-age`
//! and `Vary: Authorization`), and `304 Not Modified` when `If-None-Match` holds it.
//!
//! The router runs it around each call to a plugin's endpoint, so the router sees a 304
//! and gives the request back to the project's budget.

use std::future::Future;

use futures_util::FutureExt;
use poem::{
    http::{header, HeaderValue, Method, StatusCode},
    Body, Endpoint, IntoResponse, Request, Response, Result,
};

use crate::http::layer::Step;

/// The headers [`ConditionalGet`] adds, as the document names them.
pub const HEADERS: [&str; 3] = ["ETag", "Cache-Control", "Vary"];

/// Whether an answer is tagged: a GET's 200 that chose no caching of its own (health:
/// `no-store`). The layer asks it of each answer, the document of each operation.
pub fn applies(is_get: bool, status: StatusCode, sets_cache_control: bool) -> bool {
    is_get && status == StatusCode::OK && !sets_cache_control
}

#[derive(Clone)]
pub struct ConditionalGet {
    cache_control: HeaderValue,
}

impl ConditionalGet {
    pub fn new(max_age_secs: u64) -> Self {
        ConditionalGet {
            cache_control: HeaderValue::from_str(&format!("private, max-age={max_age_secs}"))
                .expect("a valid header value"),
        }
    }

    async fn tag(
        &self,
        resp: Response,
        is_get: bool,
        if_none_match: Option<HeaderValue>,
    ) -> Result<Response> {
        if !applies(
            is_get,
            resp.status(),
            resp.headers().contains_key(header::CACHE_CONTROL),
        ) {
            return Ok(resp);
        }
        let (mut parts, body) = resp.into_parts();
        let bytes = body.into_bytes().await?;
        let etag = etag_of(&bytes);
        parts.headers.insert(
            header::ETAG,
            HeaderValue::from_str(&etag).expect("hex is valid"),
        );
        parts
            .headers
            .insert(header::CACHE_CONTROL, self.cache_control.clone());
        parts
            .headers
            .insert(header::VARY, HeaderValue::from_static("Authorization"));
        let fresh = if_none_match
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| matches(v, &etag));
        if fresh {
            parts.status = StatusCode::NOT_MODIFIED;
            parts.headers.remove(header::CONTENT_TYPE);
            parts.headers.remove(header::CONTENT_LENGTH);
            return Ok(Response::from_parts(parts, Body::empty()));
        }
        Ok(Response::from_parts(parts, Body::from(bytes)))
    }
}

impl Step for ConditionalGet {
    fn call<'a, E: Endpoint>(
        &'a self,
        inner: &'a E,
        req: Request,
    ) -> impl Future<Output = Result<Response>> + Send + 'a {
        let is_get = req.method() == Method::GET;
        let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
        inner.call(req).then(move |result| async move {
            self.tag(result?.into_response(), is_get, if_none_match)
                .await
        })
    }
}

/// A strong validator: the body's 128-bit XXH3.
///
/// A validator, not a secret: 128 bits of XXH3 tell two bodies apart as surely as a
/// cryptographic hash would for this purpose, at a tenth of SHA-256's cost (which was a
/// fifth of a metrics page's CPU).
pub fn etag_of(body: &[u8]) -> String {
    let digest = xxhash_rust::xxh3::xxh3_128(body).to_be_bytes();
    let mut tag = String::with_capacity(34);
    tag.push('"');
    tag.push_str(&crate::hex_digits::lower(digest));
    tag.push('"');
    tag
}

/// `If-None-Match` uses the weak comparison (RFC 9110 13.1.2): `W/` is ignored.
fn matches(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_and_weak_tags_match() {
        let tag = etag_of(b"{}");
        assert!(matches(&tag, &tag));
        assert!(matches(&format!("\"x\", W/{tag}"), &tag));
        assert!(matches("*", &tag));
        assert!(!matches("\"other\"", &tag));
        assert_eq!(tag.len(), 34);
        assert_ne!(
            etag_of(b"{\"a\":1}"),
            etag_of(b"{\"a\":2}"),
            "bodies differ, tags differ"
        );
    }
}
