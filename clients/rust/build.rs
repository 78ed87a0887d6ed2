//! Generates the client from the repository's `openapi.yaml` with progenitor, so that the
//! crate always matches the committed contract: a change that breaks Rust callers fails
//! this crate's build or the tests that use it.

use std::{env, fs, path::Path};

fn main() {
    let spec_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.yaml");
    println!("cargo:rerun-if-changed={}", spec_path.display());
    let text = fs::read_to_string(&spec_path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", spec_path.display()));
    let spec: openapiv3::OpenAPI = serde_yaml::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{} is not an OpenAPI 3.0 document: {e}",
            spec_path.display()
        )
    });
    // Positional methods, progenitor's default (its builder interface panicked on the
    // optional date parameters of listMetrics when they were an `anyOf`).
    let mut generator = progenitor::Generator::default();
    let tokens = generator
        .generate_tokens(&spec)
        .unwrap_or_else(|e| panic!("progenitor cannot generate a client: {e}"));
    let file = syn::parse2(tokens).expect("progenitor's output is Rust");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("dashtray.rs");
    fs::write(&out, prettyplease::unparse(&file)).expect("write the generated client");
}
