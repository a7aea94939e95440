//! The result of a scrub: [`VerifyReport`], a list of [`Problem`]s.

use std::fmt;
use std::path::PathBuf;

/// What a scrub (`Db::verify`, `verify_dir`) found: how much it read, and
/// every problem, each with its file and (where it has one) byte offset.
///
/// ```
/// use strata_engine::{Problem, ProblemKind, VerifyReport};
///
/// let mut report = VerifyReport::default();
/// assert!(report.is_clean());
/// report.problems.push(Problem {
///     path: "/db/CATALOG".into(),
///     offset: Some(16),
///     kind: ProblemKind::Corruption,
///     detail: "checksum mismatch".into(),
/// });
/// assert!(!report.is_clean());
/// assert_eq!(report.errors().count(), 1);
/// assert!(report.to_string().contains("/db/CATALOG at offset 16"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Files read completely and checked.
    pub files_checked: u64,
    /// Bytes of those files.
    pub bytes_checked: u64,
    /// Everything found, errors and warnings, in the order the files were
    /// checked.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True when no problem is an error (warnings such as orphan files or a
    /// torn, unacknowledged tail are allowed).
    pub fn is_clean(&self) -> bool {
        self.errors().next().is_none()
    }

    /// The problems that are errors: damage, missing files, inconsistent
    /// metadata.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity() == Severity::Error)
    }

    /// The problems that are warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity() == Severity::Warning)
    }

    /// Counts a file read completely.
    pub(crate) fn checked(&mut self, bytes: u64) {
        self.files_checked += 1;
        self.bytes_checked += bytes;
    }

    /// Adds a problem.
    pub(crate) fn add(
        &mut self,
        path: impl Into<PathBuf>,
        offset: Option<u64>,
        kind: ProblemKind,
        detail: impl Into<String>,
    ) {
        let p = Problem {
            path: path.into(),
            offset,
            kind,
            detail: detail.into(),
        };
        tracing::debug!(problem = %p, "verify");
        self.problems.push(p);
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.errors().count();
        let warnings = self.problems.len() - errors;
        write!(
            f,
            "checked {} files ({} bytes): {errors} errors, {warnings} warnings",
            self.files_checked, self.bytes_checked
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// One problem a scrub found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (or directory) concerned.
    pub path: PathBuf,
    /// The byte offset of the damaged record, block or field, when the
    /// problem has a place in the file.
    pub offset: Option<u64>,
    /// What kind of problem it is (which decides its [`Severity`]).
    pub kind: ProblemKind,
    /// What was expected and what was found.
    pub detail: String,
}

impl Problem {
    /// Whether the problem is an error or a warning.
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}", self.path.display())?;
        if let Some(o) = self.offset {
            write!(f, " at offset {o}")?;
        }
        write!(f, ": {}: {}", self.kind, self.detail)
    }
}

/// How bad a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Nothing acknowledged is at risk: a file the next open removes, or the
    /// unacknowledged tail a crash left.
    Warning,
    /// Damage or inconsistency: data may be lost or the database may not open.
    Error,
}

/// The kinds of [`Problem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// Bytes fail a checksum, a magic number or a structural check.
    Corruption,
    /// A file written by an unknown (newer) format version.
    UnsupportedVersion,
    /// A file the metadata names (a table in the manifest, the manifest in
    /// `CURRENT`, a partition of a table, the catalog) does not exist.
    Missing,
    /// A table's size differs from the one the manifest records.
    SizeMismatch,
    /// Two pieces of metadata disagree (manifest versus table properties).
    Inconsistent,
    /// The WAL does not hold a contiguous run of LSNs from where replay must
    /// start: a segment is missing, or the LSNs of two segments do not join.
    WalGap,
    /// Warning: the log (the newest WAL segment of a closed database, or a
    /// manifest) ends in an incomplete record with nothing intact after it,
    /// as a crash during an unacknowledged append leaves it; recovery drops
    /// it.
    TornTail,
    /// Warning: a file or directory nothing names (left by a crash; the next
    /// open removes it).
    Orphan,
    /// A file could not be read.
    Io,
}

impl ProblemKind {
    /// Whether problems of this kind are errors or warnings.
    pub fn severity(self) -> Severity {
        match self {
            ProblemKind::TornTail | ProblemKind::Orphan => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProblemKind::Corruption => "corruption",
            ProblemKind::UnsupportedVersion => "unsupported version",
            ProblemKind::Missing => "missing",
            ProblemKind::SizeMismatch => "size mismatch",
            ProblemKind::Inconsistent => "inconsistent",
            ProblemKind::WalGap => "WAL gap",
            ProblemKind::TornTail => "torn tail",
            ProblemKind::Orphan => "orphan",
            ProblemKind::Io => "I/O error",
        })
    }
}
