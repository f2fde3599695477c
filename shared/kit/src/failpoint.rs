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
/// `kill -9` at exactly this line.
pub fn hit(name: &str) {
    if POINTS.is_empty() {
        return;
    }
    if let Some(action) = POINTS.get(name)
        && action == "abort"
    {
        tracing::warn!(failpoint = name, "failpoint hit: aborting");
        std::process::abort();
    }
}
