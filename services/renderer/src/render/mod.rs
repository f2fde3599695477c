//! The rendering core: design → validated → SVG → PNG, with no I/O. Pure and deterministic
//! (the same design gives byte-identical PNGs everywhere), and CPU-bound: callers run it off
//! the async runtime and bound how many run at once.

mod colour;
mod error;
mod fonts;
mod layout;
mod raster;
mod svg;
mod validate;

pub use error::{DesignError, RenderError};
pub use svg::to_svg;
pub use validate::validate;

use herald_contracts::design::Design;
use sha2::{Digest, Sha256};

/// Bump whenever the same design would render differently (fonts, layout rules, resvg
/// upgrade that changes pixels): it is part of [`design_hash`], so images rendered under the
/// old rules stop being found under the new key instead of being served as if current.
pub const RENDER_REVISION: u32 = 1;

/// A rendered image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// Lower-case hex SHA-256 of `png`.
    pub content_hash: String,
}

/// Validates `design` and renders it to a PNG of exactly `width × height` pixels.
pub fn render_png(design: &Design) -> Result<Rendered, RenderError> {
    validate(design)?;
    let svg = to_svg(design);
    let png = raster::rasterize(&svg, design.width, design.height)?;
    let content_hash = hex::encode(Sha256::digest(&png));
    Ok(Rendered {
        png,
        width: design.width,
        height: design.height,
        content_hash,
    })
}

