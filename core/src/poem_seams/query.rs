//! The query's pairs, put where poem-openapi's extractors read them.

use poem::Request;

/// The router calls an operation's own endpoint, not poem-openapi's service, which would
/// have put the query's pairs in the request before routing to it. The type is exported
/// only from poem-openapi's doc-hidden `__private` module, which its generated code uses
/// too: an upgrade that renames it fails to compile here, and one that reads the pairs
/// elsewhere fails `tests::poem_openapi_reads_the_query_from_url_query`. Only operations
/// that declare query parameters read it, so the router hands it to those alone.
pub(crate) fn hand_over(req: &mut Request) {
    let pairs: Vec<(String, String)> = req.params().unwrap_or_default();
    req.extensions_mut()
        .insert(poem_openapi::__private::UrlQuery(pairs));
}

#[cfg(test)]
mod tests {
    use std::panic::AssertUnwindSafe;

    use futures_util::FutureExt;

    use crate::poem_seams::probe;

    #[tokio::test]
    async fn poem_openapi_reads_the_query_from_url_query() {
        let (status, body) = probe::answer("/things?limit=7", true).await;
        assert_eq!((status, body.as_str()), (200, "limit=Some(7)"));
        // Without the hand-over the extractor finds no `UrlQuery` and panics.
        let without = AssertUnwindSafe(probe::call("/things?limit=7", false)).catch_unwind();
        assert!(
            without.await.is_err(),
            "poem-openapi read the query elsewhere"
        );
    }
}
