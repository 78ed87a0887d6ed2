//! Event type names: core's own, and the `<plugin>.<event>` form every type has.

/// The types core publishes; plugins add `<plugin>.<event>` types of their own.
pub const BUILT_IN_TYPES: [&str; 6] = [
    "metrics.imported",
    "api_key.created",
    "api_key.revoked",
    "rate_limit.warning",
    "rate_limit.exceeded",
    "webhook.test",
];

/// `<plugin>.<event>`: two names of lowercase letters, digits and `_`, each starting
/// with a letter, at most 64 characters in all.
pub fn is_event_type(name: &str) -> bool {
    let part = |p: &str| {
        p.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    name.len() <= 64
        && name
            .split_once('.')
            .is_some_and(|(a, b)| part(a) && part(b))
}

/// Checks a type a user subscribes to: a built-in type, or one a loaded plugin declares.
pub fn check_type(name: &str, plugin_types: &[String]) -> Result<(), String> {
    if BUILT_IN_TYPES.contains(&name) || plugin_types.iter().any(|t| t == name) {
        return Ok(());
    }
    let mut known: Vec<&str> = BUILT_IN_TYPES.to_vec();
    known.extend(plugin_types.iter().map(String::as_str));
    Err(format!(
        "unknown event type `{name}`; known types: {}",
        known.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_plugin_dot_event() {
        assert!(is_event_type("metrics.imported"));
        assert!(is_event_type("goals.reached_2"));
        for bad in ["metrics", ".x", "x.", "Metrics.x", "a.b.c", "a.b-c", "1a.b"] {
            assert!(!is_event_type(bad), "{bad}");
        }
    }

    #[test]
    fn subscriptions_name_known_types() {
        let declared = vec!["goals.reached".to_owned()];
        assert!(check_type("api_key.revoked", &declared).is_ok());
        assert!(check_type("goals.reached", &declared).is_ok());
        let err = check_type("metrics.deleted", &declared).unwrap_err();
        assert!(
            err.contains("unknown event type `metrics.deleted`"),
            "{err}"
        );
        assert!(
            err.contains("goals.reached"),
            "the known types are listed: {err}"
        );
        assert!(check_type("goals.missed", &declared).is_err());
    }
}
