//! Property tests guarding the metrics list's query-string parsing: `Filter::parse` (the
//! `metric_id` list and the date bounds), the opaque `Cursor` encode/decode, and the
//! metric id rules that stand in for the patterns the document shows.

use std::collections::BTreeSet;

use dashtray_core::{dates, params::TextRule, ErrorCode};
use dashtray_metrics::points::{
    is_metric_id, Cursor, Filter, MetricIdListRule, MetricIdRule, MAX_METRIC_IDS,
};
use proptest::prelude::*;

/// 256 cases unless `PROPTEST_CASES` says otherwise; no regression files are written
/// (a failure prints its minimal input, which belongs in a named test).
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A valid metric id.
fn metric_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.:-]{1,64}"
}

/// Comma-separated lists, mostly of valid ids with stray spaces, sometimes spoiled.
fn id_list() -> impl Strategy<Value = String> {
    let item = prop_oneof![
        8 => (" {0,2}", metric_id(), "[ \t]{0,2}").prop_map(|(a, id, b)| format!("{a}{id}{b}")),
        1 => Just(String::new()),
        1 => "[A-Za-z0-9_.:-]{0,3}[^A-Za-z0-9_.:,-][A-Za-z0-9_.:-]{0,3}",
        1 => "[a-z]{65,70}",
    ];
    prop_oneof![
        4 => proptest::collection::vec(item, 1..8).prop_map(|items| items.join(",")),
        1 => proptest::collection::vec(prop_oneof![Just("a".to_owned()), Just("b".to_owned())], 95..106)
            .prop_map(|items| items.join(",")),
        1 => any::<String>(),
    ]
}

/// The documented reading of a list: trimmed items, all ids, at most 100 of them.
fn model_ids(list: &str) -> Option<BTreeSet<String>> {
    let items: Vec<&str> = list.split(',').map(str::trim).collect();
    (items.len() <= MAX_METRIC_IDS && items.iter().all(|id| is_metric_id(id)))
        .then(|| items.into_iter().map(str::to_owned).collect())
}

/// The rule's code and the pattern it documents give the same verdict on `value`.
fn agrees<R: TextRule>(value: &str) -> bool {
    R::accepts(value) == regex::Regex::new(R::PATTERN).unwrap().is_match(value)
}

/// Values for `start_date` / `end_date`: real ones, and anything.
fn bound() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,6})?(Z|[-+][0-9]{2}:[0-9]{2})",
        any::<String>(),
    ])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn metric_id_lists_are_checked_sorted_and_deduplicated(list in id_list()) {
        match Filter::parse(Some(&list), None, None) {
            Ok(filter) => {
                prop_assert!(filter.metric_ids.iter().all(|id| is_metric_id(id)), "{:?}", filter);
                prop_assert!(
                    filter.metric_ids.windows(2).all(|w| w[0] < w[1]),
                    "not sorted and deduplicated: {:?}",
                    filter.metric_ids
                );
                let expected = model_ids(&list);
                prop_assert!(expected.is_some(), "accepted {:?}", list);
                let got: BTreeSet<String> = filter.metric_ids.iter().cloned().collect();
                prop_assert_eq!(Some(got), expected);
            }
            Err(err) => {
                prop_assert!(model_ids(&list).is_none(), "refused {:?}: {}", list, err.message());
                prop_assert_eq!(err.code(), ErrorCode::InvalidParameter);
                prop_assert_eq!(err.details().len(), 1);
                prop_assert_eq!(&err.details()[0].parameter, "metric_id");
            }
        }
    }

    /// What a client validates against (the pattern in openapi.yaml) and what the server
    /// checks (the rule's code) must be the same language, or one of them lies.
    #[test]
    fn metric_id_rules_accept_exactly_what_their_patterns_match(
        value in prop_oneof![id_list(), metric_id(), "[A-Za-z0-9_.:,-]{0,70}"],
    ) {
        prop_assert!(agrees::<MetricIdRule>(&value), "{} on {:?}", MetricIdRule::PATTERN, value);
        prop_assert!(
            agrees::<MetricIdListRule>(&value),
            "{} on {:?}",
            MetricIdListRule::PATTERN,
            value
        );
    }

    #[test]
    fn filters_parse_without_panicking(
        list in proptest::option::of(id_list()),
        start in bound(),
        end in bound(),
    ) {
        let result = Filter::parse(list.as_deref(), start.as_deref(), end.as_deref());
        let start_ms = start.as_deref().map(|s| dates::parse(s, dates::Bound::Start));
        let end_ms = end.as_deref().map(|e| dates::parse(e, dates::Bound::End));
        match result {
            Ok(filter) => {
                prop_assert_eq!(filter.start, start_ms.map(Result::unwrap));
                prop_assert_eq!(filter.end, end_ms.map(Result::unwrap));
                if let (Some(s), Some(e)) = (filter.start, filter.end) {
                    prop_assert!(s <= e);
                }
                prop_assert_eq!(filter.metric_ids.is_empty(), list.is_none());
            }
            Err(err) => {
                prop_assert_eq!(err.code(), ErrorCode::InvalidParameter);
                let named: Vec<&str> =
                    err.details().iter().map(|d| d.parameter.as_str()).collect();
                prop_assert!(!named.is_empty());
                for name in named {
                    prop_assert!(
                        ["metric_id", "start_date", "end_date"].contains(&name),
                        "{}", name
                    );
                }
            }
        }
    }

    #[test]
    fn cursors_round_trip(
        timestamp in any::<i64>(),
        id in prop_oneof![
            "pt_[0-9A-Za-z]{16}",
            "pt_demo_[a-z_]{1,20}_[0-9]{3}",
            ".{0,40}",
        ],
    ) {
        let cursor = Cursor { timestamp, id };
        let text = cursor.encode();
        prop_assert!(text.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        prop_assert_eq!(Cursor::decode(&text), Ok(cursor));
    }

    /// Decode refuses text longer than 400 characters, so a cursor round-trips exactly
    /// while `v1.<timestamp>.<id>` fits in 200 bytes; point ids (`pt_` + 16) are far below.
    #[test]
    fn long_cursors_are_refused_not_mangled(
        timestamp in any::<i64>(),
        id in "[a-z]{150,220}",
    ) {
        let cursor = Cursor { timestamp, id };
        let text = cursor.encode();
        match Cursor::decode(&text) {
            Ok(decoded) => {
                prop_assert!(text.len() <= 400);
                prop_assert_eq!(decoded, cursor);
            }
            Err(_) => prop_assert!(text.len() > 400),
        }
    }

    #[test]
    fn decode_never_panics_and_what_it_accepts_is_a_cursor(
        text in prop_oneof![
            any::<String>(),
            "[0-9a-fA-F+ ]{0,80}",
            // "v1." followed by hex pairs: reaches the timestamp and id parsing.
            "(3[0-9]|2[de]|2b|[0-7][0-9a-f]){0,40}".prop_map(|rest| format!("76312e{rest}")),
            ".{0,3}".prop_map(|t| format!("76312e{}", hex(&t))),
        ]
    ) {
        if let Ok(cursor) = Cursor::decode(&text) {
            // Whatever was accepted encodes to a cursor that decodes to the same position.
            prop_assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
        }
    }
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}
