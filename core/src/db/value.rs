//! Values that cross the storage boundary: what a query binds and what a row's column
//! holds, the same four kinds on SQLite and Postgres.

use std::borrow::Cow;

/// A value bound to a placeholder, or read from a column.
///
/// Four kinds cover every column this API stores (text, integers, floats, NULL); each
/// backend converts them to and from the column's own type (an `INTEGER` column on
/// Postgres takes an `Int` that fits in 32 bits).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Float(f64),
    Text(Cow<'a, str>),
}

impl<'a> Value<'a> {
    /// A text column's bytes as read, which must be UTF-8.
    ///
    /// Column text is nearly always short and ASCII (ids, names), where the standard
    /// library's check went a byte at a time, 80-100 instructions a value. ASCII is
    /// found a word at a time and needs no more checking.
    pub(super) fn text(bytes: &'a [u8]) -> Result<Self, String> {
        let text = match bytes.is_ascii() {
            // SAFETY: ASCII is UTF-8.
            true => unsafe { std::str::from_utf8_unchecked(bytes) },
            false => std::str::from_utf8(bytes).map_err(|_| "text that is not UTF-8".to_owned())?,
        };
        Ok(Value::from(text))
    }

    /// The kind's name, for decoding errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Text(_) => "text",
        }
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(text: &'a str) -> Self {
        Value::Text(Cow::Borrowed(text))
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(text: &'a String) -> Self {
        Value::Text(Cow::Borrowed(text))
    }
}

impl From<String> for Value<'_> {
    fn from(text: String) -> Self {
        Value::Text(Cow::Owned(text))
    }
}

impl From<i64> for Value<'_> {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<i32> for Value<'_> {
    fn from(n: i32) -> Self {
        Value::Int(i64::from(n))
    }
}

impl From<u32> for Value<'_> {
    fn from(n: u32) -> Self {
        Value::Int(i64::from(n))
    }
}

impl From<f64> for Value<'_> {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

impl From<bool> for Value<'_> {
    fn from(b: bool) -> Self {
        Value::Int(i64::from(b))
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(value: &'a Option<String>) -> Self {
        value.as_deref().map_or(Value::Null, Into::into)
    }
}

/// A Rust type a column can be read as: [`Row::get`](super::Row::get). `'r` is the row's
/// lifetime, so text can be read as a `&str` into the row's own buffer, with no copy.
///
/// The implementations here are `#[inline]`, so that a conversion can become a branch
/// inside `Row::get` rather than a call per column read (the integer and float ones do;
/// by callgrind, text's stays a call).
pub trait FromColumn<'r>: Sized {
    /// Converts the column's value, or says why it cannot.
    fn from_column(value: Value<'r>) -> Result<Self, String>;
}

fn mismatch<T>(wanted: &str, found: &Value<'_>) -> Result<T, String> {
    Err(format!("expected {wanted}, found {}", found.kind()))
}

impl FromColumn<'_> for i64 {
    #[inline]
    fn from_column(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Int(n) => Ok(n),
            other => mismatch("an integer", &other),
        }
    }
}

impl FromColumn<'_> for i32 {
    #[inline]
    fn from_column(value: Value<'_>) -> Result<Self, String> {
        let n = i64::from_column(value)?;
        i32::try_from(n).map_err(|_| format!("{n} does not fit in 32 bits"))
    }
}

impl FromColumn<'_> for f64 {
    /// Integers widen: SQLite stores a float column's whole numbers as integers when
    /// asked to, and an aggregate of integers is one.
    #[inline]
    fn from_column(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Float(x) => Ok(x),
            Value::Int(n) => Ok(n as f64),
            other => mismatch("a number", &other),
        }
    }
}

impl FromColumn<'_> for bool {
    #[inline]
    fn from_column(value: Value<'_>) -> Result<Self, String> {
        Ok(i64::from_column(value)? != 0)
    }
}

impl FromColumn<'_> for String {
    #[inline]
    fn from_column(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Text(text) => Ok(text.into_owned()),
            other => mismatch("text", &other),
        }
    }
}

impl<'r> FromColumn<'r> for &'r str {
    #[inline]
    fn from_column(value: Value<'r>) -> Result<Self, String> {
        match value {
            Value::Text(Cow::Borrowed(text)) => Ok(text),
            // Every backend hands out text borrowed from its row; an owned one has no row
            // to borrow from.
            Value::Text(Cow::Owned(_)) => Err("text that is not borrowed from its row".to_owned()),
            other => mismatch("text", &other),
        }
    }
}

impl<'r, T: FromColumn<'r>> FromColumn<'r> for Option<T> {
    #[inline]
    fn from_column(value: Value<'r>) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_column(other).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Column text is read as UTF-8 whether it is ASCII (the quick path) or not, and
    /// bytes that are not UTF-8 are an error, not text.
    #[test]
    fn column_text_must_be_utf8() {
        for text in [
            "",
            "pt_demo_mrr_000",
            "int_DemoStripe000001",
            "été",
            "日本語のテキスト",
        ] {
            assert_eq!(Value::text(text.as_bytes()), Ok(Value::from(text)));
        }
        for bytes in [&b"\xff"[..], b"abcdefgh\xc3", b"abc\xe6\x97"] {
            assert_eq!(Value::text(bytes), Err("text that is not UTF-8".to_owned()));
        }
    }

    #[test]
    fn columns_convert_to_the_types_asked_for_or_say_why_not() {
        assert_eq!(i64::from_column(Value::Int(7)), Ok(7));
        assert_eq!(f64::from_column(Value::Int(2)), Ok(2.0), "integers widen");
        assert_eq!(Option::<i64>::from_column(Value::Null), Ok(None));
        assert_eq!(String::from_column("a".into()), Ok("a".to_owned()));
        assert_eq!(
            <&str>::from_column("a".into()),
            Ok("a"),
            "text borrows from its row"
        );
        assert_eq!(
            i64::from_column(Value::Null),
            Err("expected an integer, found NULL".to_owned()),
            "a NULL is not read as a number"
        );
        assert!(i32::from_column(Value::Int(1 << 40)).is_err());
        assert!(String::from_column(Value::Float(1.0)).is_err());
    }

    #[test]
    fn options_bind_as_null_or_their_value() {
        assert_eq!(Value::from(None::<i64>), Value::Null);
        assert_eq!(Value::from(Some(3)), Value::Int(3));
        assert_eq!(Value::from(&Some("x".to_owned())), Value::from("x"));
    }
}
