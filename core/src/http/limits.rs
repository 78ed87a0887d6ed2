//! Bounds on what one request may take: its URI and headers, and its time.
//!
//! A request over a bound is answered like any other bad input (SPEC's error body naming
//! what was too large) or, past the time limit, 503 — never left to hang a connection.

use std::{future::Future, time::Duration};

use futures_util::{
    future::{lazy, Either},
    FutureExt,
};
use poem::{Endpoint, IntoResponse, Request, Response, Result};

use crate::{error::ApiError, http::layer::Step};

/// Longest request URI, path and query together.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header bytes (names and values) one request may send.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub struct Limits {
    timeout: Duration,
}

impl Limits {
    pub fn new(timeout_secs: u64) -> Self {
        Limits {
            timeout: Duration::from_secs(timeout_secs),
        }
    }
}

impl Step for Limits {
    // A refused request is dropped before any of it runs.
    fn call<'a, E: Endpoint>(
        &'a self,
        inner: &'a E,
        req: Request,
    ) -> impl Future<Output = Result<Response>> + Send + 'a {
        let timeout = self.timeout;
        match oversized(&req) {
            Some(refusal) => Either::Left(lazy(move |_| Ok(refusal.to_response()))),
            None => Either::Right(tokio::time::timeout(timeout, inner.call(req)).map(
                move |finished| {
                    match finished {
                        Ok(result) => result.map(IntoResponse::into_response),
                        Err(_) => Ok(ApiError::unavailable(anyhow::anyhow!(
                            "the request took longer than {timeout:?}"
                        ))
                        .to_response()),
                    }
                },
            )),
        }
    }
}

fn oversized(req: &Request) -> Option<ApiError> {
    let uri_bytes = req.uri().path().len() + req.uri().query().map_or(0, |q| q.len() + 1);
    if uri_bytes > MAX_URI_BYTES {
        return Some(ApiError::invalid_parameter(
            "uri",
            format!("is {uri_bytes} bytes; at most {MAX_URI_BYTES}"),
        ));
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Some(ApiError::invalid_parameter(
            "headers",
            format!("are {header_bytes} bytes; at most {MAX_HEADER_BYTES}"),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_padding(bytes: usize) -> Request {
        let name = "x-pad";
        Request::builder()
            .header(name, "y".repeat(bytes - name.len()))
            .finish()
    }

    #[test]
    fn headers_at_the_limit_pass_and_one_byte_more_is_refused() {
        assert!(oversized(&with_padding(MAX_HEADER_BYTES)).is_none());
        let refusal = oversized(&with_padding(MAX_HEADER_BYTES + 1)).expect("refused");
        assert_eq!(refusal.details()[0].parameter, "headers");
    }
}
