//! Path parameters, which poem-openapi routes and names by position (`:param0`), not by
//! the names the document gives them.

use poem::Request;
use poem_openapi::error::ParsePathError;

/// The name poem-openapi gives the path parameter at `position`.
fn positional(position: usize) -> String {
    format!("param{position}")
}

/// The `{name}`s of an OpenAPI path, in order.
fn names(openapi_path: &str) -> Vec<String> {
    openapi_path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

/// `/metrics/{metric_id}` (OpenAPI) → `/metrics/:param0` (poem), as poem-openapi's
/// `add_routes` lists its endpoints: its extractors read path parameters by position.
pub(crate) fn poem_path(openapi_path: &str) -> String {
    let mut placeholders = 0;
    openapi_path
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                placeholders += 1;
                format!(":{}", positional(placeholders - 1))
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// An operation's path parameters: poem-openapi's positional name and the document's
/// name for each, in order.
pub(crate) struct PathParams(Vec<(String, String)>);

impl PathParams {
    pub(crate) fn of(openapi_path: &str) -> PathParams {
        let names = names(openapi_path).into_iter().enumerate();
        PathParams(names.map(|(i, name)| (positional(i), name)).collect())
    }

    /// The first parameter the route matched but poem did not pass on. poem leaves out
    /// a segment that is not UTF-8 once percent-decoded (`%FF`), and the extractor would
    /// then call it missing, by its positional name.
    pub(crate) fn undecodable(&self, req: &Request) -> Option<&str> {
        self.0
            .iter()
            .find(|(positional, _)| req.raw_path_param(positional).is_none())
            .map(|(_, name)| name.as_str())
    }

    /// A path parameter poem-openapi refused: the document's name for it and
    /// poem-openapi's reason.
    pub(crate) fn refused<'a>(&'a self, err: &'a poem::Error) -> Option<(&'a str, &'a str)> {
        let err = err.downcast_ref::<ParsePathError>()?;
        let (_, name) = self
            .0
            .iter()
            .find(|(positional, _)| positional == err.name)?;
        Some((name, &err.reason))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use poem_openapi::OpenApi;

    use super::*;
    use crate::poem_seams::probe::{self, Probe};

    #[test]
    fn openapi_placeholders_become_positional_poem_params() {
        assert_eq!(
            poem_path("/metrics/{metric_id}/timeseries"),
            "/metrics/:param0/timeseries"
        );
        assert_eq!(poem_path("/a/{x}/b/{y}"), "/a/:param0/b/:param1");
        assert_eq!(poem_path("/health"), "/health");
        assert_eq!(names("/a/{x}/b/{y}"), ["x", "y"]);
    }

    #[test]
    fn poem_openapi_lists_its_endpoints_under_positional_paths() {
        let mut table = HashMap::new();
        Probe.add_routes(&mut table);
        assert!(
            table.contains_key(&poem_path(probe::PART_PATH)),
            "{:?}",
            table.keys()
        );
    }

    #[tokio::test]
    async fn poem_openapi_names_a_rejected_path_parameter_by_position() {
        let params = PathParams::of(probe::PART_PATH);
        let err = probe::call("/things/abc/parts/x", true).await.unwrap_err();
        let (name, reason) = params.refused(&err).expect("a positional path error");
        assert_eq!(name, "thing_id");
        assert!(reason.starts_with("failed to parse \"integer"), "{reason}");
    }

    #[tokio::test]
    async fn poem_leaves_out_a_path_segment_that_is_not_utf8() {
        // Without the check, poem-openapi calls the segment missing, by position.
        let params = PathParams::of(probe::PART_PATH);
        let err = probe::call("/things/12/parts/%FF", false)
            .await
            .unwrap_err();
        let (name, reason) = params.refused(&err).expect("a positional path error");
        assert_eq!(name, "part");
        assert!(reason.ends_with("expects an input value."), "{reason}");
        // With it, the segment is named.
        let err = probe::call("/things/12/parts/%FF", true).await.unwrap_err();
        assert_eq!(err.to_string(), "undecodable: part");
        let (status, body) = probe::answer("/things/12/parts/%C3%A9", true).await;
        assert_eq!((status, body.as_str()), (200, "12/é"));
    }
}
