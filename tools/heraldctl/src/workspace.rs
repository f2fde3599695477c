//! Where the repository is: the state of `up` and the generated schemas live under it.

use std::path::{Path, PathBuf};

/// `explicit` if given, else the nearest directory (from the current one upwards) holding a
/// workspace `Cargo.toml`, else the current directory; always absolute.
pub fn root(explicit: Option<PathBuf>) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    match explicit {
        Some(dir) => std::path::absolute(&dir).unwrap_or(dir),
        None => cwd
            .ancestors()
            .find(|dir| is_workspace(dir))
            .map_or_else(|| cwd.clone(), Path::to_path_buf),
    }
}

fn is_workspace(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|text| text.lines().any(|line| line.trim() == "[workspace]"))
}
