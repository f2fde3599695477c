//! What a secret looks like in a log: the value, any 16-character window of it (a truncated
//! or partly masked value), and for keys their bytes in hex, in URL-safe base64 and as a
//! `Debug` slice.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng;
use rand::distributions::Alphanumeric;

/// A secret's fragment this long in the output counts as the secret: long enough never to
/// match by chance, short enough to catch a truncated or partially masked value.
const WINDOW: usize = 16;
/// A secret under watch: its name (shown on failure) and every form it must not appear in.
pub(super) struct Watched {
    name: String,
    needles: Vec<String>,
}

impl Watched {
    /// A string secret (a password, a social token, a refresh token): it and its windows.
    pub(super) fn text(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            needles: windows(value),
        }
    }

    /// A key configured as base64 of random bytes: the text, and the bytes in hex, in
    /// URL-safe base64 and as a `Debug` slice.
    pub(super) fn key(name: &str, base64: &str) -> anyhow::Result<Self> {
        let bytes = STANDARD.decode(base64)?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let debug = bytes[..6]
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let mut needles = windows(base64);
        needles.extend(windows(&hex));
        needles.extend(windows(&hex.to_ascii_uppercase()));
        needles.extend(windows(&URL_SAFE_NO_PAD.encode(&bytes)));
        needles.push(debug);
        Ok(Self {
            name: name.to_owned(),
            needles,
        })
    }

    /// A JWT: the whole token and windows of its signature (the header and the claims'
    /// first bytes are the same in every token, so only the signature identifies this one).
    pub(super) fn jwt(name: &str, token: &str) -> Self {
        let signature = token.rsplit('.').next().unwrap_or(token);
        let mut needles = vec![token.to_owned()];
        needles.extend(windows(signature));
        Self {
            name: name.to_owned(),
            needles,
        }
    }

    /// The first line of `haystack` that shows this secret, described without the secret:
    /// a log line by its level, target and message, anything else by its first characters.
    pub(super) fn found_in(&self, haystack: &str) -> Option<String> {
        haystack.lines().find_map(|line| {
            let needle = self.needles.iter().find(|n| line.contains(n.as_str()))?;
            let shown = match serde_json::from_str::<serde_json::Value>(line) {
                Ok(log) if log.get("level").is_some() => format!(
                    "{} {} {:?}",
                    log["level"].as_str().unwrap_or("?"),
                    log["target"].as_str().unwrap_or("?"),
                    log["message"].as_str().unwrap_or("?")
                ),
                _ => line
                    .replace(needle.as_str(), "<SECRET>")
                    .chars()
                    .take(200)
                    .collect(),
            };
            Some(format!(
                "{} ({} characters of it) in: {shown}",
                self.name,
                needle.len()
            ))
        })
    }
}

fn windows(value: &str) -> Vec<String> {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= WINDOW {
        return vec![value.to_owned()];
    }
    chars
        .windows(WINDOW)
        .map(|w| w.iter().collect())
        .chain(std::iter::once(value.to_owned()))
        .collect()
}

pub(super) fn random(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub(super) fn random_key() -> String {
    STANDARD.encode(rand::random::<[u8; 32]>())
}
