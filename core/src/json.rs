//! JSON response bodies written straight from the value to bytes.
//!
//! poem-openapi's `Json` turns a body into a `serde_json::Value` tree (a map and a string
//! per field) and then writes the tree: for a page of a hundred points that was two
//! fifths of the request's CPU. This `Json` documents the body exactly as poem-openapi's
//! does (the schema comes from the type's `Object` derive), and writes it with the
//! type's own `serde::Serialize`, through sonic-rs, whose escaping checks a string's
//! bytes many at a time (writing a page took 51k instructions through it, 64k through
//! serde_json, by callgrind). The two derives must agree field for field: in debug
//! builds (every test) each body is also rendered poem-openapi's way and compared, so a
//! field renamed in one derive and not the other fails the first test that returns it.

use poem::{
    http::{header, HeaderValue},
    IntoResponse, Response,
};
use poem_openapi::{
    payload::Payload,
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
    ApiResponse,
};
use serde::Serialize;

/// A JSON body: `Json(value)` where the value derives both `Object` (its schema) and
/// `Serialize` (its bytes), with the same names.
#[derive(Debug, Clone, PartialEq)]
pub struct Json<T>(pub T);

impl<T: Type> Payload for Json<T> {
    const CONTENT_TYPE: &'static str = JSON_CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        <poem_openapi::payload::Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + ToJSON + Send> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        // Room for a page at once: grown from serde_json's 128 bytes, a 5 KB body was
        // copied six times on the way.
        let mut body = Vec::with_capacity(8 * 1024);
        match write(&self.0, &mut body) {
            Ok(()) => json_response(body.into(), KEYED_HEADERS),
            // Only a map with non-text keys fails to serialise, and no body type has one.
            Err(err) => crate::ApiError::internal(err).into_response(),
        }
    }
}

/// Writes `value` as JSON (and, in debug builds, checks it against its schema).
fn write<T: Serialize + ToJSON>(value: &T, body: &mut Vec<u8>) -> Result<(), sonic_rs::Error> {
    sonic_rs::to_writer(&mut *body, value)?;
    #[cfg(debug_assertions)]
    assert_written_as_documented(value, body);
    Ok(())
}

/// A 200 answer with the JSON `body`, with room for `headers` more.
fn json_response(body: bytes::Bytes, headers: usize) -> Response {
    // A static value: `content_type(&str)` parses the text on every answer.
    let mut resp = Response::builder()
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static(JSON_CONTENT_TYPE),
        )
        .body(body);
    resp.headers_mut().reserve(headers);
    resp
}

/// The headers the layers add to a keyed answer on the way out (rate limits, ETag,
/// caching, request id): reserved at once, they do not regrow the map on the way.
const KEYED_HEADERS: usize = 16;

const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A JSON body written once and answered many times: documented as `T`, as [`Json`]
/// documents it, but rendered when it is made, so an answer shares its bytes instead of
/// writing them again. For answers that are the same for every request (health's).
pub struct Rendered<T> {
    body: bytes::Bytes,
    of: std::marker::PhantomData<fn() -> T>,
}

impl<T: Serialize + ToJSON> Rendered<T> {
    pub fn new(value: &T) -> Result<Self, sonic_rs::Error> {
        let mut body = Vec::new();
        write(value, &mut body)?;
        Ok(Rendered {
            body: body.into(),
            of: std::marker::PhantomData,
        })
    }
}

impl<T> Clone for Rendered<T> {
    fn clone(&self) -> Self {
        Rendered {
            body: self.body.clone(),
            of: std::marker::PhantomData,
        }
    }
}

/// Documented exactly as `Json<T>`: the same content type and schema, from one place.
impl<T: Type> Payload for Rendered<T> {
    const CONTENT_TYPE: &'static str = <Json<T> as Payload>::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        <Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        <Json<T> as Payload>::schema_ref()
    }

    fn register(registry: &mut Registry) {
        <Json<T> as Payload>::register(registry);
    }
}

impl<T: Send> IntoResponse for Rendered<T> {
    // No room reserved: the answers that are the same for every request are public, and
    // get a few headers on the way out, which the map's first allocation holds.
    fn into_response(self) -> Response {
        json_response(self.body, 0)
    }
}

