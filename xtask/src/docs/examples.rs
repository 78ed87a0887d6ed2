//! The parameter values the snippets send: one table, by parameter name (query or path),
//! chosen to answer with data on the demo data set (`dashtray serve --demo`). A required
//! parameter missing here stops `cargo xtask docs`, so a new one cannot ship untried.

use anyhow::{bail, Context};
use serde_json::Value;

use super::schema::literal;
use super::spec::Parameter;

/// (parameter name, value). Optional parameters not listed (e.g. `offset`) are left out
/// of the snippets, which then show the API's default.
const EXAMPLES: [(&str, &str); 8] = [
    ("agg", "avg"),
    ("dashboard_id", "dsh_DemoRevenue00001"),
    ("end_date", "2025-03-31"),
    ("integration_id", "int_DemoStripe000001"),
    ("interval", "week"),
    ("limit", "5"),
    ("metric_id", "mrr"),
    ("start_date", "2025-01-01"),
];

/// (operation id, parameter name, value): where one operation's parameter takes values
/// the table above does not fit (`getUsage` buckets by hour or day only).
const OPERATION_EXAMPLES: [(&str, &str, &str); 1] = [("getUsage", "interval", "day")];

/// The value a snippet of `operation_id` sends for `parameter`, if it sends one.
pub fn value(operation_id: &str, parameter: &Parameter) -> anyhow::Result<Option<&'static str>> {
    let own = OPERATION_EXAMPLES
        .iter()
        .find(|(op, name, _)| *op == operation_id && *name == parameter.name)
        .map(|(_, _, value)| *value);
    let found = own.or_else(|| {
        EXAMPLES
            .iter()
            .find(|(name, _)| *name == parameter.name)
            .map(|(_, value)| *value)
    });
    match found {
        Some(value) => {
            fits(parameter, value).with_context(|| format!("example `{}={value}`", parameter.name))?;
            Ok(Some(value))
        }
        None if parameter.required => bail!(
            "required {} parameter `{}` has no example value: add one to xtask/src/docs/examples.rs",
            parameter.location,
            parameter.name
        ),
        None => Ok(None),
    }
}

/// The value must be one the parameter accepts, and plain enough to sit unescaped in a
/// quoted string in every language and, for a path, in a URL.
fn fits(parameter: &Parameter, value: &str) -> anyhow::Result<()> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
    let query_plain = |c: char| plain(c) || ",:".contains(c);
    let ok = if parameter.location == "path" {
        value.chars().all(plain)
    } else {
        value.chars().all(query_plain)
    };
    if value.is_empty() || !ok {
        bail!("use letters, digits and `-._~` (and `,:` in a query) only");
    }
    if let Some(allowed) = parameter.schema.get("enum").and_then(Value::as_array) {
        if !allowed.iter().any(|a| literal(a) == value) {
            bail!("not one of the parameter's values");
        }
    }
    let number = value.parse::<f64>().ok();
    let bound = |key: &str| parameter.schema.get(key).and_then(Value::as_f64);
    if let (Some(n), Some(min)) = (number, bound("minimum")) {
        if n < min {
            bail!("below the minimum {min}");
        }
    }
    if let (Some(n), Some(max)) = (number, bound("maximum")) {
        if n > max {
            bail!("above the maximum {max}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameter(name: &str, required: bool, schema: Value) -> Parameter {
        Parameter {
            name: name.into(),
            location: "query".into(),
            required,
            description: String::new(),
            schema: schema.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn examples_come_from_the_table_and_fit_the_parameter() {
        let limit = parameter(
            "limit",
            false,
            serde_json::json!({"minimum": 1.0, "maximum": 1000.0}),
        );
        assert_eq!(value("listMetrics", &limit).unwrap(), Some("5"));
        let offset = parameter("offset", false, serde_json::json!({}));
        assert_eq!(value("listMetrics", &offset).unwrap(), None);
        let tiny = parameter("limit", false, serde_json::json!({"maximum": 2}));
        assert!(value("listMetrics", &tiny).is_err());
        let agg = parameter("agg", false, serde_json::json!({"enum": ["sum", "max"]}));
        assert!(value("listMetrics", &agg).is_err());
        let usage_interval = parameter(
            "interval",
            false,
            serde_json::json!({"enum": ["hour", "day"]}),
        );
        assert_eq!(value("getUsage", &usage_interval).unwrap(), Some("day"));
        assert!(
            value("getMetricTimeseries", &usage_interval).is_err(),
            "week is not in its enum"
        );
    }

    #[test]
    fn a_required_parameter_without_an_example_is_an_error() {
        let unknown = parameter("cursor", true, serde_json::json!({}));
        let err = value("listMetrics", &unknown).unwrap_err().to_string();
        assert!(
            err.contains("`cursor`") && err.contains("examples.rs"),
            "{err}"
        );
    }
}
