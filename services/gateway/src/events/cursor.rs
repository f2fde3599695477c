//! The event stream's resumable cursor: the last stream sequence delivered to the client from
//! each stream it watches, written `POSTS:1042,RENDERS:77` (streams in the order of
//! `TENANT_EVENT_SUBJECTS`). Every event's `id:` is the whole cursor, so a client that
//! reconnects with its last `Last-Event-ID` resumes every stream after what it has seen.
//!
//! Sequences are stream-wide (not per tenant): a tenant's cursor jumps over other tenants'
//! messages, which is harmless. A stream missing from a cursor starts at new events; a stream
//! name this gateway does not know is ignored, so cursors survive a rolling upgrade that adds
//! or removes a stream.

use herald_contracts::streams::TENANT_EVENT_SUBJECTS;
use std::fmt;

/// Longer than any cursor this gateway writes; refused before parsing.
const MAX_LEN: usize = 512;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid event cursor: {0}")]
pub struct CursorError(&'static str);

/// Where a stream stands: the last sequence delivered, per watched stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    positions: Vec<(&'static str, u64)>,
}

/// A cursor the client sent: positions for the streams it names (and this gateway knows).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resume {
    positions: Vec<(&'static str, u64)>,
}

fn known_stream(name: &str) -> Option<&'static str> {
    TENANT_EVENT_SUBJECTS
        .iter()
        .map(|(stream, _)| *stream)
        .find(|stream| *stream == name)
}

impl Resume {
    /// Parses `STREAM:SEQ[,STREAM:SEQ...]`.
    pub fn parse(raw: &str) -> Result<Resume, CursorError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(CursorError("empty"));
        }
        if raw.len() > MAX_LEN {
            return Err(CursorError("too long"));
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut positions = Vec::new();
        for part in raw.split(',') {
            let (name, seq) = part
                .split_once(':')
                .ok_or(CursorError("expected STREAM:SEQUENCE"))?;
            if name.is_empty() || seen.contains(&name) {
                return Err(CursorError("empty or repeated stream name"));
            }
            seen.push(name);
            if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CursorError("sequence must be a non-negative integer"));
            }
            let seq: u64 = seq.parse().map_err(|_| CursorError("sequence too large"))?;
            if let Some(stream) = known_stream(name) {
                positions.push((stream, seq));
            }
        }
        Ok(Resume { positions })
    }

    /// The last sequence the client saw on `stream`, if its cursor names it.
    pub fn get(&self, stream: &str) -> Option<u64> {
        self.positions
            .iter()
            .find(|(name, _)| *name == stream)
            .map(|(_, seq)| *seq)
    }
}

impl Cursor {
    /// Every watched stream at sequence 0, to be set before the stream starts.
    pub fn new() -> Cursor {
        Cursor {
            positions: TENANT_EVENT_SUBJECTS
                .iter()
                .map(|(stream, _)| (*stream, 0))
                .collect(),
        }
    }

    pub fn get(&self, stream: &str) -> u64 {
        self.positions
            .iter()
            .find(|(name, _)| *name == stream)
            .map_or(0, |(_, seq)| *seq)
    }

    pub fn set(&mut self, stream: &str, seq: u64) {
        if let Some(position) = self.positions.iter_mut().find(|(name, _)| *name == stream) {
            position.1 = seq;
        }
    }
}

impl Default for Cursor {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (stream, seq)) in self.positions.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{stream}:{seq}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_contracts::streams::{POSTS, RENDERS};

    #[test]
    fn round_trips() {
        let mut cursor = Cursor::new();
        cursor.set(POSTS, 1042);
        cursor.set(RENDERS, 77);
        let text = cursor.to_string();
        assert_eq!(text, "POSTS:1042,RENDERS:77");
        let resume = Resume::parse(&text).unwrap();
        assert_eq!(resume.get(POSTS), Some(1042));
        assert_eq!(resume.get(RENDERS), Some(77));
    }

    #[test]
    fn unknown_streams_are_ignored_and_missing_ones_absent() {
        let resume = Resume::parse("INSIGHTS:5,POSTS:3").unwrap();
        assert_eq!(resume.get(POSTS), Some(3));
        assert_eq!(resume.get(RENDERS), None);
        assert_eq!(resume.get("INSIGHTS"), None);
    }

    #[test]
    fn refuses_malformed_cursors() {
        for bad in [
            "",
            "POSTS",
            "POSTS:",
            "POSTS:-1",
            "POSTS:1x",
            ":4",
            "POSTS:1,POSTS:2",
            "POSTS:99999999999999999999999",
            &"POSTS:1,".repeat(100),
        ] {
            assert!(Resume::parse(bad).is_err(), "{bad:?}");
        }
    }
}
