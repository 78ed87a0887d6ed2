//! `start_date` / `end_date`: a date (`2024-01-01`) or a date-time with an offset
//! (`2024-01-01T00:00:00Z`), as milliseconds since the epoch, inclusive bounds.

use chrono::{DateTime, NaiveDate, NaiveTime};

use crate::error::{ApiError, ParameterProblem};

/// What a bad value is told.
pub const EXPECTED: &str =
    "must be a date (2024-01-01) or a date-time with an offset (2024-01-01T00:00:00Z)";

/// Which end of a range a value bounds: a date-only end includes its whole UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Start,
    End,
}

/// Parses one bound; `Err` is the message for the parameter.
pub fn parse(value: &str, bound: Bound) -> Result<i64, String> {
    if let Some((year, month, day)) = date_parts(value) {
        let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| EXPECTED.to_owned())?;
        let time = match bound {
            Bound::Start => NaiveTime::MIN,
            Bound::End => NaiveTime::from_hms_milli_opt(23, 59, 59, 999).expect("valid time"),
        };
        return Ok(date.and_time(time).and_utc().timestamp_millis());
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp_millis())
        .map_err(|_| EXPECTED.into())
}

/// The year, month and day of exactly `YYYY-MM-DD` in ASCII digits (chrono's parser
/// also takes signs and padding, and costs a page a thousand instructions a bound);
/// whether they make a date is `NaiveDate`'s to say.
fn date_parts(value: &str) -> Option<(i32, u32, u32)> {
    let bytes = value.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    let number = |digits: &[u8]| {
        digits
            .iter()
            .fold(0u32, |n, digit| n * 10 + u32::from(digit - b'0'))
    };
    shaped.then(|| {
        (
            number(&bytes[..4]) as i32,
            number(&bytes[5..7]),
            number(&bytes[8..]),
        )
    })
}

/// Both bounds, named for their parameters, checked in order.
pub fn range(
    start: Option<&str>,
    end: Option<&str>,
) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let mut problems = Vec::new();
    let mut parse_one =
        |name: &str, value: Option<&str>, bound| match value.map(|v| parse(v, bound)) {
            Some(Ok(ms)) => Some(ms),
            Some(Err(message)) => {
                problems.push(ParameterProblem {
                    parameter: name.to_owned(),
                    message,
                });
                None
            }
            None => None,
        };
    let start_ms = parse_one("start_date", start, Bound::Start);
    let end_ms = parse_one("end_date", end, Bound::End);
    if !problems.is_empty() {
        return Err(ApiError::invalid_parameters(problems));
    }
    if let (Some(s), Some(e)) = (start_ms, end_ms) {
        if s > e {
            return Err(ApiError::invalid_parameter(
                "start_date",
                "must not be after `end_date`",
            ));
        }
    }
    Ok((start_ms, end_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_2024_01_01: i64 = 1_704_067_200_000;

    #[test]
    fn a_date_starts_at_midnight_and_ends_at_the_last_millisecond() {
        assert_eq!(parse("2024-01-01", Bound::Start), Ok(DAY_2024_01_01));
        assert_eq!(
            parse("2024-02-29", Bound::Start),
            Ok(DAY_2024_01_01 + 59 * 86_400_000),
            "a leap day"
        );
        assert_eq!(
            parse("2024-01-01", Bound::End),
            Ok(DAY_2024_01_01 + 86_400_000 - 1)
        );
    }

    #[test]
    fn date_times_need_an_offset_and_keep_milliseconds() {
        assert_eq!(
            parse("2024-01-01T00:00:00Z", Bound::End),
            Ok(DAY_2024_01_01)
        );
        assert_eq!(
            parse("2024-01-01T01:00:00.250+01:00", Bound::Start),
            Ok(DAY_2024_01_01 + 250)
        );
        assert!(
            parse("2024-01-01T00:00:00", Bound::Start).is_err(),
            "no offset"
        );
    }

    #[test]
    fn impossible_dates_are_refused() {
        for bad in [
            "2024-13-01",
            "2024-02-30",
            "2023-02-29",
            "2024-00-10",
            "2024-04-31",
            "24-01-01",
            "2024-1-1",
            "yesterday",
            "",
            "2024-01-01T25:00:00Z",
            " 2024-01-1",
            "+2024-1-01",
            "2024-01- 1",
        ] {
            assert!(parse(bad, Bound::Start).is_err(), "{bad}");
        }
    }

    #[test]
    fn start_after_end_names_start_date() {
        let err = range(Some("2024-02-01"), Some("2024-01-01")).unwrap_err();
        assert_eq!(err.details()[0].parameter, "start_date");
        let both = range(Some("nope"), Some("2024-13-01")).unwrap_err();
        let names: Vec<&str> = both
            .details()
            .iter()
            .map(|d| d.parameter.as_str())
            .collect();
        assert_eq!(names, ["start_date", "end_date"]);
        assert_eq!(
            range(Some("2024-01-01"), Some("2024-01-01")).unwrap().0,
            Some(DAY_2024_01_01)
        );
    }
}

/// A `start_date` / `end_date` query parameter: taken as given and parsed by [`range`]
/// (which names it on failure), documented as what it accepts — a date or a date-time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateParam(pub String);

impl DateParam {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl poem_openapi::types::Type for DateParam {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> std::borrow::Cow<'static, str> {
        "string(date | date-time)".into()
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
        let format = |f: &'static str| {
            MetaSchemaRef::Inline(Box::new(MetaSchema {
                format: Some(f),
                ..MetaSchema::new("string")
            }))
        };
        // `oneOf`, not `anyOf`: no text is both, and generators make a union type of a
        // `oneOf` (progenitor: an enum that serializes as the one string) where an `anyOf`
        // becomes a struct of optional parts that cannot be sent as a query parameter.
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            one_of: vec![format("date"), format("date-time")],
            ..MetaSchema::ANY
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

impl poem_openapi::types::ParseFromParameter for DateParam {
    fn parse_from_parameter(value: &str) -> poem_openapi::types::ParseResult<Self> {
        Ok(DateParam(value.to_owned()))
    }
}
