//! The local mailbox file: a development stand-in for an SMTP relay. Messages are appended in
//! mbox format (mboxrd quoting), one `From_` line, RFC 5322 headers, the body and a blank line.
//! Rendering is deterministic for a delivery row (its `Date` is the row's creation time), so
//! the file can be reconciled by Message-ID after a crash between appending and marking sent.

use chrono::{DateTime, Utc};
use herald_contracts::UserId;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::Path;

/// One email ready to append.
#[derive(Debug, Clone)]
pub struct Email {
    /// Without angle brackets: `<hex>@<domain>`.
    pub message_id: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub date: DateTime<Utc>,
}

/// The Message-ID of the email that `source_message_id` causes for `recipient`: the same
/// inputs always give the same id, which is what reconciliation relies on.
pub fn message_id_for(source_message_id: &str, recipient: UserId, domain: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(source_message_id.as_bytes());
    digest.update([0]);
    digest.update(recipient.as_uuid().as_bytes());
    let hash = hex::encode(digest.finalize());
    format!("{}@{domain}", &hash[..32])
}

/// A header value cannot carry a line break (header injection) or other control characters.
fn header_value(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The address part of the envelope sender, for the `From_` line (no spaces allowed there).
fn envelope_sender(from: &str) -> String {
    let sender: String = header_value(from)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if sender.is_empty() {
        "MAILER-DAEMON".to_owned()
    } else {
        sender
    }
}

/// The message as it is appended to the mailbox, ending with a blank line.
pub fn render(email: &Email) -> String {
    let mut out = String::with_capacity(email.body.len() + 512);
    out.push_str(&format!(
        "From {} {}\n",
        envelope_sender(&email.from),
        email.date.format("%a %b %e %H:%M:%S %Y")
    ));
    out.push_str(&format!(
        "Message-ID: <{}>\n",
        header_value(&email.message_id)
    ));
    out.push_str(&format!("Date: {}\n", email.date.to_rfc2822()));
    out.push_str(&format!("From: {}\n", header_value(&email.from)));
    out.push_str(&format!("To: {}\n", header_value(&email.to)));
    out.push_str(&format!("Subject: {}\n", header_value(&email.subject)));
    out.push_str("MIME-Version: 1.0\n");
    out.push_str("Content-Type: text/plain; charset=utf-8\n");
    out.push_str("Content-Transfer-Encoding: 8bit\n");
    out.push('\n');
    let body = email.body.replace("\r\n", "\n");
    for line in body.trim_end_matches('\n').split('\n') {
        // mboxrd: a body line that would read as a `From_` line (after any `>`s) gains a `>`.
        if line.trim_start_matches('>').starts_with("From ") {
            out.push('>');
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// The Message-IDs (without angle brackets) in the header blocks of an mbox text.
pub fn message_ids(mbox: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut in_headers = false;
    let mut previous_blank = true;
    for line in mbox.lines() {
        if previous_blank && line.starts_with("From ") {
            in_headers = true;
        } else if line.is_empty() {
            in_headers = false;
        } else if in_headers
            && let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("message-id")
        {
            let id = value.trim().trim_start_matches('<').trim_end_matches('>');
            ids.insert(id.to_owned());
        }
        previous_blank = line.is_empty();
    }
    ids
}

/// What one append round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Appended now.
    pub appended: usize,
    /// Already in the mailbox (a previous attempt appended them, then stopped before marking).
    pub reconciled: usize,
}

/// Appends every email whose Message-ID is not in the mailbox yet, then flushes to disk.
/// Blocking: holds an exclusive advisory lock on the file, so writers in other processes
/// sharing the mailbox take turns. On error nothing is known to be delivered; the next round
/// reconciles whatever did reach the file.
pub fn append_missing(path: &Path, emails: &[Email]) -> std::io::Result<AppendOutcome> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    file.lock()?;
    let mut existing = String::new();
    file.read_to_string(&mut existing)?;
    let mut present = message_ids(&existing);
    let mut outcome = AppendOutcome::default();
    let mut batch = String::new();
    for email in emails {
        if present.contains(&email.message_id) {
            outcome.reconciled += 1;
            continue;
        }
        batch.push_str(&render(email));
        present.insert(email.message_id.clone());
        outcome.appended += 1;
    }
    if !batch.is_empty() {
        // A previous writer that died mid-message may have left no final newline.
        if !existing.is_empty() && !existing.ends_with("\n\n") {
            batch.insert_str(
                0,
                if existing.ends_with('\n') {
                    "\n"
                } else {
                    "\n\n"
                },
            );
        }
        file.write_all(batch.as_bytes())?;
        file.sync_data()?;
    }
    // Dropping the file releases the lock.
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(id: &str, body: &str) -> Email {
        Email {
            message_id: id.to_owned(),
            from: "herald@localhost".into(),
            to: "ana@example.com\r\nBcc: evil@example.com".into(),
            subject: "Post published".into(),
            body: body.into(),
            date: DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn renders_headers_without_injection_and_quotes_from_lines() {
        let text = render(&email(
            "abc@localhost",
            "hello\nFrom the start\n>From again",
        ));
        assert!(text.starts_with("From herald@localhost "));
        assert!(text.contains("\nMessage-ID: <abc@localhost>\n"));
        assert!(text.contains("\nTo: ana@example.com  Bcc: evil@example.com\n"));
        assert!(!text.contains("\nBcc:"));
        assert!(text.contains("\n>From the start\n>>From again\n\n"));
        assert!(text.ends_with("\n\n"));
    }

    #[test]
    fn finds_message_ids_only_in_headers() {
        let mut text = render(&email("one@localhost", "Message-ID: <fake@x>"));
        text.push_str(&render(&email("two@localhost", "body")));
        let ids = message_ids(&text);
        assert_eq!(ids.len(), 2);
        assert!(ids.contains("one@localhost") && ids.contains("two@localhost"));
    }

    #[test]
    fn message_ids_are_deterministic_per_source_and_recipient() {
        let user = UserId::new();
        let a = message_id_for("post.published:1", user, "localhost");
        assert_eq!(a, message_id_for("post.published:1", user, "localhost"));
        assert_ne!(a, message_id_for("post.published:2", user, "localhost"));
        assert_ne!(
            a,
            message_id_for("post.published:1", UserId::new(), "localhost")
        );
        assert!(a.ends_with("@localhost"));
    }

    #[test]
    fn appending_twice_reconciles_instead_of_duplicating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/mailbox.mbox");
        let emails = [email("one@localhost", "a"), email("two@localhost", "b")];
        let first = append_missing(&path, &emails[..1]).unwrap();
        assert_eq!(
            first,
            AppendOutcome {
                appended: 1,
                reconciled: 0
            }
        );
        let second = append_missing(&path, &emails).unwrap();
        assert_eq!(
            second,
            AppendOutcome {
                appended: 1,
                reconciled: 1
            }
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(message_ids(&text).len(), 2);
        assert_eq!(text.matches("\nMessage-ID: ").count(), 2);
    }
}
