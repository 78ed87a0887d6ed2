//! The published rate-limit headers, on every answer to an authenticated request.

use poem::{
    http::{header::RETRY_AFTER, HeaderName, HeaderValue},
    Response,
};

use super::Usage;

pub const LIMIT: &str = "x-ratelimit-limit";
pub const REMAINING: &str = "x-ratelimit-remaining";
pub const USED: &str = "x-ratelimit-used";
pub const RESET: &str = "x-ratelimit-reset";
pub const POLICY: &str = "ratelimit-policy";
pub const RATELIMIT: &str = "ratelimit";

/// Sets the window's headers (and `Retry-After` on a 429) on `resp`.
pub fn apply(usage: &Usage, resp: &mut Response) {
    let headers = resp.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set(LIMIT, usage.limit.to_string());
    set(REMAINING, usage.remaining.to_string());
    set(USED, usage.used.to_string());
    set(RESET, usage.reset_at_secs.to_string());
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
