//! LinkedIn's "little text" format of `commentary`: `| { } @ [ ] ( ) < > # \ * _ ~` are
//! reserved (they start mentions, hashtags and other templates) and must be escaped with a
//! backslash to appear as themselves.
//!
//! The sandbox renders text the way a reader would see it: escapes removed, and cut at the
//! first unescaped reserved character, as posts with unescaped parentheses are reported to be
//! truncated (*unverified* beyond the reports). Templates such as `@[Name](urn:li:...)` are
//! not rendered.

const RESERVED: &[char] = &[
    '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '\\', '*', '_', '~',
];

/// What readers see of `commentary`.
pub(crate) fn render(commentary: &str) -> String {
    let mut text = String::with_capacity(commentary.len());
    let mut chars = commentary.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) if RESERVED.contains(&escaped) => text.push(escaped),
                // A lone or pointless backslash is reserved itself: the text ends here.
                _ => break,
            },
            c if RESERVED.contains(&c) => break,
            c => text.push(c),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_removed_and_unescaped_reserved_characters_cut_the_text() {
        assert_eq!(
            render(r"plain text, no templates"),
            "plain text, no templates"
        );
        assert_eq!(render(r"a \(b\) \#c \\ d"), r"a (b) #c \ d");
        assert_eq!(render("launch (today) at 5"), "launch ");
        assert_eq!(render(r"ends in a lone \"), "ends in a lone ");
    }
}
