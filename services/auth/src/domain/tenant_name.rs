//! A tenant's display name: trimmed, 1 to 100 characters, no control characters.

use super::ParseError;

pub const MAX_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName(String);

impl TenantName {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ParseError::new("tenant_name is required"));
        }
        if name.chars().count() > MAX_CHARS {
            return Err(ParseError::new(format!(
                "tenant_name must be at most {MAX_CHARS} characters"
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(ParseError::new(
                "tenant_name must not contain control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds() {
        assert_eq!(TenantName::parse("  Acme  ").unwrap().as_str(), "Acme");
        assert_eq!(
            TenantName::parse(" \t ").unwrap_err().0,
            "tenant_name is required"
        );
        assert!(TenantName::parse(&"n".repeat(100)).is_ok());
        assert_eq!(
            TenantName::parse(&"n".repeat(101)).unwrap_err().0,
            "tenant_name must be at most 100 characters"
        );
        assert!(TenantName::parse("a\u{0}b").is_err());
    }
}
