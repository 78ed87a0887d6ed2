//! Request ids: kept from the caller when well-formed, generated otherwise, echoed in
//! `X-Request-Id`, available to the layers below (log lines), and written into error
//! bodies on the way out.

use std::future::Future;

use futures_util::FutureExt;
use poem::{
    http::{HeaderName, HeaderValue},
    Endpoint, IntoResponse, Request, Response, Result,
};
use rand::{rngs::SmallRng, Rng, SeedableRng};

use crate::http::{errors, layer::Step};

/// A constant, so the name is checked once, at compile time, not on every request.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
const MAX_LEN: usize = 128;

/// The request's id, as [`RequestId`] fixed it, in the request's extensions for the
/// layers below; the request's own headers stay as the client sent them.
#[derive(Debug, Clone)]
pub struct Id(pub HeaderValue);

impl Id {
    /// The id [`RequestId`] gave `req`, or `""` outside that layer.
    pub fn of(req: &Request) -> &str {
        req.extensions()
            .get::<Id>()
            .and_then(|id| id.0.to_str().ok())
            .unwrap_or_default()
    }
}

/// A caller's id is kept when it is 1-128 characters of `[A-Za-z0-9._-]`; anything else
/// (too long, control characters, spaces) is replaced so it cannot poison the log.
pub fn accept(candidate: &str) -> bool {
    !candidate.is_empty()
        && candidate.len() <= MAX_LEN
        && candidate
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// 128 random bits as 32 lowercase hex digits.
///
/// An id only has to be unique, not secret: the bits come from a small fast generator
/// per thread, seeded from the OS, rather than the thread's cryptographic one
/// (`rand::rng()`): choosing an id went from about 700 instructions to 560.
pub fn generate() -> String {
    let bits: u128 = ID_BITS.with(|rng| rng.borrow_mut().random());
    crate::hex_digits::lower(bits.to_le_bytes())
}

thread_local! {
    static ID_BITS: std::cell::RefCell<SmallRng> = std::cell::RefCell::new(SmallRng::from_os_rng());
}

/// The outermost layer: fixes the id, and finishes the answer: its id (in the error
/// body, if it is one, and in `X-Request-Id`) and `X-Content-Type-Options: nosniff`.
#[derive(Clone)]
pub struct RequestId;

impl Step for RequestId {
    fn call<'a, E: Endpoint>(
        &'a self,
        inner: &'a E,
        mut req: Request,
    ) -> impl Future<Output = Result<Response>> + Send + 'a {
        let id = chosen(&req);
        req.extensions_mut().insert(Id(id.clone()));
        inner.call(req).map(move |result| {
            let mut resp = match result {
                Ok(resp) => resp.into_response(),
                Err(err) => err.into_response(),
            };
            errors::finish(&mut resp, &id);
            resp.headers_mut().insert(HEADER, id);
            // Every answer is data, never a page to sniff into something else.
            resp.headers_mut().insert(
                poem::http::header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            Ok(resp)
        })
    }
}

/// The caller's id when [`accept`]ed (shared with the request, not copied), a new one
/// otherwise.
fn chosen(req: &Request) -> HeaderValue {
    match req.headers().get(&HEADER) {
        Some(value) if value.to_str().is_ok_and(accept) => value.clone(),
        // From the `String` itself, not a copy of it.
        _ => HeaderValue::try_from(generate()).expect("hex digits are a valid header value"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_ids_are_kept_and_others_refused() {
        assert!(accept("abc-123_X.y"));
        assert!(accept(&"a".repeat(128)));
        assert!(!accept(""));
        assert!(!accept(&"a".repeat(129)));
        assert!(!accept("has space"));
        assert!(!accept("new\nline"));
    }

    #[test]
    fn generated_ids_are_accepted_and_distinct() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 32);
        assert!(accept(&a));
        assert_ne!(a, b);
    }
}
