//! Our stdout while the fleet runs: every line starts with a fixed-width `[source]` tag,
//! coloured when stdout is a terminal, so the interleaved logs of seven services, the sandbox
//! and heraldctl itself stay readable. The in-process sandbox logs through `tracing`.

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, OnceLock};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Wide enough for `[publisher]` and `[heraldctl]`.
const TAG_WIDTH: usize = 11;
const BOLD: u8 = 1;
const GREY: u8 = 90;

/// A line prefix such as `[billing]  `, with its colour codes baked in.
#[derive(Clone, Debug)]
pub struct Tag(Arc<str>);

impl Tag {
    pub fn new(name: &str, colour: u8) -> Tag {
        let plain = format!("{:<TAG_WIDTH$}", format!("[{name}]"));
        let text = if colour_enabled() {
            format!("\x1b[{colour}m{plain}\x1b[0m")
        } else {
            plain
        };
        Tag(text.into())
    }

    /// Prints `text` with this tag in front of each of its lines, in one write so lines from
    /// different sources never interleave mid-line.
    pub fn print(&self, text: &str) {
        let mut block = String::with_capacity(text.len() + 16);
        for line in text.lines() {
            block.push_str(&self.0);
            block.push(' ');
            block.push_str(line);
            block.push('\n');
        }
        let _ = std::io::stdout().lock().write_all(block.as_bytes());
    }
}

fn colour_enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED
        .get_or_init(|| std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
}

fn own_tag() -> &'static Tag {
    static TAG: OnceLock<Tag> = OnceLock::new();
    TAG.get_or_init(|| Tag::new("heraldctl", BOLD))
}

fn sandbox_tag() -> &'static Tag {
    static TAG: OnceLock<Tag> = OnceLock::new();
    TAG.get_or_init(|| Tag::new("sandbox", GREY))
}

/// A message from heraldctl itself.
pub fn say(message: impl Display) {
    own_tag().print(&message.to_string());
}

/// Routes `tracing` events of this process (the sandbox's request log, warnings from the test
/// kit) to stdout under the `[sandbox]` or `[heraldctl]` tag.
pub fn init_tracing() {
    init_tracing_with("warn,herald_sandbox=info");
}

/// As [`init_tracing`], with `directives` (an `EnvFilter`) choosing what is shown.
pub fn init_tracing_with(directives: &str) {
    let filter = EnvFilter::new(directives);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(TaggedWriter)
        .with_ansi(colour_enabled())
        .with_target(false)
        .without_time()
        .compact()
        .try_init();
}

struct TaggedWriter;

impl<'a> MakeWriter<'a> for TaggedWriter {
    type Writer = TaggedLines;

    fn make_writer(&'a self) -> TaggedLines {
        TaggedLines::new(own_tag())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> TaggedLines {
        if meta.target().starts_with("herald_sandbox") {
            TaggedLines::new(sandbox_tag())
        } else {
            TaggedLines::new(own_tag())
        }
    }
}

/// Collects one event's output and prints it, tagged, when dropped.
struct TaggedLines {
    tag: &'static Tag,
    buffer: Vec<u8>,
}

impl TaggedLines {
    fn new(tag: &'static Tag) -> TaggedLines {
        TaggedLines {
            tag,
            buffer: Vec::new(),
        }
    }
}

impl Write for TaggedLines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for TaggedLines {
    fn drop(&mut self) {
        if !self.buffer.is_empty() {
            self.tag.print(&String::from_utf8_lossy(&self.buffer));
        }
    }
}
