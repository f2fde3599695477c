//! Turns a design into an SVG document for usvg. Every piece of client text reaches the
//! document through `escape`, so a design can only ever produce the elements written here.

use super::colour::Rgba;
use super::fonts::TextMetrics;
use super::layout::{self, LINE_HEIGHT};
use herald_contracts::design::{
    Align, Design, Element, EllipseElement, LineElement, RectElement, TextElement,
};

/// The SVG for `design`, one SVG pixel per image pixel. Meant for a design that passed
/// [`super::validate`]; an unvalidated one still yields a well-formed document, with
/// unparseable colours drawn black.
pub fn to_svg(design: &Design) -> String {
    let (w, h) = (design.width, design.height);
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#
    );
    out.push_str(&format!(
        r#"<rect width="{w}" height="{h}"{}/>"#,
        paint("fill", &design.background)
    ));
    for element in &design.elements {
        match element {
            Element::Text(t) => text(&mut out, t),
            Element::Rect(r) => rect(&mut out, r),
            Element::Ellipse(e) => ellipse(&mut out, e),
            Element::Line(l) => line(&mut out, l),
        }
    }
    out.push_str("</svg>");
    out
}

fn text(out: &mut String, t: &TextElement) {
    let metrics = TextMetrics::new(t.weight, t.size);
    let lines = layout::lines(&t.text, t.width, &metrics);
    let line_height = LINE_HEIGHT * t.size;
    // Half the leading above the glyphs and half below, as CSS does, so `y` is the top of the
    // first line box rather than a baseline the client would have to compute.
    let first_baseline =
        t.y + (line_height - metrics.ascent() - metrics.descent()) / 2.0 + metrics.ascent();
    let (anchor, anchor_x) = match (t.align, t.width) {
        (Align::Left, _) => ("start", t.x),
        (Align::Center, Some(w)) => ("middle", t.x + w / 2.0),
        (Align::Center, None) => ("middle", t.x),
        (Align::Right, Some(w)) => ("end", t.x + w),
        (Align::Right, None) => ("end", t.x),
    };
    let box_width = t
        .width
        .unwrap_or_else(|| lines.iter().map(|l| l.width).fold(0.0, f32::max));
    let box_left = match (t.align, t.width) {
        (Align::Left, _) | (_, Some(_)) => t.x,
        (Align::Center, None) => t.x - box_width / 2.0,
        (Align::Right, None) => t.x - box_width,
    };
    let centre = (
        box_left + box_width / 2.0,
        t.y + lines.len() as f32 * line_height / 2.0,
    );

    let group = open_group(out, t.opacity, t.rotation, centre);
    out.push_str(&format!(
        r#"<g font-family="'{}'" font-size="{}" font-weight="{}" text-anchor="{anchor}"{}>"#,
        escape(&t.font),
        t.size,
        t.weight,
        paint("fill", &t.color)
    ));
    for (i, line) in lines.iter().enumerate() {
        if line.text.is_empty() {
            continue;
        }
        let baseline = first_baseline + i as f32 * line_height;
        out.push_str(&format!(
            r#"<text x="{anchor_x}" y="{baseline}" xml:space="preserve">{}</text>"#,
            escape(&line.text)
        ));
    }
    out.push_str("</g>");
    close_group(out, group);
}

