//! An email address as auth stores it: trimmed and lower-cased, so one address is one user.

use super::ParseError;
use std::fmt;

/// RFC 5321's limit on a path, which bounds every address in practice.
const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Trims and lower-cases, then checks the shape: one `@`, a non-empty local part of at
    /// most 64 characters, a dotted domain with non-empty labels, no spaces or control
    /// characters, at most 254 characters in all. Deliverability is not checked here.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(ParseError::new("email is required"));
        }
        if email.chars().count() > MAX_LEN {
            return Err(ParseError::new(format!(
                "email must be at most {MAX_LEN} characters"
            )));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ParseError::new(
                "email must not contain spaces or control characters",
            ));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(ParseError::new("email must contain an @"));
        };
        if domain.contains('@') {
            return Err(ParseError::new("email must contain exactly one @"));
        }
        if local.is_empty() {
            return Err(ParseError::new("email needs a name before the @"));
        }
        if local.chars().count() > MAX_LOCAL_LEN {
            return Err(ParseError::new(format!(
                "email's part before the @ must be at most {MAX_LOCAL_LEN} characters"
            )));
        }
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return Err(ParseError::new(
                "email needs a domain like example.com after the @",
            ));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

// Personal data: kept out of Debug output (and so out of logs that print structs).
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        let email = Email::parse("  Ada.Lovelace@Example.COM \n").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
        assert_eq!(format!("{email:?}"), "Email(***)");
    }

    #[test]
    fn refuses_bad_shapes() {
        let cases = [
            ("", "email is required"),
            ("   ", "email is required"),
            ("ada.example.com", "email must contain an @"),
            ("a@b@example.com", "email must contain exactly one @"),
            ("@example.com", "email needs a name before the @"),
            ("ada@", "email needs a domain like example.com after the @"),
            (
                "ada@localhost",
                "email needs a domain like example.com after the @",
            ),
            (
                "ada@example..com",
                "email needs a domain like example.com after the @",
            ),
            (
                "ada@example.com.",
                "email needs a domain like example.com after the @",
            ),
            (
                "ada lovelace@example.com",
                "email must not contain spaces or control characters",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                Email::parse(input).unwrap_err().0,
                message,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn bounds_lengths() {
        let local = "a".repeat(64);
        assert!(Email::parse(&format!("{local}@example.com")).is_ok());
        assert!(Email::parse(&format!("{local}a@example.com")).is_err());
        let domain = format!("{}.com", "d".repeat(254 - 64 - 1 - 4));
        let longest = format!("{local}@{domain}");
        assert_eq!(longest.len(), 254);
        assert!(Email::parse(&longest).is_ok());
        assert_eq!(
            Email::parse(&format!("{local}@d{domain}")).unwrap_err().0,
            "email must be at most 254 characters"
        );
    }
}
