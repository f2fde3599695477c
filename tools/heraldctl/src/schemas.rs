//! `heraldctl schemas [--check]`: the contracts' JSON Schemas under `<repo>/schemas/`, generated
//! from the code and committed so a contract change shows in review.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use herald_contracts::schemas;

pub fn run(root: &Path, check: bool) -> Result<ExitCode> {
    let dir = root.join("schemas");
    if !check {
        let written = schemas::write_all(&dir)
            .with_context(|| format!("cannot write the schemas to {}", dir.display()))?;
        println!("wrote {written} schemas to {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let drifted = schemas::drift(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
    if drifted.is_empty() {
        println!("schemas in {} match the contracts", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    for file in &drifted {
        println!("{file}");
    }
    eprintln!(
        "{} schema file(s) in {} differ from the contracts; run `heraldctl schemas` and commit",
        drifted.len(),
        dir.display()
    );
    Ok(ExitCode::FAILURE)
}