impl<T: Serialize + ToJSON + Send> ApiResponse for Json<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// A JSON array of `T`, written one row at a time as a query reads its rows: the answer
/// to a list whose rows would otherwise be copied into owned values only to be written
/// out and dropped (a quarter of a metrics page's instructions went to that).
///
/// It documents itself as `[T]`; each row is pushed as a borrowed view of `T` (a struct
/// of `&str`s with the same serde names). In debug builds (every test) each pushed row is
/// parsed back as `T` and written again, so a view that names a field differently from
/// `T`'s `Object` derive fails the first test that lists it.
///
/// It writes itself only through [`Json`] (sonic-rs); other serialisers see sonic-rs's
/// raw-value wrapper.
pub struct JsonRows<T> {
    /// The array of the rows written so far, always closed: `[]`, `[{…}]`, `[{…},{…}]`.
    bytes: Vec<u8>,
    rows: usize,
    row_type: std::marker::PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for JsonRows<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonRows")
            .field("rows", &self.rows)
            .field("json", &String::from_utf8_lossy(&self.bytes))
            .finish()
    }
}

impl<T: ParseFromJSON + ToJSON> JsonRows<T> {
    /// An empty array with room for `rows` rows of about `row_bytes` each.
    pub fn with_capacity(rows: usize, row_bytes: usize) -> Self {
        let mut bytes = Vec::with_capacity(2 + rows * (row_bytes + 1));
        bytes.extend_from_slice(b"[]");
        JsonRows {
            bytes,
            rows: 0,
            row_type: std::marker::PhantomData,
        }
    }

    /// Writes one row: `row` serialises as `T` does. Only a row holding a map with keys
    /// that are not text can fail, and then nothing of it is written.
    pub fn push(&mut self, row: &impl Serialize) -> Result<(), crate::db::DbError> {
        self.push_with(|bytes| {
            sonic_rs::to_writer(bytes, row).map_err(crate::db::DbError::WriteRow)
        })
    }

    /// Writes one row field by field, in the order `write` names them: for rows read
    /// straight from the database, this skips serde's per-field calls and the escaping
    /// of names known to need none (a page of points took 27k instructions this way
    /// against 37k through a `Serialize` view, by callgrind).
    pub fn push_object(&mut self, write: impl FnOnce(&mut Fields<'_>)) {
        let written: Result<(), std::convert::Infallible> = self.push_with(|bytes| {
            bytes.push(b'{');
            write(&mut Fields { bytes, first: true });
            bytes.push(b'}');
            Ok(())
        });
        let Ok(()) = written;
    }

    /// Opens the array for one more row, lets `write` write it, checks it (in debug
    /// builds) and closes the array again; a row that fails leaves no trace.
    fn push_with<E>(&mut self, write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>) -> Result<(), E> {
        let open = self.bytes.len() - 1;
        self.bytes.truncate(open);
        if self.rows > 0 {
            self.bytes.push(b',');
        }
        let start = self.bytes.len();
        if let Err(err) = write(&mut self.bytes) {
            self.bytes.truncate(open);
            self.bytes.push(b']');
            return Err(err);
        }
        #[cfg(debug_assertions)]
        assert_row_written_as_documented::<T>(&self.bytes[start..]);
        #[cfg(not(debug_assertions))]
        let _ = start;
        self.bytes.push(b']');
        self.rows += 1;
        Ok(())
    }

    /// Rows pushed so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }
}

impl<T: ParseFromJSON + ToJSON> Default for JsonRows<T> {
    fn default() -> Self {
        JsonRows::with_capacity(0, 0)
    }
}

impl<T: ParseFromJSON + ToJSON> Serialize for JsonRows<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        // sonic-rs writes a struct of this name as the text of its one field, unchanged:
        // how its own `LazyValue` (raw JSON) serialises. Building a `LazyValue` instead
        // would parse the rows again (a sixth of a page). `raw_json_is_written_unchanged`
        // pins the name.
        // SAFETY: every byte was written by sonic-rs from Rust strings and numbers, or is
        // one of `[`, `,`, `]`: UTF-8 throughout.
        let text = unsafe { std::str::from_utf8_unchecked(&self.bytes) };
        let mut raw = serializer.serialize_struct(SONIC_RAW_JSON, 1)?;
        raw.serialize_field(SONIC_RAW_JSON, text)?;
        raw.end()
    }
}