fn rect(out: &mut String, r: &RectElement) {
    let centre = (r.x + r.width / 2.0, r.y + r.height / 2.0);
    let group = open_group(out, r.opacity, r.rotation, centre);
    // usvg clamps `rx` to half the width/height, as SVG specifies, so any radius is safe.
    let radius = if r.radius > 0.0 {
        format!(r#" rx="{}""#, r.radius)
    } else {
        String::new()
    };
    out.push_str(&format!(
        r#"<rect x="{}" y="{}" width="{}" height="{}"{radius}{}/>"#,
        r.x,
        r.y,
        r.width,
        r.height,
        paint("fill", &r.color)
    ));
    close_group(out, group);
}

fn ellipse(out: &mut String, e: &EllipseElement) {
    let (cx, cy) = (e.x + e.width / 2.0, e.y + e.height / 2.0);
    let group = open_group(out, e.opacity, e.rotation, (cx, cy));
    out.push_str(&format!(
        r#"<ellipse cx="{cx}" cy="{cy}" rx="{}" ry="{}"{}/>"#,
        e.width / 2.0,
        e.height / 2.0,
        paint("fill", &e.color)
    ));
    close_group(out, group);
}

fn line(out: &mut String, l: &LineElement) {
    let centre = ((l.x1 + l.x2) / 2.0, (l.y1 + l.y2) / 2.0);
    let group = open_group(out, l.opacity, l.rotation, centre);
    out.push_str(&format!(
        r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke-width="{}"{}/>"#,
        l.x1,
        l.y1,
        l.x2,
        l.y2,
        l.thickness,
        paint("stroke", &l.color)
    ));
    close_group(out, group);
}

/// Opacity and rotation apply to the element as a whole (a group), so overlapping glyphs of
/// a translucent text do not darken where they overlap. Returns whether a group was opened.
fn open_group(
    out: &mut String,
    opacity: Option<f32>,
    rotation: Option<f32>,
    (cx, cy): (f32, f32),
) -> bool {
    if opacity.is_none() && rotation.is_none() {
        return false;
    }
    out.push_str("<g");
    if let Some(opacity) = opacity {
        out.push_str(&format!(r#" opacity="{opacity}""#));
    }
    if let Some(degrees) = rotation {
        out.push_str(&format!(r#" transform="rotate({degrees} {cx} {cy})""#));
    }
    out.push('>');
    true
}

fn close_group(out: &mut String, opened: bool) {
    if opened {
        out.push_str("</g>");
    }
}

/// ` fill="#rrggbb"` plus ` fill-opacity` when the colour carries alpha.
fn paint(property: &str, colour: &str) -> String {
    let rgba = Rgba::parse(colour).unwrap_or(Rgba::BLACK);
    let mut attrs = format!(r#" {property}="{}""#, rgba.rgb_hex());
    if let Some(alpha) = rgba.opacity() {
        attrs.push_str(&format!(r#" {property}-opacity="{alpha}""#));
    }
    attrs
}

/// Escapes the five XML specials, which makes any text safe both as character data and
/// inside a quoted attribute; `]]>` cannot survive because its `>` is escaped.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn design(elements: serde_json::Value) -> Design {
        serde_json::from_value(serde_json::json!({
            "width": 400, "height": 200, "background": "#ffffff80", "elements": elements
        }))
        .expect("test design")
    }

    #[test]
    fn text_is_escaped_never_injected() {
        let svg = to_svg(&design(serde_json::json!([
            { "type": "text", "text": "<script>alert(1)</script> & ]]> \"'", "x": 0, "y": 0 }
        ])));
        assert!(!svg.contains("<script>"));
        assert!(!svg.contains("]]>"));
        assert!(
            svg.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt; &quot;&apos;</text>")
        );
        assert!(resvg::usvg::roxmltree::Document::parse(&svg).is_ok());
    }

    #[test]
    fn narrow_text_becomes_one_svg_text_per_line() {
        let svg = to_svg(&design(serde_json::json!([{
            "type": "text", "x": 10, "y": 10, "width": 120, "size": 16,
            "text": "Herald renders designs into images for every social network"
        }])));
        assert!(svg.matches("<text ").count() >= 4, "{svg}");
    }

    #[test]
    fn alignment_sets_the_anchor_within_the_wrap_box() {
        let svg = to_svg(&design(serde_json::json!([
            { "type": "text", "text": "a", "x": 10, "y": 0, "width": 100, "align": "center" },
            { "type": "text", "text": "b", "x": 10, "y": 0, "width": 100, "align": "right" },
            { "type": "text", "text": "c", "x": 10, "y": 0 }
        ])));
        assert!(svg.contains(r#"text-anchor="middle""#) && svg.contains(r#"<text x="60""#));
        assert!(svg.contains(r#"text-anchor="end""#) && svg.contains(r#"<text x="110""#));
        assert!(svg.contains(r#"text-anchor="start""#) && svg.contains(r#"<text x="10""#));
    }

    #[test]
    fn shapes_colours_opacity_and_rotation() {
        let svg = to_svg(&design(serde_json::json!([
            { "type": "rect", "x": 0, "y": 0, "width": 10, "height": 20, "color": "#FF0000",
              "radius": 4, "rotation": 90 },
            { "type": "ellipse", "x": 0, "y": 0, "width": 10, "height": 20, "color": "#00ff00",
              "opacity": 0.5 },
            { "type": "line", "x1": 0, "y1": 0, "x2": 10, "y2": 0, "color": "#0000ff" }
        ])));
        assert!(
            svg.contains(
                r##"<rect width="400" height="200" fill="#ffffff" fill-opacity="0.5019608"/>"##
            ),
            "{svg}"
        );
        assert!(svg.contains(r##"<g transform="rotate(90 5 10)"><rect x="0" y="0" width="10" height="20" rx="4" fill="#ff0000"/></g>"##), "{svg}");
        assert!(
            svg.contains(
                r##"<g opacity="0.5"><ellipse cx="5" cy="10" rx="5" ry="10" fill="#00ff00"/></g>"##
            ),
            "{svg}"
        );
        assert!(
            svg.contains(
                r##"<line x1="0" y1="0" x2="10" y2="0" stroke-width="1" stroke="#0000ff"/>"##
            ),
            "{svg}"
        );
    }
}
