//! Fuzzes the list query string's parsers: `dates::parse` (both bounds) and
//! `dates::range`, the metrics `Filter::parse`, `Cursor::decode`, and the public key and
//! request-id checks (the key-in-query detector itself is private to core). No input may
//! panic them, and what they accept must satisfy their documented invariants.
#![no_main]

use dashtray_core::{auth::key, dates, http::request_id};
use dashtray_metrics::points::{is_metric_id, Cursor, Filter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    // The whole input as each value, then as `name=value&...` pairs.
    check_value(query);
    let mut metric_id = None;
    let mut start = None;
    let mut end = None;
    let mut cursor = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        check_value(value);
        match name {
            "metric_id" => metric_id = Some(value),
            "start_date" => start = Some(value),
            "end_date" => end = Some(value),
            "cursor" => cursor = Some(value),
            _ => {}
        }
    }
    check_filter(metric_id, start, end);
    if let Some(cursor) = cursor {
        check_cursor(cursor);
    }
});

fn check_value(value: &str) {
    for bound in [dates::Bound::Start, dates::Bound::End] {
        if let Err(message) = dates::parse(value, bound) {
            assert_eq!(message, dates::EXPECTED);
        }
    }
    if let (Ok(start), Ok(end)) = (
        dates::parse(value, dates::Bound::Start),
        dates::parse(value, dates::Bound::End),
    ) {
        assert!(start <= end, "{value:?}: {start} > {end}");
        assert_eq!(
            dates::range(Some(value), Some(value)).ok(),
            Some((Some(start), Some(end)))
        );
    }
    check_filter(Some(value), None, None);
    check_cursor(value);
    if let Some(public_id) = key::parse(value) {
        assert_eq!(public_id, &value[3..15]);
    }
    let _ = request_id::accept(value);
}

fn check_filter(metric_id: Option<&str>, start: Option<&str>, end: Option<&str>) {
    if let Ok(filter) = Filter::parse(metric_id, start, end) {
        assert!(filter.metric_ids.iter().all(|id| is_metric_id(id)));
        assert!(filter.metric_ids.windows(2).all(|w| w[0] < w[1]));
        if let (Some(s), Some(e)) = (filter.start, filter.end) {
            assert!(s <= e);
        }
    }
}

fn check_cursor(text: &str) {
    if let Ok(cursor) = Cursor::decode(text) {
        assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
    }
}