/// The fields of one object being written by [`JsonRows::push_object`].
pub struct Fields<'b> {
    bytes: &'b mut Vec<u8>,
    first: bool,
}

impl Fields<'_> {
    /// Writes `"name":value`. The name is a literal of the program's (a documented field
    /// name), written as it is: it must need no escaping.
    pub fn field(&mut self, name: &'static str, value: impl JsonScalar) -> &mut Self {
        debug_assert!(
            !name.bytes().any(escaped),
            "field name {name:?} needs escaping"
        );
        if !self.first {
            self.bytes.push(b',');
        }
        self.first = false;
        self.bytes.push(b'"');
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.extend_from_slice(b"\":");
        value.write_json(self.bytes);
        self
    }
}

/// A value [`Fields::field`] writes: text, a number, a boolean, or `None` as `null`.
pub trait JsonScalar {
    fn write_json(self, out: &mut Vec<u8>);
}

/// Through serde_json, whose escaping and number formatting every other body shares in
/// meaning (a non-finite float is `null`).
macro_rules! json_scalar_via_serde_json {
    ($($ty:ty),*) => {$(
        impl JsonScalar for $ty {
            fn write_json(self, out: &mut Vec<u8>) {
                serde_json::to_writer(out, &self).expect("writing a scalar to a Vec cannot fail");
            }
        }
    )*};
}

json_scalar_via_serde_json!(f64, i64, u64, bool);

/// Text a page writes (ids, names, units) seldom needs escaping: then it is copied as
/// it is, which is what serde_json would write, without its byte-by-byte escaping
/// loop (3% of a metrics page). Text that needs escaping goes through serde_json.
impl JsonScalar for &str {
    fn write_json(self, out: &mut Vec<u8>) {
        if needs_escaping(self.as_bytes()) {
            serde_json::to_writer(out, self).expect("writing a string to a Vec cannot fail");
            return;
        }
        out.reserve(self.len() + 2);
        out.push(b'"');
        out.extend_from_slice(self.as_bytes());
        out.push(b'"');
    }
}

/// The bytes JSON strings must escape (RFC 8259 §7), and the only ones serde_json does.
fn escaped(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Whether `text` holds an [`escaped`] byte, looked for eight bytes at a time: a byte at
/// a time cost ten instructions a byte, as much as serde_json's own loop.
fn needs_escaping(text: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `x` is below `n` (n <= 128): set in the high bits exactly when one is
    // (a borrow only crosses from a byte that is).
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH != 0;
    let holds = |x: u64, byte: u8| below(x ^ (ONES * u64::from(byte)), 1);
    let word_needs = |x: u64| below(x, 0x20) || holds(x, b'"') || holds(x, b'\\');
    let mut words = text.chunks_exact(8);
    if words.any(|word| word_needs(u64::from_le_bytes(word.try_into().expect("8 bytes")))) {
        return true;
    }
    // The last few bytes, padded with a letter to a word of their own.
    let rest = words.remainder();
    let mut last = [b'a'; 8];
    last[..rest.len()].copy_from_slice(rest);
    word_needs(u64::from_le_bytes(last))
}

impl<T: JsonScalar> JsonScalar for Option<T> {
    fn write_json(self, out: &mut Vec<u8>) {
        match self {
            Some(value) => value.write_json(out),
            None => out.extend_from_slice(b"null"),
        }
    }
}

/// The struct name sonic-rs's serialiser writes as raw JSON (`sonic_rs::LazyValue`'s).
const SONIC_RAW_JSON: &str = "$sonic_rs::LazyValue";

impl<T: Type> Type for JsonRows<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> std::borrow::Cow<'static, str> {
        <Vec<T> as Type>::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        <Vec<T> as Type>::schema_ref()
    }

    fn register(registry: &mut Registry) {
        <Vec<T> as Type>::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        // Validators of responses are not run; there are no typed elements to hand out.
        Box::new(std::iter::empty())
    }

    fn is_empty(&self) -> bool {
        self.rows == 0
    }
}

