//! Named points where a crash can be injected, to prove that a crash at that point loses and
//! duplicates nothing. Off unless `HERALD_FAILPOINTS` is set in the process environment, e.g.
//! `HERALD_FAILPOINTS=outbox.after_publish=abort`.

use std::collections::HashMap;
use std::sync::LazyLock;

static POINTS: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    std::env::var("HERALD_FAILPOINTS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|item| {
            let (name, action) = item.split_once('=')?;
            Some((name.trim().to_owned(), action.trim().to_owned()))
        })
        .collect()
});

/// Acts on the failpoint `name` if configured: `abort` kills the process on the spot, like
/// `kill -9` at exactly this line; `abort@<prefix>` only when `detail` (e.g. the subject being
/// handled) starts with `<prefix>`.
pub fn hit(name: &str, detail: &str) {
    if POINTS.is_empty() {
        return;
    }
    let Some(action) = POINTS.get(name) else {
        return;
    };
    let fires = match action.split_once('@') {
        Some(("abort", prefix)) => detail.starts_with(prefix),
        None => action == "abort",
        Some(_) => false,
    };
    if fires {
        tracing::warn!(failpoint = name, detail, "failpoint hit: aborting");
        std::process::abort();
    }
}
