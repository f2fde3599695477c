//! Checks a design against the limits of the contract before any work is spent on it. Every
//! error names the offending field by its path in the design's JSON and is safe to show the
//! client who sent it.

use super::colour::Rgba;
use super::error::{DesignError, quoted};
use herald_contracts::design::{
    Design, Element, FONT_FAMILIES, MAX_COORDINATE, MAX_ELEMENTS, MAX_PIXELS, MAX_SIDE,
    MAX_TEXT_CHARS, MAX_TOTAL_TEXT_CHARS,
};
use std::fmt::Display;

/// Checks everything [`super::render_png`] relies on: sizes, colours, fonts, numbers and text.
pub fn validate(design: &Design) -> Result<(), DesignError> {
    side("width", design.width)?;
    side("height", design.height)?;
    pixels(design.width, design.height, MAX_PIXELS)?;
    colour("background", &design.background)?;
    if design.elements.len() > MAX_ELEMENTS {
        return Err(DesignError::TooManyElements {
            count: design.elements.len(),
            max: MAX_ELEMENTS,
        });
    }
    let mut total_text = 0;
    for (i, element) in design.elements.iter().enumerate() {
        let at = |field: &str| format!("elements[{i}].{field}");
        match element {
            Element::Text(t) => {
                total_text += text(&at("text"), &t.text)?;
                coordinate(&at("x"), t.x)?;
                coordinate(&at("y"), t.y)?;
                if let Some(width) = t.width {
                    length(&at("width"), width)?;
                }
                if !FONT_FAMILIES.contains(&t.font.as_str()) {
                    return Err(DesignError::UnknownFont {
                        path: at("font"),
                        value: quoted(&t.font),
                        available: FONT_FAMILIES
                            .iter()
                            .map(|f| format!("{f:?}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
                positive(&at("size"), t.size)?;
                in_range(&at("size"), t.size, 0.0, MAX_SIDE as f32)?;
                in_range(&at("weight"), t.weight, 100, 900)?;
                colour(&at("color"), &t.color)?;
                appearance(&at, t.opacity, t.rotation)?;
            }
            Element::Rect(r) => {
                coordinate(&at("x"), r.x)?;
                coordinate(&at("y"), r.y)?;
                length(&at("width"), r.width)?;
                length(&at("height"), r.height)?;
                colour(&at("color"), &r.color)?;
                finite(&at("radius"), r.radius)?;
                in_range(&at("radius"), r.radius, 0.0, MAX_COORDINATE)?;
                appearance(&at, r.opacity, r.rotation)?;
            }
            Element::Ellipse(e) => {
                coordinate(&at("x"), e.x)?;
                coordinate(&at("y"), e.y)?;
                length(&at("width"), e.width)?;
                length(&at("height"), e.height)?;
                colour(&at("color"), &e.color)?;
                appearance(&at, e.opacity, e.rotation)?;
            }
            Element::Line(l) => {
                coordinate(&at("x1"), l.x1)?;
                coordinate(&at("y1"), l.y1)?;
                coordinate(&at("x2"), l.x2)?;
                coordinate(&at("y2"), l.y2)?;
                colour(&at("color"), &l.color)?;
                length(&at("thickness"), l.thickness)?;
                appearance(&at, l.opacity, l.rotation)?;
            }
        }
    }
    if total_text > MAX_TOTAL_TEXT_CHARS {
        return Err(DesignError::TooMuchText {
            count: total_text,
            max: MAX_TOTAL_TEXT_CHARS,
        });
    }
    Ok(())
}

fn side(path: &str, value: u32) -> Result<(), DesignError> {
    in_range(path, value, 1, MAX_SIDE)
}

/// Separate from `validate` because the contract's limits make it unreachable today
/// (`MAX_SIDE²` = `MAX_PIXELS`); it guards against either being changed alone.
fn pixels(width: u32, height: u32, max: u64) -> Result<(), DesignError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max {
        return Err(DesignError::TooManyPixels { pixels, max });
    }
    Ok(())
}

fn colour(path: &str, value: &str) -> Result<(), DesignError> {
    match Rgba::parse(value) {
        Some(_) => Ok(()),
        None => Err(DesignError::NotAColour {
            path: path.to_owned(),
            value: quoted(value),
        }),
    }
}

/// Returns the number of characters, for the design-wide total.
fn text(path: &str, value: &str) -> Result<usize, DesignError> {
    let count = value.chars().count();
    if count > MAX_TEXT_CHARS {
        return Err(DesignError::TextTooLong {
            path: path.to_owned(),
            count,
            max: MAX_TEXT_CHARS,
        });
    }
    // Layout understands line breaks and tabs; any other control character is either invalid
    // in XML (and would fail the render late) or invisible, so it is refused early.
    let refused = |c: char| c.is_control() && !matches!(c, '\n' | '\r' | '\t');
    if let Some((index, c)) = value
        .chars()
        .enumerate()
        .find(|&(_, c)| refused(c) || c == '\u{FFFE}' || c == '\u{FFFF}')
    {
        return Err(DesignError::ControlCharacter {
            path: path.to_owned(),
            code: format!("U+{:04X}", u32::from(c)),
            index,
        });
    }
    Ok(count)
}

fn finite(path: &str, value: f32) -> Result<(), DesignError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(DesignError::NotFinite {
            path: path.to_owned(),
            value: value.to_string(),
        })
    }
}

fn positive(path: &str, value: f32) -> Result<(), DesignError> {
    finite(path, value)?;
    if value > 0.0 {
        Ok(())
    } else {
        Err(DesignError::NotPositive {
            path: path.to_owned(),
            value: value.to_string(),
        })
    }
}

fn coordinate(path: &str, value: f32) -> Result<(), DesignError> {
    finite(path, value)?;
    in_range(path, value, -MAX_COORDINATE, MAX_COORDINATE)
}

fn length(path: &str, value: f32) -> Result<(), DesignError> {
    positive(path, value)?;
    in_range(path, value, 0.0, MAX_COORDINATE)
}

fn appearance(
    at: &dyn Fn(&str) -> String,
    opacity: Option<f32>,
    rotation: Option<f32>,
) -> Result<(), DesignError> {
    if let Some(opacity) = opacity {
        finite(&at("opacity"), opacity)?;
        in_range(&at("opacity"), opacity, 0.0, 1.0)?;
    }
    if let Some(rotation) = rotation {
        finite(&at("rotation"), rotation)?;
    }
    Ok(())
}

fn in_range<T: PartialOrd + Display>(
    path: &str,
    value: T,
    min: T,
    max: T,
) -> Result<(), DesignError> {
    if value >= min && value <= max {
        Ok(())
    } else {
        Err(DesignError::OutOfRange {
            path: path.to_owned(),
            value: value.to_string(),
            min: min.to_string(),
            max: max.to_string(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use herald_contracts::design::{LineElement, RectElement, TextElement};

    fn text_element(text: &str) -> TextElement {
        serde_json::from_value(serde_json::json!({ "text": text, "x": 10, "y": 10 }))
            .expect("minimal text element")
    }

    fn design(elements: Vec<Element>) -> Design {
        Design {
            width: 200,
            height: 100,
            background: "#ffffff".to_owned(),
            elements,
        }
    }

    fn rect() -> RectElement {
        RectElement {
            x: 0.0,
            y: 0.0,
            width: 10.0,
            height: 10.0,
            color: "#000000".to_owned(),
            radius: 0.0,
            opacity: None,
            rotation: None,
        }
    }

    fn message(d: &Design) -> String {
        validate(d).expect_err("invalid").to_string()
    }

    #[test]
    fn a_reasonable_design_is_valid() {
        let line = LineElement {
            x1: 0.0,
            y1: 0.0,
            x2: 10.0,
            y2: 10.0,
            color: "#00000080".to_owned(),
            thickness: 2.0,
            opacity: Some(0.5),
            rotation: Some(-45.0),
        };
        let d = design(vec![
            Element::Text(text_element("Hello\nworld\t!")),
            Element::Rect(rect()),
            Element::Line(line),
        ]);
        assert_eq!(validate(&d), Ok(()));
    }

    #[test]
    fn sides_must_be_within_limits() {
        let mut d = design(vec![]);
        d.width = MAX_SIDE + 1;
        assert_eq!(
            message(&d),
            "width: 4097 is out of range, must be 1 to 4096"
        );
        d.width = 10;
        d.height = 0;
        assert_eq!(
            validate(&d).map_err(|e| e.path().to_owned()),
            Err("height".to_owned())
        );
    }

    #[test]
    fn pixel_budget_is_checked() {
        assert_eq!(pixels(4096, 4096, MAX_PIXELS), Ok(()));
        assert_eq!(
            pixels(100, 100, 9_999),
            Err(DesignError::TooManyPixels {
                pixels: 10_000,
                max: 9_999
            })
        );
    }

    #[test]
    fn bad_colours_are_named_by_path() {
        let mut r = rect();
        r.color = "#12".to_owned();
        let d = design(vec![
            Element::Rect(rect()),
            Element::Rect(rect()),
            Element::Rect(r),
        ]);
        assert_eq!(
            validate(&d),
            Err(DesignError::NotAColour {
                path: "elements[2].color".to_owned(),
                value: "\"#12\"".to_owned(),
            })
        );
        assert!(message(&d).starts_with(r##"elements[2].color: "#12" is not a colour"##));

        let mut d = design(vec![]);
        d.background = "red".to_owned();
        assert_eq!(
            validate(&d).map_err(|e| e.path().to_owned()),
            Err("background".to_owned())
        );
    }

    #[test]
    fn unknown_fonts_are_refused_with_the_alternatives() {
        let mut t = text_element("hi");
        t.font = "Comic Sans MS".to_owned();
        assert_eq!(
            message(&design(vec![Element::Text(t)])),
            r#"elements[0].font: "Comic Sans MS" is not an available font, available: "DejaVu Sans""#
        );
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        let mut t = text_element("hi");
        t.x = f32::NAN;
        assert_eq!(
            validate(&design(vec![Element::Text(t)])),
            Err(DesignError::NotFinite {
                path: "elements[0].x".to_owned(),
                value: "NaN".to_owned(),
            })
        );
        let mut r = rect();
        r.width = f32::INFINITY;
        assert_eq!(
            message(&design(vec![Element::Rect(r)])),
            "elements[0].width: inf is not a finite number"
        );
    }

    #[test]
    fn sizes_weights_and_opacity_are_bounded() {
        let mut t = text_element("hi");
        t.size = 0.0;
        assert_eq!(
            message(&design(vec![Element::Text(t.clone())])),
            "elements[0].size: 0 must be greater than 0"
        );
        t.size = 12.0;
        t.weight = 950;
        assert_eq!(
            message(&design(vec![Element::Text(t.clone())])),
            "elements[0].weight: 950 is out of range, must be 100 to 900"
        );
        t.weight = 700;
        t.opacity = Some(1.5);
        assert_eq!(
            validate(&design(vec![Element::Text(t)])).map_err(|e| e.path().to_owned()),
            Err("elements[0].opacity".to_owned())
        );
    }

    #[test]
    fn text_length_and_control_characters_are_limited() {
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(
            validate(&design(vec![Element::Text(text_element(&long))])),
            Err(DesignError::TextTooLong {
                path: "elements[0].text".to_owned(),
                count: 5001,
                max: 5000
            })
        );
        assert_eq!(
            message(&design(vec![Element::Text(text_element("ab\u{7}"))])),
            "elements[0].text: control character U+0007 at character 2 is not allowed"
        );
        let many = vec![Element::Text(text_element(&"x".repeat(MAX_TEXT_CHARS))); 11];
        assert!(matches!(
            validate(&design(many)),
            Err(DesignError::TooMuchText { count: 55_000, .. })
        ));
    }

    #[test]
    fn element_count_is_limited() {
        let d = design(vec![Element::Rect(rect()); MAX_ELEMENTS + 1]);
        assert_eq!(
            message(&d),
            "elements: 501 elements, at most 500 are allowed"
        );
    }
}