impl<T: ParseFromJSON + ToJSON> ToJSON for JsonRows<T> {
    fn to_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.bytes).ok()
    }
}

impl<T: ParseFromJSON + ToJSON> ParseFromJSON for JsonRows<T> {
    fn parse_from_json(value: Option<serde_json::Value>) -> ParseResult<Self> {
        let rows = Vec::<T>::parse_from_json(value).map_err(ParseError::propagate)?;
        let mut written = JsonRows::with_capacity(rows.len(), 0);
        for row in &rows {
            let json = row.to_json().unwrap_or(serde_json::Value::Null);
            written
                .push(&json)
                .map_err(|e| ParseError::custom(e.to_string()))?;
        }
        Ok(written)
    }
}

/// A row as pushed is a `T` as its `Object` derive writes it.
#[cfg(debug_assertions)]
fn assert_row_written_as_documented<T: ParseFromJSON + ToJSON>(written: &[u8]) {
    let written: serde_json::Value = serde_json::from_slice(written).expect("a row is JSON");
    let parsed = T::parse_from_json(Some(written.clone())).unwrap_or_else(|e| {
        panic!(
            "a row pushed as {} does not parse as one: {}",
            std::any::type_name::<T>(),
            e.into_message()
        )
    });
    assert_eq!(
        parsed.to_json(),
        Some(written),
        "a row pushed as {} is not written as its Object derive writes it",
        std::any::type_name::<T>()
    );
}

/// The body as written is the body as the schema's derive describes it.
#[cfg(debug_assertions)]
fn assert_written_as_documented<T: ToJSON>(value: &T, written: &[u8]) {
    let written: serde_json::Value = serde_json::from_slice(written).expect("a body is JSON");
    let by_schema = value.to_json().unwrap_or(serde_json::Value::Null);
    assert_eq!(
        written,
        by_schema,
        "{}: its Serialize and Object derives disagree (names, skipped fields)",
        std::any::type_name::<T>()
    );
}

#[cfg(test)]
mod tests {
    use poem_openapi::Object;

    use super::*;

    #[derive(Serialize, Object)]
    #[serde(rename_all = "camelCase")]
    #[oai(rename_all = "camelCase")]
    struct Agreeing {
        metric_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[oai(skip_serializing_if_is_none)]
        next_cursor: Option<String>,
    }

    #[derive(Serialize, Object)]
    struct Disagreeing {
        #[serde(rename = "metricId")]
        metric_id: String,
    }

    #[tokio::test]
    async fn bodies_are_written_as_the_schema_names_them() {
        let body = Agreeing {
            metric_id: "mrr".into(),
            next_cursor: None,
        };
        let resp = Json(body).into_response();
        assert_eq!(
            resp.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        let bytes = resp.into_body().into_vec().await.unwrap();
        assert_eq!(bytes, br#"{"metricId":"mrr"}"#);
    }

    /// The documented shape of a row, and the view a handler writes from a database row.
    #[derive(Debug, Serialize, Object)]
    #[serde(rename_all = "camelCase")]
    #[oai(rename_all = "camelCase")]
    struct Item {
        item_id: String,
        note: Option<String>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ItemRow<'r> {
        item_id: &'r str,
        note: Option<&'r str>,
    }

    #[derive(Serialize, Object)]
    struct ItemPage {
        data: JsonRows<Item>,
        total: u64,
    }

    #[tokio::test]
    async fn raw_json_is_written_unchanged() {
        let mut data = JsonRows::<Item>::with_capacity(2, 40);
        assert_eq!(data.len(), 0);
        for (item_id, note) in [("a\"1", None), ("b", Some("été"))] {
            data.push(&ItemRow { item_id, note }).unwrap();
        }
        assert_eq!(data.len(), 2);
        let resp = Json(ItemPage { data, total: 2 }).into_response();
        let bytes = resp.into_body().into_vec().await.unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"data":[{"itemId":"a\"1","note":null},{"itemId":"b","note":"été"}],"total":2}"#
        );
    }

