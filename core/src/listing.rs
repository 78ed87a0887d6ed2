//! What every list shares: the `limit` and `offset` parameters with SPEC's bounds, the
//! `pagination` object, the page envelope ([`list_page!`](crate::list_page)) and the
//! `Link` header to the next and previous pages.

use std::borrow::Cow;

use poem::http::Uri;
use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromParameter, ParseResult, Type},
    Object,
};

/// Results per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest `limit`.
pub const MAX_LIMIT: u32 = 1000;
/// The largest `offset`: well past any list, and within a signed 64-bit SQL bind.
pub const MAX_OFFSET: u64 = 1_000_000_000_000;

/// `limit`: items per page, 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent. Take it as
/// `limit: Query<Limit>`; the handler's doc comment describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

/// `offset`: items to skip before the page, 0 to [`MAX_OFFSET`], 0 when absent. Take it
/// as `offset: Query<Offset>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset(u64);

impl Limit {
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Offset {
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A whole number within `min..=max`, with the sentences a 400 shows.
fn bounded(value: &str, min: u64, max: u64) -> Result<u64, String> {
    let n: u64 = value
        .parse()
        .map_err(|_| "must be a whole number".to_owned())?;
    if n < min {
        return Err(format!("must be at least {min}"));
    }
    if n > max {
        return Err(format!("must be at most {max}"));
    }
    Ok(n)
}

/// Implements poem-openapi's parameter traits for a bounded whole number with a default:
/// the document shows the bounds and the default, and an absent value is the default.
macro_rules! bounded_parameter {
    ($ty:ident, $inner:ty, $name:literal, $format:literal, $min:expr, $max:expr, $default:expr) => {
        impl Type for $ty {
            const IS_REQUIRED: bool = false;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                // Not `integer...`: the error layer then shows this type's own sentence.
                $name.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    format: Some($format),
                    minimum: Some($min as f64),
                    maximum: Some($max as f64),
                    default: Some(serde_json::Value::from($default)),
                    ..MetaSchema::new("integer")
                }))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(std::iter::once(self))
            }
        }

        impl ParseFromParameter for $ty {
            fn parse_from_parameter(value: &str) -> ParseResult<Self> {
                let n = bounded(value, $min as u64, $max as u64).map_err(ParseError::custom)?;
                Ok($ty(<$inner>::try_from(n).expect("within the bounds")))
            }

            fn parse_from_parameters<I: IntoIterator<Item = A>, A: AsRef<str>>(
                iter: I,
            ) -> ParseResult<Self> {
                match iter.into_iter().next() {
                    Some(value) => Self::parse_from_parameter(value.as_ref()),
                    None => Ok($ty($default)),
                }
            }
        }
    };
}

bounded_parameter!(Limit, u32, "limit", "uint32", 1, MAX_LIMIT, DEFAULT_LIMIT);
bounded_parameter!(Offset, u64, "offset", "uint64", 0, MAX_OFFSET, 0);

