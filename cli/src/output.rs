//! Helpers the subcommands share: opening a database for a tool, printing JSON,
//! sizes and keys for people, progress bars.

use std::io::{IsTerminal, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use strata_engine::{Db, DbError, DbOptions};

use crate::error::CliError;

/// Opens the existing database in `dir` for a tool: never creates one, and a
/// directory another process has open is a clear [`CliError::Locked`].
pub fn open_db(dir: &Path) -> Result<Db, CliError> {
    open_with(dir, false)
}

/// Opens the database in `dir`, creating it if missing (see [`open_db`]).
pub fn open_or_create_db(dir: &Path) -> Result<Db, CliError> {
    open_with(dir, true)
}

fn open_with(dir: &Path, create_if_missing: bool) -> Result<Db, CliError> {
    let opts = DbOptions {
        create_if_missing,
        ..DbOptions::default()
    };
    Db::open(dir, opts).map_err(|e| match e {
        DbError::Locked { path, .. } => CliError::Locked {
            dir: dir.to_path_buf(),
            lock: path,
        },
        e => CliError::Db(e),
    })
}

/// Writes `value` to stdout as pretty JSON and a newline.
pub fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Usage(e.to_string()))?;
    writeln!(out, "{text}").map_err(|e| CliError::io("<stdout>", e))
}

/// Text for people, built line by line.
#[derive(Debug, Default)]
pub struct Text(String);

impl Text {
    /// Appends `s` and a newline.
    pub fn line(&mut self, s: impl AsRef<str>) {
        self.0.push_str(s.as_ref());
        self.0.push('\n');
    }

    /// The text.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// `1.5 KiB`, `3.2 MiB`: a byte count for people.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Most key bytes shown in hex before `…`.
const KEY_SHOWN: usize = 24;

/// A stored key in hex, cut to a readable length (`01a3ff…` plus the full length).
pub fn short_hex(key: &[u8]) -> String {
    let mut s: String = key
        .iter()
        .take(KEY_SHOWN)
        .map(|b| format!("{b:02x}"))
        .collect();
    if key.len() > KEY_SHOWN {
        s.push_str(&format!("… ({} bytes)", key.len()));
    }
    s
}

/// A whole key in hex (for `--json`).
pub fn full_hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// A progress bar on stderr, drawn only when stderr is a terminal (never in
/// pipes, logs or tests). `total = None`: a spinner with a count.
pub fn progress(total: Option<u64>, what: &str) -> ProgressBar {
    let bar = match total {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let template = match total {
        Some(_) => "{msg} {bar:40} {pos}/{len} ({per_sec}, eta {eta})",
        None => "{msg} {spinner} {pos} ({per_sec})",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_keys_read_well() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(short_hex(&[0x01, 0xab]), "01ab");
        let long = [0xffu8; 30];
        assert_eq!(short_hex(&long), format!("{}… (30 bytes)", "ff".repeat(24)));
        assert_eq!(full_hex(&[0, 15]), "000f");
    }
}
