//! SVG to PNG with usvg/resvg against the bundled fonts only. Nothing here reads the file
//! system or the network, so the same SVG gives the same bytes on every machine.

use super::RenderError;
use super::fonts::{self, FAMILY};
use resvg::tiny_skia::{Pixmap, Transform};
use resvg::usvg::{self, ImageHrefResolver};

pub(super) fn rasterize(svg: &str, width: u32, height: u32) -> Result<Vec<u8>, RenderError> {
    let options = usvg::Options {
        font_family: FAMILY.to_owned(),
        fontdb: fonts::database(),
        // We never emit <image>, but should one ever appear, it must not read local files
        // (usvg's default resolver does).
        image_href_resolver: ImageHrefResolver {
            resolve_data: Box::new(|_, _, _| None),
            resolve_string: Box::new(|_, _| None),
        },
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options)?;
    let mut pixmap = Pixmap::new(width, height).ok_or(RenderError::Canvas { width, height })?;
    resvg::render(&tree, Transform::identity(), &mut pixmap.as_mut());
    pixmap
        .encode_png()
        .map_err(|e| RenderError::Encode(e.to_string()))
}