    #[tokio::test]
    async fn rows_written_field_by_field_are_the_rows_serde_writes() {
        let rows = [("a\"1\n", None), ("b", Some("été\\")), ("c", Some(""))];
        let mut by_fields = JsonRows::<Item>::with_capacity(3, 40);
        let mut by_serde = JsonRows::<Item>::with_capacity(3, 40);
        for (item_id, note) in rows {
            by_fields.push_object(|item| {
                item.field("itemId", item_id).field("note", note);
            });
            by_serde.push(&ItemRow { item_id, note }).unwrap();
        }
        assert_eq!(by_fields.len(), 3);
        let written: serde_json::Value = serde_json::from_slice(&by_fields.bytes).unwrap();
        assert_eq!(
            written,
            serde_json::from_slice::<serde_json::Value>(&by_serde.bytes).unwrap()
        );
        assert_eq!(written[0]["itemId"], "a\"1\n", "text is escaped");
        assert_eq!(written[0]["note"], serde_json::Value::Null, "None is null");
    }

    /// The copy without escaping writes the bytes serde_json writes, for text that needs
    /// no escaping and for every kind that does.
    #[test]
    fn text_is_written_byte_for_byte_as_serde_json_writes_it() {
        let texts = [
            "",
            "mrr",
            "int_Stripe01",
            "été",
            "日本",
            "\u{2028}",
            "\u{7f}",
            "a\"b",
            "a\\b",
            "tab\there",
            "\n",
            "\u{0}",
            "\u{1f}",
            " ",
            "'single'",
            "</script>",
            "pt_demo_mrr_000",
            "int_DemoStripe000001",
            "01234567\"",
            "0123456\"89",
            "\\1234567",
            "012345678901234\u{1}",
            "ééééééé\"",
            "\u{7f}\u{80}\u{ff}zzzzzz\n",
            "a\u{20}b\u{21}c\u{5b}d\u{5d}e\u{1f}",
        ];
        for text in texts {
            let mut ours = Vec::new();
            text.write_json(&mut ours);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(text).unwrap(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn numbers_are_written_as_json_numbers() {
        let write = |value: &dyn Fn(&mut Vec<u8>)| {
            let mut out = Vec::new();
            value(&mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(write(&|out| 2.5f64.write_json(out)), "2.5");
        assert_eq!(
            write(&|out| f64::NAN.write_json(out)),
            "null",
            "JSON has no NaN"
        );
        assert_eq!(write(&|out| (-7i64).write_json(out)), "-7");
        assert_eq!(write(&|out| true.write_json(out)), "true");
    }

    #[test]
    #[should_panic(expected = "does not parse as one")]
    fn a_row_written_field_by_field_without_a_documented_field_fails_in_tests() {
        let mut data = JsonRows::<Item>::with_capacity(1, 40);
        data.push_object(|item| {
            item.field("id", "a");
        });
    }

    #[tokio::test]
    async fn no_rows_are_an_empty_array() {
        let page = ItemPage {
            data: JsonRows::default(),
            total: 0,
        };
        let bytes = Json(page).into_response().into_body().into_vec().await;
        assert_eq!(bytes.unwrap(), br#"{"data":[],"total":0}"#);
    }

    #[test]
    fn rows_are_documented_as_an_array_of_their_type() {
        assert_eq!(
            serde_json::to_value(JsonRows::<Item>::schema_ref()).unwrap(),
            serde_json::to_value(Vec::<Item>::schema_ref()).unwrap()
        );
    }

    #[test]
    #[should_panic(expected = "does not parse as one")]
    fn a_row_view_missing_a_documented_field_fails_in_tests() {
        #[derive(Serialize)]
        struct Misnamed<'r> {
            id: &'r str,
        }
        let mut data = JsonRows::<Item>::with_capacity(1, 40);
        let _ = data.push(&Misnamed { id: "a" });
    }

    #[test]
    #[should_panic(expected = "derives disagree")]
    fn a_field_named_differently_by_the_two_derives_fails_in_tests() {
        let _ = Json(Disagreeing {
            metric_id: "mrr".into(),
        })
        .into_response();
    }
}
