//! The published rate-limit headers, on every answer to an authenticated request.

use poem::{
    http::{header::RETRY_AFTER, HeaderName, HeaderValue},
    Response,
};

use super::Usage;

// Names as constants: `HeaderName::from_static` called at run time checks the name's
// every byte on every request; in a constant that happens once, at compile time.
pub const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub const USED: HeaderName = HeaderName::from_static("x-ratelimit-used");
pub const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
pub const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Sets the window's headers (and `Retry-After` on a 429) on `resp`.
pub fn apply(usage: &Usage, resp: &mut Response) {
    let headers = resp.headers_mut();
    headers.insert(LIMIT, HeaderValue::from(usage.limit));
    headers.insert(REMAINING, HeaderValue::from(usage.remaining));
    headers.insert(USED, HeaderValue::from(usage.used));
    headers.insert(RESET, HeaderValue::from(usage.reset_at_secs));
    let mut set = |name: HeaderName, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(POLICY, format!("\"project\";q={};w=3600", usage.limit));
    set(
        RATELIMIT,
        format!(
            "\"project\";r={};t={}",
            usage.remaining, usage.reset_in_secs
        ),
    );
    if !usage.allowed {
        headers.insert(RETRY_AFTER, HeaderValue::from(usage.reset_in_secs));
    }
}
