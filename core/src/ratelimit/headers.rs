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

/// A header as the document shows it: its name in the document's casing, what it says,
/// and whether its value is an integer (else a string).
#[derive(Debug, Clone)]
pub struct Documented {
    pub name: HeaderName,
    pub shown: &'static str,
    pub description: &'static str,
    pub integer: bool,
}

/// The window's headers [`apply`] sets, as the document describes them and CORS exposes
/// them: the one list of their names.
pub const WINDOW: [Documented; 6] = [
    Documented {
        name: LIMIT,
        shown: "X-RateLimit-Limit",
        description: "Requests the project may make per hour.",
        integer: true,
    },
    Documented {
        name: REMAINING,
        shown: "X-RateLimit-Remaining",
        description: "Requests left in the current window.",
        integer: true,
    },
    Documented {
        name: USED,
        shown: "X-RateLimit-Used",
        description: "Requests counted in the current window.",
        integer: true,
    },
    Documented {
        name: RESET,
        shown: "X-RateLimit-Reset",
        description: "When the window resets, in Unix seconds.",
        integer: true,
    },
    Documented {
        name: POLICY,
        shown: "RateLimit-Policy",
        description: "The quota policy (IETF draft), e.g. `\"project\";q=1000;w=3600`.",
        integer: false,
    },
    Documented {
        name: RATELIMIT,
        shown: "RateLimit",
        description: "The current limit (IETF draft), e.g. `\"project\";r=998;t=1800`: requests remaining and seconds to reset.",
        integer: false,
    },
];

/// Sets the window's headers (and `Retry-After` on a 429) on `resp`.
pub fn apply(usage: &Usage, resp: &mut Response) {
    let headers = resp.headers_mut();
    headers.insert(LIMIT, HeaderValue::from(usage.limit));
    headers.insert(REMAINING, HeaderValue::from(usage.remaining));
    headers.insert(USED, HeaderValue::from(usage.used));
    headers.insert(RESET, HeaderValue::from(usage.reset_at_secs));
    headers.insert(
        POLICY,
        structured(&[("\"project\";q=", usage.limit), (";w=", 3600)]),
    );
    headers.insert(
        RATELIMIT,
        structured(&[
            ("\"project\";r=", usage.remaining),
            (";t=", usage.reset_in_secs),
        ]),
    );
    if !usage.allowed {
        headers.insert(RETRY_AFTER, HeaderValue::from(usage.reset_in_secs));
    }
}

/// Each label followed by its number, as one header value: written straight into the
/// value's bytes, where `format!` and a parse of its text cost a tenth of what the
/// metrics plugin spends on a page of thirty points.
fn structured(parts: &[(&str, u64)]) -> HeaderValue {
    let mut text = Vec::with_capacity(48);
    let mut digits = itoa::Buffer::new();
    for (label, number) in parts {
        text.extend_from_slice(label.as_bytes());
        text.extend_from_slice(digits.format(*number).as_bytes());
    }
    HeaderValue::from_maybe_shared(bytes::Bytes::from(text))
        .expect("labels and digits are visible ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every header of the window, as a client reads it, at the edges of the numbers.
    #[test]
    fn the_window_is_written_as_published() {
        let usage = Usage {
            limit: u64::MAX,
            used: 0,
            remaining: 1_000,
            reset_at_secs: 1_767_225_600,
            reset_in_secs: 1,
            allowed: false,
        };
        let mut resp = Response::default();
        apply(&usage, &mut resp);
        let header = |name: &str| resp.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("x-ratelimit-limit"), "18446744073709551615");
        assert_eq!(header("x-ratelimit-remaining"), "1000");
        assert_eq!(header("x-ratelimit-used"), "0");
        assert_eq!(header("x-ratelimit-reset"), "1767225600");
        assert_eq!(
            header("ratelimit-policy"),
            "\"project\";q=18446744073709551615;w=3600"
        );
        assert_eq!(header("ratelimit"), "\"project\";r=1000;t=1");
        assert_eq!(header("retry-after"), "1");
    }

    #[test]
    fn the_documented_names_are_the_names_sent() {
        for header in WINDOW {
            assert!(
                header.shown.eq_ignore_ascii_case(header.name.as_str()),
                "{} is sent as {}",
                header.shown,
                header.name
            );
        }
    }
}
