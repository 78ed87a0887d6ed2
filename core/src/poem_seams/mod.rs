//! Every place the framework relies on how poem and poem-openapi work inside, in one
//! module, so an upgrade that changes one fails here, in a test named for the assumption.
//!
//! | seam | what it relies on |
//! |---|---|
//! | [`query`] | poem-openapi's extractors read the query's pairs from its doc-hidden `__private::UrlQuery` |
//! | [`paths`] | poem-openapi routes path parameters by position (`:param0`) and names them so in its errors; poem leaves out a segment that is not UTF-8 |
//! | [`reasons`] | the wording of poem-openapi's parameter errors, read back as what is allowed |
//! | [`swagger_ui`] | the line of poem-openapi's Swagger UI page that holds the document |
//! | [`document`] | what poem-openapi writes in a generated document that the repair passes fix |
//!
//! The tests run each seam against a small real API ([`probe`]): its generated
//! extractors, errors and document, not copies of their text.

pub(crate) mod document;
pub(crate) mod paths;
pub(crate) mod query;
pub(crate) mod reasons;
pub(crate) mod swagger_ui;

#[cfg(test)]
pub(crate) mod probe;
