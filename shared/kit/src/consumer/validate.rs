//! Schema validation of incoming messages against the contract's JSON Schema.

use herald_contracts::schemas::message_schema;
use herald_contracts::{Envelope, Message};

pub struct MessageValidator {
    validator: jsonschema::Validator,
}

impl MessageValidator {
    pub fn for_message<M: Message>() -> Result<Self, crate::KitError> {
        let schema = message_schema::<M>();
        let validator = jsonschema::validator_for(&schema).map_err(|error| {
            crate::KitError::Other(format!("schema of {} does not compile: {error}", M::TYPE))
        })?;
        Ok(Self { validator })
    }

    /// Parses and validates a payload; the error is the reason recorded with the dead letter.
    pub fn parse<M: Message>(&self, payload: &[u8]) -> Result<Envelope<M>, String> {
        let value: serde_json::Value =
            serde_json::from_slice(payload).map_err(|error| format!("invalid JSON: {error}"))?;
        if let Some(error) = self.validator.iter_errors(&value).next() {
            return Err(format!(
                "schema violation at {}: {}",
                if error.instance_path().as_str().is_empty() {
                    "/"
                } else {
                    error.instance_path().as_str()
                },
                truncate(&error.to_string(), 200)
            ));
        }
        let envelope: Envelope<M> = serde_json::from_value(value)
            .map_err(|error| format!("does not match {}: {error}", M::TYPE))?;
        if envelope.message_type != M::TYPE {
            return Err(format!(
                "type {:?} where {:?} was expected",
                truncate(&envelope.message_type, 64),
                M::TYPE
            ));
        }
        if envelope.version != M::VERSION {
            return Err(format!(
                "{} version {} is not supported (expected {})",
                M::TYPE,
                envelope.version,
                M::VERSION
            ));
        }
        Ok(envelope)
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