/// The content address of a design's image: lower-case hex SHA-256 of [`RENDER_REVISION`] and
/// the design's JSON. Struct fields serialize in declaration order and absent options are
/// skipped, so equal designs give equal keys however their JSON was written.
pub fn design_hash(design: &Design) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("herald-render/{RENDER_REVISION}\n"));
    match serde_json::to_vec(design) {
        Ok(json) => hasher.update(json),
        // Serializing plain structs of strings and numbers cannot fail; should it ever, the
        // Debug form still identifies the design uniquely.
        Err(_) => hasher.update(format!("{design:?}")),
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn design(value: serde_json::Value) -> Design {
        serde_json::from_value(value).expect("test design")
    }

    fn headline(text: &str, weight: u16) -> Design {
        design(json!({
            "width": 320, "height": 120, "background": "#3366cc",
            "elements": [{ "type": "text", "text": text, "x": 10, "y": 20, "size": 48,
                           "weight": weight, "color": "#ffffff" }]
        }))
    }

    /// Decodes to RGBA8, checking the PNG is well-formed along the way.
    fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().expect("PNG header");
        let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut buf).expect("PNG frame");
        assert_eq!(
            (info.color_type, info.bit_depth),
            (png::ColorType::Rgba, png::BitDepth::Eight)
        );
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn pixel(rgba: &[u8], width: u32, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * width + x) * 4) as usize;
        [rgba[i], rgba[i + 1], rgba[i + 2], rgba[i + 3]]
    }

    /// Pixels of the region that are not the background colour.
    fn inked(rgba: &[u8], width: u32, xs: std::ops::Range<u32>, ys: std::ops::Range<u32>) -> usize {
        let background = pixel(rgba, width, 0, 0);
        ys.flat_map(|y| xs.clone().map(move |x| (x, y)))
            .filter(|&(x, y)| pixel(rgba, width, x, y) != background)
            .count()
    }

    #[test]
    fn renders_background_and_text_at_the_requested_size() {
        let rendered = render_png(&headline("Herald", 400)).expect("render");
        assert_eq!((rendered.width, rendered.height), (320, 120));
        let (width, height, rgba) = decode(&rendered.png);
        assert_eq!((width, height), (320, 120));
        assert_eq!(pixel(&rgba, width, 0, 0), [0x33, 0x66, 0xcc, 0xff]);
        assert_eq!(pixel(&rgba, width, 319, 119), [0x33, 0x66, 0xcc, 0xff]);
        // The glyphs sit in the first line box (y 20..78) and nowhere else.
        assert!(inked(&rgba, width, 10..300, 20..78) > 500);
        assert_eq!(inked(&rgba, width, 0..320, 0..18), 0);
        assert_eq!(inked(&rgba, width, 0..320, 82..120), 0);
        // White glyphs: the text was drawn in its colour, not just disturbed the background.
        let whites = (0..120)
            .flat_map(|y| (0..320).map(move |x| (x, y)))
            .filter(|&(x, y)| pixel(&rgba, width, x, y) == [0xff, 0xff, 0xff, 0xff])
            .count();
        assert!(whites > 100, "{whites}");
    }

    #[test]
    fn the_same_design_renders_to_identical_bytes() {
        let first = render_png(&headline("Same every time", 700)).expect("render");
        let second = render_png(&headline("Same every time", 700)).expect("render");
        assert_eq!(first, second);
        assert_eq!(first.content_hash, hex::encode(Sha256::digest(&first.png)));
        assert_eq!(first.content_hash.len(), 64);
    }

    #[test]
    fn bold_weights_draw_with_the_bold_face() {
        let ink = |weight| {
            let (w, _, rgba) =
                decode(&render_png(&headline("Herald", weight)).expect("render").png);
            inked(&rgba, w, 0..320, 0..120)
        };
        assert!(
            ink(700) > ink(400) * 11 / 10,
            "bold {} regular {}",
            ink(700),
            ink(400)
        );
        assert_eq!(ink(600), ink(700));
        assert_eq!(ink(100), ink(400));
    }

    #[test]
    fn design_hash_is_a_canonical_content_key() {
        let a = design(json!({ "width": 10, "height": 10, "background": "#000000",
            "elements": [{ "type": "rect", "x": 1, "y": 2, "width": 3, "height": 4, "color": "#ffffff" }] }));
        let b = design(
            json!({ "elements": [{ "color": "#ffffff", "height": 4, "width": 3, "y": 2,
            "x": 1, "type": "rect", "radius": 0 }], "background": "#000000", "height": 10, "width": 10 }),
        );
        assert_eq!(design_hash(&a), design_hash(&b));
        assert_eq!(design_hash(&a).len(), 64);
        assert_ne!(
            design_hash(&headline("a", 400)),
            design_hash(&headline("b", 400))
        );
    }

    #[test]
    fn invalid_designs_are_client_errors() {
        let mut d = headline("x", 400);
        d.width = 5000;
        let err = render_png(&d).expect_err("too wide");
        assert!(err.is_client_error());
        assert_eq!(
            err.to_string(),
            "width: 5000 is out of range, must be 1 to 4096"
        );
    }

    #[test]
    fn markup_in_text_is_drawn_literally() {
        let d = headline("<tag>&]]>", 400);
        assert!(to_svg(&d).contains("&lt;tag&gt;&amp;]]&gt;"));
        let (w, _, rgba) = decode(&render_png(&d).expect("render").png);
        assert!(inked(&rgba, w, 0..320, 0..120) > 300);
    }

    #[test]
    fn every_element_kind_renders() {
        let d = design(json!({
            "width": 200, "height": 200, "background": "#ffffff00",
            "elements": [
                { "type": "rect", "x": 10, "y": 10, "width": 50, "height": 30, "color": "#ff0000",
                  "radius": 8, "rotation": 30, "opacity": 0.5 },
                { "type": "ellipse", "x": 100, "y": 10, "width": 80, "height": 40, "color": "#00ff00cc" },
                { "type": "line", "x1": 10, "y1": 150, "x2": 190, "y2": 150, "color": "#0000ff",
                  "thickness": 4 },
                { "type": "text", "text": "wrapped text in a box", "x": 10, "y": 60, "width": 80,
                  "size": 14, "align": "center", "rotation": -10 }
            ]
        }));
        let (w, _, rgba) = decode(&render_png(&d).expect("render").png);
        assert_eq!(pixel(&rgba, w, 199, 199)[3], 0, "transparent background");
        assert_eq!(pixel(&rgba, w, 140, 30), [0, 255, 0, 0xcc]);
        assert_eq!(pixel(&rgba, w, 100, 150), [0, 0, 255, 255]);
    }
}
