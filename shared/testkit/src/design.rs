//! A design to render in tests and tools: one line of white bold text on a coloured card.

use herald_contracts::design::{Design, Element, TextElement};

pub fn text_card(text: &str, width: u32, height: u32, background: &str) -> Design {
    Design {
        width,
        height,
        background: background.into(),
        elements: vec![Element::Text(TextElement {
            text: text.into(),
            x: 16.0,
            y: 16.0,
            width: Some(width.saturating_sub(32) as f32),
            font: "DejaVu Sans".into(),
            size: 28.0,
            weight: 700,
            color: "#ffffff".into(),
            align: Default::default(),
            opacity: None,
            rotation: None,
        })],
    }
}
