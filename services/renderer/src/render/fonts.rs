//! The fonts the renderer bundles, compiled into the binary so that a design renders to the
//! same pixels on every machine whatever fonts the host has installed; and the glyph metrics
//! the text layout measures lines with.

use resvg::usvg::fontdb;
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, GlyphId, MetadataProvider};
use std::sync::{Arc, LazyLock};

/// The family every text is drawn in; the only one in
/// [`herald_contracts::design::FONT_FAMILIES`] today.
pub(super) const FAMILY: &str = "DejaVu Sans";

static REGULAR: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../fonts/DejaVuSans-Bold.ttf");

/// Parsed once: loading a face reads its tables, and every render shares the same database.
static DATABASE: LazyLock<Arc<fontdb::Database>> = LazyLock::new(|| {
    let mut db = fontdb::Database::new();
    for data in [REGULAR, BOLD] {
        db.load_font_source(fontdb::Source::Binary(Arc::new(data)));
    }
    // Generic names resolve to the bundled family too, so nothing can reach for a font that
    // is not there and fall back to something host-dependent.
    db.set_serif_family(FAMILY);
    db.set_sans_serif_family(FAMILY);
    db.set_monospace_family(FAMILY);
    db.set_cursive_family(FAMILY);
    db.set_fantasy_family(FAMILY);
    Arc::new(db)
});

/// The bundled fonts, for usvg.
pub(super) fn database() -> Arc<fontdb::Database> {
    Arc::clone(&DATABASE)
}

/// The face usvg picks for `weight`: CSS font matching between 400 and 700 chooses bold only
/// above 500, and measuring with any other face would wrap against the wrong widths.
fn face_data(weight: u16) -> &'static [u8] {
    if weight > 500 { BOLD } else { REGULAR }
}

/// Horizontal metrics of one face at one size.
pub(super) struct TextMetrics {
    size: f32,
    glyphs: Option<(Charmap<'static>, GlyphMetrics<'static>)>,
    ascent: f32,
    descent: f32,
}

impl TextMetrics {
    pub(super) fn new(weight: u16, size: f32) -> Self {
        // The bundled fonts always parse (see the tests); the approximation below only keeps
        // layout infallible instead of threading an impossible error through it.
        match FontRef::new(face_data(weight)) {
            Ok(font) => {
                let metrics = font.metrics(Size::new(size), LocationRef::default());
                Self {
                    size,
                    glyphs: Some((
                        font.charmap(),
                        font.glyph_metrics(Size::new(size), LocationRef::default()),
                    )),
                    ascent: metrics.ascent,
                    descent: -metrics.descent,
                }
            }
            Err(_) => Self {
                size,
                glyphs: None,
                ascent: 0.8 * size,
                descent: 0.2 * size,
            },
        }
    }

    /// Width of `text` set on one line: the sum of the glyph advances. Kerning is ignored, so
    /// this is at most a hair wider than what is drawn, which errs on the side of wrapping.
    pub(super) fn width(&self, text: &str) -> f32 {
        match &self.glyphs {
            Some((charmap, glyphs)) => text
                .chars()
                .map(|c| {
                    let id = charmap.map(c).unwrap_or(GlyphId::NOTDEF);
                    glyphs.advance_width(id).unwrap_or(0.0)
                })
                .sum(),
            None => text.chars().count() as f32 * 0.6 * self.size,
        }
    }

    /// Distance from the baseline up to the top of the face's line box.
    pub(super) fn ascent(&self) -> f32 {
        self.ascent
    }

    /// Distance from the baseline down to the bottom of the face's line box.
    pub(super) fn descent(&self) -> f32 {
        self.descent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_faces_parse_and_are_in_the_database() {
        for weight in [400, 700] {
            assert!(FontRef::new(face_data(weight)).is_ok());
        }
        let db = database();
        assert_eq!(db.len(), 2);
        assert!(
            db.faces()
                .all(|f| f.families.iter().any(|(name, _)| name == FAMILY))
        );
        // Validation admits the contract's list, so each entry must be drawable.
        for family in herald_contracts::design::FONT_FAMILIES {
            assert!(
                db.faces()
                    .any(|f| f.families.iter().any(|(name, _)| name == family))
            );
        }
    }

    #[test]
    fn widths_come_from_the_font_and_bold_is_wider() {
        let regular = TextMetrics::new(400, 32.0);
        let bold = TextMetrics::new(700, 32.0);
        assert!(regular.glyphs.is_some());
        // Proportional: an "i" is narrower than an "M".
        assert!(regular.width("i") < regular.width("M"));
        assert!(regular.width("Herald") < bold.width("Herald"));
        assert_eq!(regular.width("ab"), regular.width("a") + regular.width("b"));
        assert!(regular.ascent() > 0.0 && regular.descent() > 0.0);
    }
}
