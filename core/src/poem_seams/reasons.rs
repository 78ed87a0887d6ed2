//! poem-openapi's reasons for refusing a parameter, read back into what was refused, so
//! the answer says what is allowed in our words and never shows poem-openapi's.

/// What poem-openapi refused a parameter for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal<'a> {
    /// Above a `maximum` validator's bound.
    AtMost(&'a str),
    /// Below a `minimum` validator's bound.
    AtLeast(&'a str),
    /// Shorter than a `min_length` validator's bound.
    MinLength(&'a str),
    /// Longer than a `max_length` validator's bound.
    MaxLength(&'a str),
    /// Not matching a `pattern` validator.
    Pattern(&'a str),
    /// Another validator.
    OtherCheck,
    /// A required parameter that is absent.
    Missing,
    /// A value the type (named as poem-openapi names it, e.g. `integer(uint32)` or an
    /// enum's name) could not parse; `said` is what the type's own parser said.
    Unparsed {
        type_name: &'a str,
        said: Option<&'a str>,
    },
    /// Wording this module does not know (an upgrade changed it).
    Unknown,
}

/// Reads poem-openapi's reason. Its wording is what this relies on:
/// `verification failed. maximum(1000, exclusive: false)`,
/// `Type "string" expects an input value.`,
/// `failed to parse "integer(uint32)": invalid digit found in string`, each possibly
/// followed by ` (occurred while parsing "optional_...")` for every wrapper type
/// (`Option<T>`) the error passed through.
pub(crate) fn read(reason: &str) -> Refusal<'_> {
    let reason = without_wrappers(reason.lines().next().unwrap_or(reason).trim());
    if let Some(check) = reason.strip_prefix("verification failed. ") {
        return read_check(check);
    }
    if reason.starts_with("Type \"") && reason.ends_with("\" expects an input value.") {
        return Refusal::Missing;
    }
    if let Some(rest) = reason.strip_prefix("failed to parse \"") {
        return match rest.split_once("\": ") {
            Some((type_name, said)) => Refusal::Unparsed {
                type_name,
                said: Some(said),
            },
            None => Refusal::Unparsed {
                type_name: rest.trim_end_matches('"'),
                said: None,
            },
        };
    }
    Refusal::Unknown
}

/// `maximum(1000, exclusive: false)` and the like, as poem-openapi's validators display.
fn read_check(check: &str) -> Refusal<'_> {
    let argument = |name: &str| {
        let inner = check
            .strip_prefix(name)?
            .strip_prefix('(')?
            .strip_suffix(')')?;
        let first = inner.split(',').next()?.trim();
        Some(first.strip_suffix(".0").unwrap_or(first))
    };
    if let Some(n) = argument("maximum") {
        return Refusal::AtMost(n);
    }
    if let Some(n) = argument("minimum") {
        return Refusal::AtLeast(n);
    }
    if let Some(n) = argument("minLength") {
        return Refusal::MinLength(n);
    }
    if let Some(n) = argument("maxLength") {
        return Refusal::MaxLength(n);
    }
    if let Some(pattern) = check
        .strip_prefix("pattern(\"")
        .and_then(|p| p.strip_suffix("\")"))
    {
        return Refusal::Pattern(pattern);
    }
    Refusal::OtherCheck
}

/// Drops the ` (occurred while parsing "...")` that each wrapper type appends.
fn without_wrappers(mut reason: &str) -> &str {
    while let Some((inner, _)) = reason
        .strip_suffix("\")")
        .and_then(|r| r.rsplit_once(" (occurred while parsing \""))
    {
        reason = inner;
    }
    reason
}

#[cfg(test)]
mod tests {
    use poem_openapi::error::ParseParamError;

    use super::*;
    use crate::poem_seams::probe;

    /// The reason poem-openapi gives for the probe's query parameter in `uri`.
    async fn reason_for(uri: &str) -> String {
        let err = probe::call(uri, true).await.expect_err(uri);
        let err = err
            .downcast_ref::<ParseParamError>()
            .unwrap_or_else(|| panic!("{uri}: not a parameter error: {err}"));
        err.reason.clone()
    }

    #[tokio::test]
    async fn poem_openapi_reasons_are_read_as_what_was_refused() {
        let cases = [
            ("/things?limit=1001", Refusal::AtMost("1000")),
            ("/things?limit=0", Refusal::AtLeast("1")),
            ("/things?cursor=", Refusal::MinLength("1")),
            ("/things?cursor=abcd", Refusal::MaxLength("3")),
            ("/search", Refusal::Missing),
            (
                "/things?limit=x",
                Refusal::Unparsed {
                    type_name: "integer(uint32)",
                    said: Some("invalid digit found in string"),
                },
            ),
            (
                "/things?colour=green",
                Refusal::Unparsed {
                    type_name: "Colour",
                    said: Some("Expect a valid enumeration value."),
                },
            ),
            (
                "/things?code=1234",
                Refusal::Unparsed {
                    type_name: "string(pattern)",
                    said: Some("must match `^[0-9]{1,3}$`"),
                },
            ),
        ];
        for (uri, expected) in cases {
            let reason = reason_for(uri).await;
            assert_eq!(read(&reason), expected, "{uri}: {reason}");
        }
    }

    #[test]
    fn each_wrapper_type_s_note_is_dropped() {
        assert_eq!(
            read("failed to parse \"string(pattern)\": must match `^a$` (occurred while parsing \"optional_string(pattern)\")"),
            Refusal::Unparsed {
                type_name: "string(pattern)",
                said: Some("must match `^a$`")
            }
        );
        assert_eq!(read("something new"), Refusal::Unknown);
    }
}
