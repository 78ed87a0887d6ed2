//! Property tests guarding core's input parsers and the spec merger: `dates` (query
//! bounds), `auth::key::parse` (API keys), `http::request_id::accept` and
//! `spec::merge::merge` (order independence and named clashes).

mod support;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, FixedOffset, NaiveDate, TimeZone};
use dashtray_core::{
    auth::key,
    dates::{self, Bound},
    http::request_id,
    spec::merge::{merge, Fragment, MergeError, METHODS},
    ErrorCode,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::{key_from_parts, model_checksum, BASE62};

const DAY_MS: i64 = 86_400_000;

/// 256 cases unless `PROPTEST_CASES` says otherwise; no regression files are written
/// (a failure prints its minimal input, which belongs in a named test).
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// dates
// ---------------------------------------------------------------------------------------

/// Any real calendar day from 0000-01-01 to 9999-12-31 (the years `%Y` renders in 4 digits).
fn any_date() -> impl Strategy<Value = NaiveDate> {
    (0i32..=9999, 1u32..=12, 1u32..=31).prop_filter_map("not a real day", |(y, m, d)| {
        NaiveDate::from_ymd_opt(y, m, d)
    })
}

/// An RFC 3339 date-time with a `Z` or `±hh:mm` offset, and the instant chrono computes.
fn any_date_time() -> impl Strategy<Value = (String, i64)> {
    (
        any_date(),
        (0u32..24, 0u32..60, 0u32..60),
        // 0-9 fractional digits.
        proptest::option::of((1usize..=9, 0u32..1_000_000_000)),
        // None: `Z`; otherwise the offset in minutes.
        proptest::option::of(-(23 * 60 + 59)..=(23i32 * 60 + 59)),
    )
        .prop_map(|(date, (h, mi, s), fraction, offset)| {
            let (frac_text, nanos) = match fraction {
                None => (String::new(), 0),
                Some((digits, raw)) => {
                    let scale = 10u32.pow(9 - digits as u32);
                    let kept = raw / scale;
                    (format!(".{kept:0digits$}"), kept * scale)
                }
            };
            let offset_minutes = offset.unwrap_or(0);
            let offset_text = match offset {
                None => "Z".to_owned(),
                Some(m) => {
                    let sign = if m < 0 { '-' } else { '+' };
                    format!("{sign}{:02}:{:02}", m.abs() / 60, m.abs() % 60)
                }
            };
            let text = format!(
                "{:04}-{:02}-{:02}T{h:02}:{mi:02}:{s:02}{frac_text}{offset_text}",
                date.year(),
                date.month(),
                date.day()
            );
            let local = date.and_hms_nano_opt(h, mi, s, nanos).expect("valid time");
            let expected = FixedOffset::east_opt(offset_minutes * 60)
                .expect("offset within a day")
                .from_local_datetime(&local)
                .single()
                .expect("a fixed offset is never ambiguous")
                .timestamp_millis();
            (text, expected)
        })
}

/// Strings that look like dates or date-times, to reach deep into the parsers.
fn date_ish() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,3}",
        "[-+ 0-9]{0,4}[0-9]{0,4}-[0-9 ]{0,3}-[0-9 ]{0,3}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?([Zz]|[-+][0-9]{2}:?[0-9]{2})?",
        "[-+0-9:TZ. ]{0,32}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_date_covers_its_whole_utc_day(date in any_date()) {
        let text = date.format("%Y-%m-%d").to_string();
        prop_assert_eq!(text.len(), 10);
        let start = date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis();
        prop_assert_eq!(dates::parse(&text, Bound::Start), Ok(start));
        prop_assert_eq!(dates::parse(&text, Bound::End), Ok(start + DAY_MS - 1));
        prop_assert_eq!(start + 86_399_999, start + DAY_MS - 1);
    }

    #[test]
    fn a_date_time_with_an_offset_is_the_instant_chrono_computes(
        (text, expected) in any_date_time()
    ) {
        prop_assert_eq!(dates::parse(&text, Bound::Start), Ok(expected), "{}", text);
        prop_assert_eq!(dates::parse(&text, Bound::End), Ok(expected), "{}", text);
    }

    #[test]
    fn any_string_is_a_bound_or_the_documented_message(text in date_ish()) {
        for bound in [Bound::Start, Bound::End] {
            match dates::parse(&text, bound) {
                Ok(_) => {}
                Err(message) => prop_assert_eq!(message, dates::EXPECTED),
            }
        }
    }

    #[test]
    fn range_refuses_start_after_end_naming_start_date(
        a in prop_oneof![
            any_date().prop_map(|d| d.format("%Y-%m-%d").to_string()),
            any_date_time().prop_map(|(t, _)| t),
        ],
        b in prop_oneof![
            any_date().prop_map(|d| d.format("%Y-%m-%d").to_string()),
            any_date_time().prop_map(|(t, _)| t),
        ],
    ) {
        let start = dates::parse(&a, Bound::Start).unwrap();
        let end = dates::parse(&b, Bound::End).unwrap();
        match dates::range(Some(&a), Some(&b)) {
            Ok(bounds) => {
                prop_assert!(start <= end, "{} .. {} accepted", a, b);
                prop_assert_eq!(bounds, (Some(start), Some(end)));
            }
            Err(err) => {
                prop_assert!(start > end, "{} .. {} refused: {}", a, b, err.message());
                prop_assert_eq!(err.code(), ErrorCode::InvalidParameter);
                prop_assert_eq!(err.details().len(), 1);
                prop_assert_eq!(&err.details()[0].parameter, "start_date");
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// A date-only value is exactly `YYYY-MM-DD` in digits: chrono's `%Y-%m-%d` alone also
    /// takes signs and space padding (`" 2024-01-1"`, `"+2024-1-01"`, `"-001-01-01"`).
    #[test]
    fn a_date_only_bound_is_accepted_only_as_yyyy_mm_dd(
        text in (
            "[-+ ]?[0-9]{1,4}",
            "( [1-9]|0[1-9]|1[0-2]|[1-9])",
            "( [1-9]|0[1-9]|1[0-9]|2[0-8]|[1-9])",
        )
            .prop_map(|(y, m, d)| format!("{y}-{m}-{d}"))
            .prop_filter("ten characters", |t| t.len() == 10)
    ) {
        if let Ok(ms) = dates::parse(&text, Bound::Start) {
            let day = chrono::DateTime::from_timestamp_millis(ms).unwrap().date_naive();
            prop_assert_eq!(&text, &day.format("%Y-%m-%d").to_string(), "accepted {:?}", text);
        }
    }
}

// ---------------------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------------------

/// A well-formed key built from chosen parts, and its public id.
fn any_key() -> impl Strategy<Value = (String, String)> {
    (
        proptest::collection::vec(proptest::sample::select(BASE62.as_slice()), 12),
        proptest::collection::vec(proptest::sample::select(BASE62.as_slice()), 43),
    )
        .prop_map(|(id, secret)| {
            let public_id = String::from_utf8(id).unwrap();
            let secret = String::from_utf8(secret).unwrap();
            (key_from_parts(&public_id, &secret), public_id)
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_model_checksum_is_the_one_generate_uses(_round in 0u8..8) {
        let new = key::generate();
        let (body, sum) = new.key.split_at(new.key.len() - key::CHECKSUM_LEN);
        prop_assert_eq!(model_checksum(body), sum);
        prop_assert_eq!(key::parse(&new.key), Some(new.public_id.as_str()));
    }

    #[test]
    fn every_well_formed_key_parses_to_its_public_id((k, public_id) in any_key()) {
        prop_assert_eq!(k.len(), 3 + key::PUBLIC_ID_LEN + 1 + key::SECRET_LEN + key::CHECKSUM_LEN);
        prop_assert_eq!(key::parse(&k), Some(public_id.as_str()));
    }

    #[test]
    fn any_single_byte_change_is_refused(
        (k, _) in any_key(),
        at in any::<prop::sample::Index>(),
        replacement in any::<char>(),
    ) {
        let i = at.index(k.len());
        let original = k.as_bytes()[i] as char;
        prop_assume!(replacement != original);
        let mut changed = k.clone();
        changed.replace_range(i..i + 1, replacement.encode_utf8(&mut [0; 4]));
        prop_assert_eq!(key::parse(&changed), None, "{} (byte {} -> {:?})", changed, i, replacement);
    }

    #[test]
    fn any_ascii_byte_change_is_refused(
        (k, _) in any_key(),
        at in any::<prop::sample::Index>(),
        replacement in 0u8..128,
    ) {
        let i = at.index(k.len());
        prop_assume!(replacement != k.as_bytes()[i]);
        let mut bytes = k.into_bytes();
        bytes[i] = replacement;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert_eq!(key::parse(&changed), None, "{:?} (byte {})", changed, i);
    }

    #[test]
    fn any_string_parses_without_panicking(
        text in prop_oneof![
            any::<String>(),
            "dk_[0-9A-Za-z_é]{0,70}",
            any_key().prop_map(|(k, _)| k[..k.len() - 1].to_owned()),
        ]
    ) {
        if let Some(public_id) = key::parse(&text) {
            // Only what the checksum vouches for is accepted.
            let (body, sum) = text.split_at(text.len() - key::CHECKSUM_LEN);
            prop_assert_eq!(model_checksum(body), sum);
            prop_assert_eq!(public_id, &text[3..15]);
        }
    }
}

// ---------------------------------------------------------------------------------------
// request ids
// ---------------------------------------------------------------------------------------

fn model_accept(candidate: &str) -> bool {
    (1..=128).contains(&candidate.chars().count())
        && candidate
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn well_formed_request_ids_are_accepted(id in "[A-Za-z0-9._-]{1,128}") {
        prop_assert!(request_id::accept(&id), "{:?}", id);
    }

    #[test]
    fn request_ids_are_accepted_exactly_when_well_formed(
        id in prop_oneof![
            "[A-Za-z0-9._-]{0,140}",
            "[A-Za-z0-9._-]{0,70}[^A-Za-z0-9._-][A-Za-z0-9._-]{0,70}",
            "[A-Za-z0-9._-]{125,131}",
            any::<String>(),
        ]
    ) {
        prop_assert_eq!(request_id::accept(&id), model_accept(&id), "{:?}", id);
    }
}

// ---------------------------------------------------------------------------------------
// spec merger
// ---------------------------------------------------------------------------------------

/// One operation of a generated plugin document.
#[derive(Debug, Clone)]
struct Op {
    path: String,
    method: String,
    id: String,
    /// A schema of the plugin's own the response points at.
    schema_ref: Option<String>,
    tagged: bool,
}

#[derive(Debug, Clone)]
struct Plugin {
    name: String,
    ops: Vec<Op>,
    /// Names of schemas from the shared pool this plugin declares.
    schemas: BTreeSet<String>,
}

/// The shape every plugin gives a schema name: equal across plugins, so no conflict.
fn schema_shape(name: &str) -> Value {
    json!({"type": "object", "title": name, "properties": {"id": {"type": "string"}}})
}

fn document(plugin: &Plugin) -> Fragment {
    let mut paths = serde_json::Map::new();
    for op in &plugin.ops {
        let mut operation =
            json!({"operationId": op.id, "responses": {"200": {"description": "ok"}}});
        if let Some(schema) = &op.schema_ref {
            operation["responses"]["200"]["content"] = json!({"application/json":
                {"schema": {"$ref": format!("#/components/schemas/{schema}")}}});
        }
        if op.tagged {
            operation["tags"] = json!([format!("tag_{}", op.id)]);
        }
        paths
            .entry(op.path.clone())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .unwrap()
            .insert(op.method.clone(), operation);
    }
    let schemas: serde_json::Map<String, Value> = plugin
        .schemas
        .iter()
        .map(|name| (name.clone(), schema_shape(name)))
        .collect();
    let tags: Vec<Value> = plugin
        .ops
        .iter()
        .filter(|op| op.tagged)
        .map(|op| json!({"name": format!("tag_{}", op.id), "description": op.id}))
        .collect();
    Fragment {
        plugin: plugin.name.clone(),
        spec: json!({"paths": paths, "components": {"schemas": schemas}, "tags": tags}),
    }
}

/// 1-6 plugins whose operations have distinct (path, method) pairs and operationIds.
fn any_plugins() -> impl Strategy<Value = Vec<Plugin>> {
    let op_key = (
        "/[a-z]{1,6}(/[a-z]{1,4})?",
        proptest::sample::select(METHODS.as_slice()),
    );
    (
        1usize..=6,
        proptest::collection::btree_map(op_key, ("[a-z]{1,8}", any::<bool>()), 1..24),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 24),
        proptest::collection::vec(proptest::collection::btree_set("[A-F]", 0..4), 6),
    )
        .prop_map(|(n, ops, picks, schema_sets)| {
            let mut plugins: Vec<Plugin> = (0..n)
                .map(|i| Plugin {
                    name: format!("plugin{i}"),
                    ops: Vec::new(),
                    schemas: schema_sets[i].iter().map(|s| format!("S{s}")).collect(),
                })
                .collect();
            for (i, ((path, method), (id, tagged))) in ops.into_iter().enumerate() {
                let (owner, use_schema) = picks[i];
                let plugin = &mut plugins[owner.index(n)];
                let schema_ref = if use_schema {
                    plugin.schemas.iter().next().cloned()
                } else {
                    None
                };
                plugin.ops.push(Op {
                    path,
                    method: method.to_string(),
                    // Random names made distinct by their position.
                    id: format!("op_{id}_{i}"),
                    schema_ref,
                    tagged,
                });
            }
            plugins
        })
}

fn no_shared() -> BTreeMap<String, BTreeMap<String, Value>> {
    BTreeMap::new()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn distinct_fragments_merge_the_same_in_any_order(
        (plugins, shuffled) in any_plugins()
            .prop_flat_map(|p| (Just(p.clone()), Just(p).prop_shuffle()))
    ) {
        let one: Vec<Fragment> = plugins.iter().map(document).collect();
        let two: Vec<Fragment> = shuffled.iter().map(document).collect();
        let a = merge(&one, &no_shared()).expect("distinct fragments merge");
        let b = merge(&two, &no_shared()).expect("distinct fragments merge in any order");
        prop_assert_eq!(&a.paths, &b.paths);
        prop_assert_eq!(&a.components, &b.components);
        prop_assert_eq!(&a.tags, &b.tags);
        prop_assert_eq!(&a.operation_owner, &b.operation_owner);

        // And the union holds every operation, owned and tagged as its plugin declared it.
        for plugin in &plugins {
            for op in &plugin.ops {
                let merged = &a.paths[&op.path][&op.method];
                prop_assert_eq!(&merged["operationId"], &json!(op.id));
                prop_assert_eq!(&a.operation_owner[&op.id], &plugin.name);
                let tag = if op.tagged { format!("tag_{}", op.id) } else { plugin.name.clone() };
                prop_assert_eq!(&merged["tags"], &json!([tag]));
            }
        }
        let total: usize = plugins.iter().map(|p| p.ops.len()).sum();
        prop_assert_eq!(a.paths.values().map(BTreeMap::len).sum::<usize>(), total);
        let declared: BTreeSet<&String> = plugins.iter().flat_map(|p| &p.schemas).collect();
        let merged: BTreeSet<&String> =
            a.components.get("schemas").map(|s| s.keys().collect()).unwrap_or_default();
        prop_assert_eq!(merged, declared);
    }

    #[test]
    fn repeating_a_path_and_method_is_the_named_clash(
        plugins in any_plugins(),
        victim in any::<prop::sample::Index>(),
        position in any::<prop::sample::Index>(),
    ) {
        let all: Vec<(&Plugin, &Op)> =
            plugins.iter().flat_map(|p| p.ops.iter().map(move |op| (p, op))).collect();
        prop_assume!(!all.is_empty());
        let (owner, op) = all[victim.index(all.len())];
        let intruder = Plugin {
            name: "intruder".into(),
            ops: vec![Op {
                path: op.path.clone(),
                method: op.method.clone(),
                id: "intruder_fresh_id".into(),
                schema_ref: None,
                tagged: false,
            }],
            schemas: BTreeSet::new(),
        };
        let (err, intruder_first) = merged_with(&plugins, intruder, owner, position);
        let (first, second) = order(&owner.name, intruder_first);
        prop_assert_eq!(
            &err,
            &MergeError::DuplicateOperation {
                method: op.method.to_uppercase(),
                path: op.path.clone(),
                first: first.clone(),
                second: second.clone(),
            }
        );
        let expected = format!(
            "plugins `{first}` and `{second}` both define {} {}",
            op.method.to_uppercase(),
            op.path
        );
        prop_assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn repeating_an_operation_id_is_the_named_clash(
        plugins in any_plugins(),
        victim in any::<prop::sample::Index>(),
        position in any::<prop::sample::Index>(),
    ) {
        let all: Vec<(&Plugin, &Op)> =
            plugins.iter().flat_map(|p| p.ops.iter().map(move |op| (p, op))).collect();
        prop_assume!(!all.is_empty());
        let (owner, op) = all[victim.index(all.len())];
        let intruder = Plugin {
            name: "intruder".into(),
            // Generated paths have segments of at most 6 letters: this one is fresh.
            ops: vec![Op {
                path: "/intruder/only".into(),
                method: "get".into(),
                id: op.id.clone(),
                schema_ref: None,
                tagged: false,
            }],
            schemas: BTreeSet::new(),
        };
        let (err, intruder_first) = merged_with(&plugins, intruder, owner, position);
        let (first, second) = order(&owner.name, intruder_first);
        prop_assert_eq!(
            &err,
            &MergeError::DuplicateOperationId {
                operation_id: op.id.clone(),
                first: first.clone(),
                second: second.clone(),
            }
        );
        let expected =
            format!("plugins `{first}` and `{second}` both use the operationId `{}`", op.id);
        prop_assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn a_schema_of_another_shape_is_the_named_clash(
        plugins in any_plugins(),
        position in any::<prop::sample::Index>(),
    ) {
        // Rejected, not passed: a case without a schema is drawn again rather than
        // counted as a success that checked nothing.
        let owner = plugins.iter().find(|p| !p.schemas.is_empty());
        prop_assume!(owner.is_some());
        let owner = owner.unwrap();
        let name = owner.schemas.iter().next().unwrap().clone();
        let mut fragments: Vec<Fragment> = plugins.iter().map(document).collect();
        let at = position.index(fragments.len() + 1);
        fragments.insert(at, Fragment {
            plugin: "intruder".into(),
            spec: json!({"components": {"schemas": {name.clone(): {"type": "string"}}}}),
        });
        let err = merge(&fragments, &no_shared()).unwrap_err();
        // Every plugin gives the name one shape: the first to declare it owns it, and the
        // first to declare another shape after it is named second.
        let declaring: Vec<&str> = fragments
            .iter()
            .filter(|f| f.spec["components"]["schemas"].get(&name).is_some())
            .map(|f| f.plugin.as_str())
            .collect();
        let first = declaring[0].to_owned();
        let second = if first == "intruder" { declaring[1] } else { "intruder" }.to_owned();
        prop_assert_eq!(
            err,
            MergeError::ComponentConflict {
                kind: "schema".into(),
                name,
                first,
                second,
            }
        );
    }
}

/// Merges `plugins` with `intruder` inserted at a random position; the error, and
/// whether the intruder came before `owner`.
fn merged_with(
    plugins: &[Plugin],
    intruder: Plugin,
    owner: &Plugin,
    position: prop::sample::Index,
) -> (MergeError, bool) {
    let mut fragments: Vec<Fragment> = plugins.iter().map(document).collect();
    let at = position.index(fragments.len() + 1);
    fragments.insert(at, document(&intruder));
    let owner_at = fragments
        .iter()
        .position(|f| f.plugin == owner.name)
        .unwrap();
    let err = merge(&fragments, &no_shared()).expect_err("a repeated operation clashes");
    (err, at < owner_at)
}

fn order(owner: &str, intruder_first: bool) -> (String, String) {
    if intruder_first {
        ("intruder".into(), owner.into())
    } else {
        (owner.into(), "intruder".into())
    }
}

proptest! {
    #![proptest_config(config())]

    /// Two plugins describing one tag differently give the same document whatever their
    /// order.
    #[test]
    fn tags_merge_the_same_in_any_order(
        (tags, shuffled) in proptest::collection::vec(
            proptest::collection::btree_set("t[ab]", 0..3), 1..5)
            .prop_flat_map(|t| (Just(t.clone()), Just(t).prop_shuffle()))
    ) {
        let fragments = |sets: &[BTreeSet<String>]| -> Vec<Fragment> {
            sets.iter()
                .enumerate()
                .map(|(i, names)| Fragment {
                    plugin: format!("p{i}"),
                    spec: json!({"tags": names.iter()
                        .map(|n| json!({"name": n, "description": format!("{n} of {names:?}")}))
                        .collect::<Vec<_>>()}),
                })
                .collect()
        };
        let a = merge(&fragments(&tags), &no_shared());
        let b = merge(&fragments(&shuffled), &no_shared());
        match (a, b) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a.tags, b.tags),
            (a, b) => prop_assert_eq!(a.is_ok(), b.is_ok()),
        }
    }
}