/// A list resource's page envelope, `{"data": [...], "pagination": {...}}` (the schema is
/// named after the struct), and the answer carrying it with its `Link` header:
///
/// ```
/// use dashtray_core::listing::{Limit, Offset, Pagination};
///
/// /// A goal.
/// #[derive(Debug, poem_openapi::Object, serde::Serialize)]
/// struct GoalBody {
///     id: String,
/// }
///
/// dashtray_core::list_page! {
///     /// `{"data": [<goal>...], "pagination": {...}}`
///     GoalPage of GoalBody, answered as GoalList: "A page of the project's goals."
/// }
///
/// // In the handler, which took `req: &Request`, `limit: Query<Limit>` and
/// // `offset: Query<Offset>`:
/// fn answer(data: Vec<GoalBody>, total: u64, limit: Limit, offset: Offset, req: &poem::Request) -> GoalList {
///     GoalList::page(data, Pagination::of(limit, offset, total), req)
/// }
/// ```
#[macro_export]
macro_rules! list_page {
    (
        $(#[$meta:meta])*
        $page:ident of $item:ty, answered as $response:ident: $description:literal
    ) => {
        $(#[$meta])*
        #[derive(Debug, poem_openapi::Object, serde::Serialize)]
        struct $page {
            data: Vec<$item>,
            pagination: $crate::listing::Pagination,
        }

        #[derive(poem_openapi::ApiResponse)]
        enum $response {
            #[doc = $description]
            #[oai(status = 200)]
            Ok(
                $crate::Json<$page>,
                /// The neighbouring pages, where they exist: `<url>; rel="next"` and
                /// `<url>; rel="prev"`, URLs relative and keeping the request's other parameters.
                #[oai(header = "Link")]
                Option<String>,
            ),
        }

        impl $response {
            /// The page `data` at `pagination`, with `Link` from the request's own URL.
            fn page(
                data: Vec<$item>,
                pagination: $crate::listing::Pagination,
                req: &poem::Request,
            ) -> Self {
                let link = pagination.link_header(req);
                $response::Ok($crate::Json($page { data, pagination }), link)
            }
        }
    };
}

/// Where a page sits in the whole list.
#[derive(Debug, Clone, PartialEq, Eq, Object, serde::Serialize)]
#[oai(rename = "Pagination", rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// The `limit` applied.
    pub limit: u32,
    /// The `offset` applied.
    pub offset: u64,
    /// Items in the whole filtered list.
    pub total: u64,
    /// True when items follow this page.
    pub has_more: bool,
    /// On lists that support it (metrics): the position after this page, to pass as
    /// `cursor` for the next one, which stays fast however deep the list goes.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The list's total when one page shows it, so that no count is needed: a page shorter
/// than its limit ends the list, so the total is the offset plus its rows (unless it is
/// empty past the start, where the offset may overshoot the end). `None`: count.
pub fn total_from_page(offset: u64, limit: u32, rows: usize) -> Option<u64> {
    let short = rows < limit as usize;
    (short && (rows > 0 || offset == 0)).then(|| offset.saturating_add(rows as u64))
}

impl Pagination {
    /// Where the page at `limit` and `offset` sits in a list of `total` items.
    pub fn of(limit: Limit, offset: Offset, total: u64) -> Self {
        Pagination::new(limit.get(), offset.get(), total)
    }

    pub fn new(limit: u32, offset: u64, total: u64) -> Self {
        Pagination {
            limit,
            offset,
            total,
            has_more: offset.saturating_add(u64::from(limit)) < total,
            next_cursor: None,
        }
    }

    /// A page found by cursor: its offset is not known (and is given as 0), whether more
    /// follows is.
    pub fn after_cursor(limit: u32, total: u64, next_cursor: Option<String>) -> Self {
        Pagination {
            limit,
            offset: 0,
            total,
            has_more: next_cursor.is_some(),
            next_cursor,
        }
    }

    pub fn with_next_cursor(mut self, cursor: Option<String>) -> Self {
        self.next_cursor = cursor;
        self
    }

    /// `Link` with `rel="next"` and `rel="prev"` where those pages exist: the request's
    /// own path and query with `offset` moved; relative references, so they survive a
    /// proxy that rewrites the host.
    pub fn link_header(&self, req: &poem::Request) -> Option<String> {
        self.links_from(req.uri())
    }

    fn links_from(&self, uri: &Uri) -> Option<String> {
        let by_cursor = uri
            .query()
            .unwrap_or_default()
            .split('&')
            .any(|p| p.starts_with("cursor="));
        if by_cursor {
            // Cursor pages link forward only: a cursor names the position after a page.
            let next = self.next_cursor.as_ref()?;
            return Some(format!(
                "<{}>; rel=\"next\"",
                with_param(uri, "cursor", next, "offset")
            ));
        }
        let mut links = Vec::new();
        if self.has_more {
            let next = self.offset + u64::from(self.limit);
            links.push(format!("<{}>; rel=\"next\"", page_url(uri, next)));
        }
        if self.offset > 0 {
            let prev = self.offset.saturating_sub(u64::from(self.limit));
            links.push(format!("<{}>; rel=\"prev\"", page_url(uri, prev)));
        }
        (!links.is_empty()).then(|| links.join(", "))
    }
}

fn page_url(uri: &Uri, offset: u64) -> String {
    with_param(uri, "offset", &offset.to_string(), "cursor")
}

/// The request's path and query with `name` set to `value` and `drop` removed.
fn with_param(uri: &Uri, name: &str, value: &str, drop: &str) -> String {
    let mut pairs: Vec<String> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| {
            !pair.is_empty()
                && !pair.starts_with(&format!("{name}="))
                && !pair.starts_with(&format!("{drop}="))
        })
        .map(str::to_owned)
        .collect();
    pairs.push(format!("{name}={value}"));
    format!("{}?{}", uri.path(), pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str) -> Uri {
        uri.parse().unwrap()
    }

    #[test]
    fn limit_and_offset_keep_spec_s_bounds_and_defaults() {
        let limit = |v: &[&str]| Limit::parse_from_parameters(v.iter()).map(Limit::get);
        assert_eq!(limit(&[]).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(&["1"]).unwrap(), 1);
        assert_eq!(limit(&["1000"]).unwrap(), MAX_LIMIT);
        let refused = |r: ParseResult<Limit>| r.err().unwrap().into_message();
        let limit_of = |v: &[&str]| Limit::parse_from_parameters(v.iter());
        assert!(refused(limit_of(&["0"])).ends_with("must be at least 1"));
        assert!(refused(limit_of(&["1001"])).ends_with("must be at most 1000"));
        assert!(refused(limit_of(&["ten"])).ends_with("must be a whole number"));
        let offset = |v: &[&str]| Offset::parse_from_parameters(v.iter()).map(Offset::get);
        assert_eq!(offset(&[]).unwrap(), 0);
        assert_eq!(offset(&["1000000000000"]).unwrap(), MAX_OFFSET);
        assert!(offset(&["1000000000001"])
            .err()
            .unwrap()
            .into_message()
            .ends_with("must be at most 1000000000000"));
    }

    #[test]
    fn has_more_until_the_last_page() {
        assert!(Pagination::new(100, 0, 101).has_more);
        assert!(!Pagination::new(100, 1, 101).has_more);
        assert!(!Pagination::new(100, 0, 0).has_more);
    }

    #[test]
    fn links_keep_the_filters_and_move_the_offset() {
        let req = request("/api/v1/metrics?metric_id=mrr&offset=100&limit=50");
        let page = Pagination::new(50, 100, 400);
        assert_eq!(
            page.links_from(&req).unwrap(),
            "</api/v1/metrics?metric_id=mrr&limit=50&offset=150>; rel=\"next\", \
             </api/v1/metrics?metric_id=mrr&limit=50&offset=50>; rel=\"prev\""
        );
        let only = Pagination::new(50, 0, 10);
        assert_eq!(only.links_from(&request("/api/v1/metrics")), None);
    }

    #[test]
    fn cursor_pages_link_forward_with_the_next_cursor() {
        let page = Pagination::after_cursor(10, 400, Some("c2".into()));
        assert_eq!(
            page.links_from(&request("/api/v1/metrics?metric_id=mrr&cursor=c1&limit=10"))
                .unwrap(),
            "</api/v1/metrics?metric_id=mrr&limit=10&cursor=c2>; rel=\"next\""
        );
        let last = Pagination::after_cursor(10, 400, None);
        assert_eq!(last.links_from(&request("/api/v1/metrics?cursor=c1")), None);
    }

    #[test]
    fn a_short_page_tells_the_total_and_a_full_or_empty_deep_one_does_not() {
        assert_eq!(total_from_page(0, 100, 30), Some(30), "a short first page");
        assert_eq!(total_from_page(0, 100, 0), Some(0), "an empty list");
        assert_eq!(total_from_page(200, 100, 5), Some(205), "a short last page");
        assert_eq!(
            total_from_page(0, 100, 100),
            None,
            "a full page: more may follow"
        );
        assert_eq!(
            total_from_page(500, 100, 0),
            None,
            "past the end: the offset overshoots"
        );
    }
}
