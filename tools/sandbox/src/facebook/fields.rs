//! The Graph `fields` parameter: a comma-separated list of field names, each optionally with
//! modifiers (`reactions.summary(total_count)`, `comments.limit(0).summary(true)`) or nested
//! fields (`from{id,name}`); commas inside parentheses or braces do not split.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) name: String,
    /// Everything after the name, e.g. `.summary(total_count)`.
    pub(crate) modifiers: String,
}

impl Field {
    /// Whether a `summary(...)` other than `summary(false)` was asked for.
    pub(crate) fn wants_summary(&self) -> bool {
        self.modifiers.contains(".summary(") && !self.modifiers.contains(".summary(false)")
    }
}

pub(crate) fn parse(spec: &str) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in spec.chars() {
        match c {
            '(' | '{' => {
                depth += 1;
                current.push(c);
            }
            ')' | '}' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' if depth == 0 => {
                fields.extend(field(&current));
                current.clear();
            }
            c => current.push(c),
        }
    }
    fields.extend(field(&current));
    fields
}

fn field(text: &str) -> Option<Field> {
    let text = text.trim();
    let end = text.find(['.', '{', '(']).unwrap_or(text.len());
    let name = text[..end].trim();
    (!name.is_empty()).then(|| Field {
        name: name.to_owned(),
        modifiers: text[end..].to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_top_level_commas_only() {
        let fields = parse(
            "id, reactions.summary(total_count),comments.limit(0).summary(true),from{id,name},shares",
        );
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "reactions", "comments", "from", "shares"]);
        assert!(fields[1].wants_summary() && fields[2].wants_summary());
        assert!(!fields[0].wants_summary());
        assert!(parse("").is_empty());
    }
}
