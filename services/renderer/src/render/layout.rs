//! Breaks a text element into lines: at `\n` always, and at spaces when a wrap width is given.
//! SVG 1.1 has no automatic wrapping, so the lines are decided here and drawn one by one.

use super::fonts::TextMetrics;

/// Distance between baselines as a multiple of the font size, like CSS `line-height: 1.2`.
pub(super) const LINE_HEIGHT: f32 = 1.2;

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Line {
    pub text: String,
    pub width: f32,
}

/// The lines of `text`, each with its measured width. Wrapped lines join words with one
/// space; unwrapped lines keep their spacing as written.
pub(super) fn lines(text: &str, wrap: Option<f32>, metrics: &TextMetrics) -> Vec<Line> {
    let text = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\t', " ");
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        match wrap {
            None => out.push(Line {
                text: paragraph.to_owned(),
                width: metrics.width(paragraph),
            }),
            Some(max) => wrap_paragraph(paragraph, max, metrics, &mut out),
        }
    }
    out
}

fn wrap_paragraph(paragraph: &str, max: f32, metrics: &TextMetrics, out: &mut Vec<Line>) {
    let space = metrics.width(" ");
    let mut current = Line {
        text: String::new(),
        width: 0.0,
    };
    for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
        let width = metrics.width(word);
        if !current.text.is_empty() {
            if current.width + space + width <= max {
                current.text.push(' ');
                current.text.push_str(word);
                current.width += space + width;
                continue;
            }
            out.push(std::mem::replace(
                &mut current,
                Line {
                    text: String::new(),
                    width: 0.0,
                },
            ));
        }
        if width <= max {
            current = Line {
                text: word.to_owned(),
                width,
            };
        } else {
            current = break_word(word, max, metrics, out);
        }
    }
    // An empty paragraph is still a line: blank lines in the text stay blank in the image.
    out.push(current);
}

/// Splits a word wider than the wrap width between characters; full pieces go to `out`, the
/// last piece is returned so the next word can follow it. A single character wider than the
/// width gets a line of its own rather than being dropped.
fn break_word(word: &str, max: f32, metrics: &TextMetrics, out: &mut Vec<Line>) -> Line {
    let mut piece = Line {
        text: String::new(),
        width: 0.0,
    };
    let mut buf = [0u8; 4];
    for c in word.chars() {
        let width = metrics.width(c.encode_utf8(&mut buf));
        if !piece.text.is_empty() && piece.width + width > max {
            out.push(std::mem::replace(
                &mut piece,
                Line {
                    text: String::new(),
                    width: 0.0,
                },
            ));
        }
        piece.text.push(c);
        piece.width += width;
    }
    piece
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn without_a_width_only_line_breaks_split() {
        let m = TextMetrics::new(400, 20.0);
        let lines = lines("one  two\r\nthree\n\nfour", None, &m);
        assert_eq!(texts(&lines), ["one  two", "three", "", "four"]);
        assert_eq!(lines[0].width, m.width("one  two"));
    }

    #[test]
    fn long_text_wraps_into_lines_that_fit() {
        let m = TextMetrics::new(400, 20.0);
        let text = "The quick brown fox jumps over the lazy dog and keeps on running far away";
        let lines = lines(text, Some(150.0), &m);
        assert!(lines.len() >= 4, "{lines:?}");
        assert!(lines.iter().all(|l| l.width <= 150.0), "{lines:?}");
        assert_eq!(texts(&lines).join(" "), text);
        // Greedy: the next word would not have fitted on any line but the last.
        for pair in lines.windows(2) {
            let next = pair[1].text.split(' ').next().unwrap_or_default();
            assert!(pair[0].width + m.width(" ") + m.width(next) > 150.0);
        }
    }

    #[test]
    fn a_word_wider_than_the_width_is_broken_between_characters() {
        let m = TextMetrics::new(400, 20.0);
        let lines = lines("a supercalifragilisticexpialidocious b", Some(60.0), &m);
        assert!(lines.len() > 3, "{lines:?}");
        assert_eq!(
            texts(&lines).concat().replace(' ', ""),
            "asupercalifragilisticexpialidociousb"
        );
        assert!(lines.iter().all(|l| l.width <= 60.0), "{lines:?}");
    }

    #[test]
    fn a_glyph_wider_than_the_width_still_gets_drawn() {
        let m = TextMetrics::new(400, 40.0);
        assert_eq!(texts(&lines("WW", Some(1.0), &m)), ["W", "W"]);
    }
}
