//! What every list shares: the `pagination` object, the checks on `limit` and `offset`,
//! and the `Link` header to the next and previous pages.

use poem::http::Uri;
use poem_openapi::Object;

/// Results per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest `limit`.
pub const MAX_LIMIT: u32 = 1000;

pub fn default_limit() -> u32 {
    DEFAULT_LIMIT
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
