//! A password as the user chose it. It is never printed: `Debug` shows `***` and there is no
//! `Display`, so it cannot end up in a log line or an error message by accident.

use super::ParseError;
use std::fmt;

pub const MIN_CHARS: usize = 10;
/// Long enough for any passphrase, short enough that nobody sends megabytes to hash.
pub const MAX_CHARS: usize = 1024;

#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Checks the length in characters (not bytes); any character is allowed.
    pub fn parse(raw: String) -> Result<Self, ParseError> {
        let chars = raw.chars().count();
        if chars < MIN_CHARS {
            return Err(ParseError::new(format!(
                "password must be at least {MIN_CHARS} characters"
            )));
        }
        if chars > MAX_CHARS {
            return Err(ParseError::new(format!(
                "password must be at most {MAX_CHARS} characters"
            )));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_length_in_characters() {
        assert_eq!(
            Password::parse("short".into()).unwrap_err().0,
            "password must be at least 10 characters"
        );
        // 10 characters, 20 bytes.
        assert!(Password::parse("éééééééééé".into()).is_ok());
        assert!(Password::parse("x".repeat(MAX_CHARS)).is_ok());
        assert_eq!(
            Password::parse("x".repeat(MAX_CHARS + 1)).unwrap_err().0,
            "password must be at most 1024 characters"
        );
    }

    #[test]
    fn never_prints() {
        let password = Password::parse("correct horse battery".into()).unwrap();
        let shown = format!("{password:?}");
        assert_eq!(shown, "Password(***)");
        assert!(!shown.contains("horse"));
    }
}
