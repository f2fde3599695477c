//! A design: what the renderer turns into an image. Validated by the renderer before rendering.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Largest width or height the renderer accepts, in pixels.
pub const MAX_SIDE: u32 = 4096;
/// Largest `width × height` the renderer accepts, in pixels.
pub const MAX_PIXELS: u64 = 16_777_216;
/// Most elements one design may hold.
pub const MAX_ELEMENTS: usize = 500;
/// Most characters (Unicode scalar values) in one text element.
pub const MAX_TEXT_CHARS: usize = 5000;
/// Most characters of text across all elements of one design.
pub const MAX_TOTAL_TEXT_CHARS: usize = 50_000;
/// Largest magnitude of a coordinate or length, in pixels.
pub const MAX_COORDINATE: f32 = 65_536.0;
/// Font families the renderer bundles; a text element must name one of these.
pub const FONT_FAMILIES: &[&str] = &["DejaVu Sans"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Design {
    /// Width in pixels, 1..=4096.
    pub width: u32,
    /// Height in pixels, 1..=4096.
    pub height: u32,
    /// Background colour, `#rrggbb` or `#rrggbbaa`.
    pub background: String,
    /// Drawn in order: later elements are on top.
    #[serde(default)]
    pub elements: Vec<Element>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Element {
    Text(TextElement),
    Rect(RectElement),
    Ellipse(EllipseElement),
    Line(LineElement),
}

/// Text, laid out in lines `1.2 × size` apart. `y` is the top of the first line. Without
/// `width`, `x` is where lines start (`left`), are centred (`center`) or end (`right`), and
/// only `\n` breaks lines; with `width`, lines are aligned within `x..x + width` and wrapped
/// at spaces (a word wider than `width` is broken between characters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextElement {
    /// At most 5000 characters; `\n` starts a new line; other control characters are refused.
    pub text: String,
    pub x: f32,
    pub y: f32,
    /// Wrap width in pixels; no wrapping when absent.
    pub width: Option<f32>,
    /// One of [`FONT_FAMILIES`].
    #[serde(default = "default_font")]
    pub font: String,
    /// Font size in pixels, above 0 and at most 4096.
    #[serde(default = "default_size")]
    pub size: f32,
    /// 100..=900; the bundled fonts have 400 (regular) and 700 (bold), and the nearest is used.
    #[serde(default = "default_weight")]
    pub weight: u16,
    #[serde(default = "default_colour")]
    pub color: String,
    #[serde(default)]
    pub align: Align,
    /// 0..=1; fully opaque when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opacity: Option<f32>,
    /// Degrees clockwise about the centre of the text's box; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<f32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RectElement {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    pub color: String,
    /// Corner radius in pixels.
    #[serde(default)]
    pub radius: f32,
    /// 0..=1; fully opaque when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opacity: Option<f32>,
    /// Degrees clockwise about the rectangle's centre; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<f32>,
}

/// An ellipse filling the box `x..x + width`, `y..y + height`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EllipseElement {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    pub color: String,
    /// 0..=1; fully opaque when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opacity: Option<f32>,
    /// Degrees clockwise about the ellipse's centre; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<f32>,
}

/// A straight line from `(x1, y1)` to `(x2, y2)` with flat ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineElement {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
    pub color: String,
    /// Stroke width in pixels, above 0.
    #[serde(default = "default_thickness")]
    pub thickness: f32,
    /// 0..=1; fully opaque when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opacity: Option<f32>,
    /// Degrees clockwise about the line's midpoint; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<f32>,
}

fn default_font() -> String {
    "DejaVu Sans".to_owned()
}
fn default_size() -> f32 {
    32.0
}
fn default_weight() -> u16 {
    400
}
fn default_thickness() -> f32 {
    1.0
}
fn default_colour() -> String {
    "#000000".to_owned()
}
