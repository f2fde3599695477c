//! Colours as the design contract writes them: `#rrggbb` or `#rrggbbaa`.

/// A parsed colour; alpha 255 is opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rgba {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: u8,
}

impl Rgba {
    pub(super) const BLACK: Rgba = Rgba {
        r: 0,
        g: 0,
        b: 0,
        a: 255,
    };

    pub(super) fn parse(text: &str) -> Option<Rgba> {
        let hex = text.strip_prefix('#')?;
        // Checked up front so the slicing below is on ASCII boundaries.
        if !(hex.len() == 6 || hex.len() == 8) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some(Rgba {
            r: channel(0)?,
            g: channel(2)?,
            b: channel(4)?,
            a: if hex.len() == 8 { channel(6)? } else { 255 },
        })
    }

    /// `#rrggbb`, without alpha: SVG 1.1 (what usvg implements fully) has no 8-digit form, so
    /// alpha travels separately as `fill-opacity` / `stroke-opacity`.
    pub(super) fn rgb_hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }

    pub(super) fn opacity(self) -> Option<f32> {
        (self.a != 255).then(|| f32::from(self.a) / 255.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_in_either_case() {
        assert_eq!(
            Rgba::parse("#FF8000"),
            Some(Rgba {
                r: 255,
                g: 128,
                b: 0,
                a: 255
            })
        );
        assert_eq!(
            Rgba::parse("#ff800080"),
            Some(Rgba {
                r: 255,
                g: 128,
                b: 0,
                a: 128
            })
        );
        assert_eq!(
            Rgba::parse("#ff8000").map(Rgba::rgb_hex).as_deref(),
            Some("#ff8000")
        );
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "#",
            "#12",
            "#fff",
            "ff8000",
            "#ff80001",
            "#gg8000",
            "#ff80éé",
            "red",
        ] {
            assert_eq!(Rgba::parse(bad), None, "{bad:?}");
        }
    }
}
