//! The renderer's errors: what is wrong with a client's design, and what went wrong
//! rendering one. Design errors are shown to clients, so every value they carry is quoted,
//! escaped and truncated.

/// Why a design cannot be rendered. `Display` is the message for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DesignError {
    #[error("{path}: {value} is out of range, must be {min} to {max}")]
    OutOfRange {
        path: String,
        value: String,
        min: String,
        max: String,
    },
    #[error("{path}: {value} is not a finite number")]
    NotFinite { path: String, value: String },
    #[error("{path}: {value} must be greater than 0")]
    NotPositive { path: String, value: String },
    #[error("width × height is {pixels} pixels, at most {max} are allowed")]
    TooManyPixels { pixels: u64, max: u64 },
    #[error("{path}: {value} is not a colour, expected #rrggbb or #rrggbbaa")]
    NotAColour { path: String, value: String },
    #[error("{path}: {value} is not an available font, available: {available}")]
    UnknownFont {
        path: String,
        value: String,
        available: String,
    },
    #[error("{path}: {count} characters, at most {max} are allowed")]
    TextTooLong {
        path: String,
        count: usize,
        max: usize,
    },
    #[error("{path}: control character {code} at character {index} is not allowed")]
    ControlCharacter {
        path: String,
        code: String,
        index: usize,
    },
    #[error("elements: {count} elements, at most {max} are allowed")]
    TooManyElements { count: usize, max: usize },
    #[error("elements: {count} characters of text in all, at most {max} are allowed")]
    TooMuchText { count: usize, max: usize },
}

impl DesignError {
    /// The path of the offending field in the design's JSON, e.g. `elements[2].color`.
    pub fn path(&self) -> &str {
        match self {
            Self::OutOfRange { path, .. }
            | Self::NotFinite { path, .. }
            | Self::NotPositive { path, .. }
            | Self::NotAColour { path, .. }
            | Self::UnknownFont { path, .. }
            | Self::TextTooLong { path, .. }
            | Self::ControlCharacter { path, .. } => path,
            Self::TooManyPixels { .. } => "width",
            Self::TooManyElements { .. } | Self::TooMuchText { .. } => "elements",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The client's design breaks the contract; the message is safe to show them.
    #[error(transparent)]
    Design(#[from] DesignError),
    /// Our SVG was rejected by usvg: a bug here, not the client's fault.
    #[error("generated SVG was rejected: {0}")]
    Svg(#[from] resvg::usvg::Error),
    #[error("cannot allocate a {width}×{height} canvas")]
    Canvas { width: u32, height: u32 },
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

impl RenderError {
    /// Whether the design is at fault (tell the client why) rather than the renderer (keep the
    /// cause in the logs). Neither kind goes away by retrying the same design.
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::Design(_))
    }
}

/// Quoted and escaped so a value cannot forge the rest of a message or a log line, and cut
/// short so an error stays small whatever the client sent.
pub(super) fn quoted(value: &str) -> String {
    const SHOWN: usize = 40;
    if value.chars().count() <= SHOWN {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(SHOWN).collect();
        format!("{head:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_escaped_and_truncated() {
        assert_eq!(quoted("a\"b\n"), r#""a\"b\n""#);
        assert_eq!(quoted(&"y".repeat(1000)).chars().count(), 40 + 2 + 1);
    }

    #[test]
    fn only_design_errors_are_the_clients_fault() {
        let design = DesignError::TooManyElements {
            count: 501,
            max: 500,
        };
        assert_eq!(design.path(), "elements");
        assert!(RenderError::from(design).is_client_error());
        assert!(
            !RenderError::Canvas {
                width: 1,
                height: 1
            }
            .is_client_error()
        );
    }
}
