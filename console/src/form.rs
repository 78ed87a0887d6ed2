//! A posted form (`application/x-www-form-urlencoded`) as its name-value pairs, which
//! keeps repeated fields (one `scope` per ticked box) that a struct could not.

use poem::{FromRequest, Request, RequestBody};

/// The largest form read: the console's forms are a few fields of at most a few hundred
/// characters.
const MAX_FORM_BYTES: usize = 16 * 1024;

#[derive(Debug, Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl<'a> FromRequest<'a> for FormData {
    /// A body that is not a form reads as an empty one: the CSRF check then refuses it.
    /// One over [`MAX_FORM_BYTES`] is refused (413) before it is read further.
    async fn from_request(_req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = body.take()?.into_bytes_limit(MAX_FORM_BYTES).await?;
        Ok(FormData(
            serde_urlencoded::from_bytes(&bytes).unwrap_or_default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_are_all_kept() {
        let form = FormData(serde_urlencoded::from_str("scope=a&name=x&scope=b").unwrap());
        assert_eq!(form.all("scope").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(form.get("name"), Some("x"));
        assert_eq!(form.get("csrf"), None);
    }
}
