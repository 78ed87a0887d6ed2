//! Generated files: written in normal mode, compared in `--check` mode, where a stale
//! file fails with a diff and the command that regenerates it.

use std::path::Path;

use anyhow::{bail, Context};

pub fn ensure(path: &Path, contents: &str, check: bool, command: &str) -> anyhow::Result<()> {
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if current == contents {
        return Ok(());
    }
    if check {
        let diff = similar::TextDiff::from_lines(current.as_str(), contents);
        let shown = diff
            .unified_diff()
            .context_radius(3)
            .header("committed", "generated")
            .to_string();
        let shown: String = shown.lines().take(200).collect::<Vec<_>>().join("\n");
        bail!(
            "{} is stale: it differs from what the code generates.\n{shown}\n\nRun `{command}` and commit the result.",
            path.display()
        );
    }
    std::fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}
