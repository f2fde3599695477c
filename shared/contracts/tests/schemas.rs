//! `schemas/` must be exactly what the code generates: a changed contract shows in review.

use std::path::PathBuf;

#[test]
fn checked_in_schemas_match_the_code() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    let drift = herald_contracts::schemas::drift(&dir).expect("read schemas/");
    assert!(
        drift.is_empty(),
        "schemas/ is out of date, run `cargo run -p heraldctl -- schemas`: {drift:?}"
    );
}

#[test]
fn envelope_schema_rejects_unknown_fields_and_names_the_type() {
    let schema =
        herald_contracts::schemas::message_schema::<herald_contracts::messages::PostPublished>();
    assert_eq!(schema["additionalProperties"], serde_json::json!(false));
    assert_eq!(
        schema["$schema"],
        serde_json::json!("https://json-schema.org/draft/2020-12/schema")
    );
}
