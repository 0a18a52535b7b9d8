//! Snapshot expectations: each case's transcript, normalised and redacted, is compared with the
//! one recorded under `snapshots/<profile>/<case-id>.snap` (insta's format). A difference fails
//! the case with a unified diff and leaves `<case-id>.snap.new` for `cargo insta review`.

pub mod file;
pub mod normalize;
pub mod redact;

use std::path::{Path, PathBuf};

use similar::TextDiff;

use crate::case::Case;
use crate::run::verdict::{CaseResult, Failure, Verdict, judge};
use crate::target::Target;
pub use file::{FileError, SnapFile, pending_path};
pub use normalize::normalize;
pub use redact::{BadRegex, RedactDoc, Redactor};

/// What a run does with snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mode {
    /// Compare where a snapshot exists; record where none exists (with a notice).
    #[default]
    Check,
    /// Write every snapshot anew.
    Update,
    /// Neither compare nor write.
    Off,
}

/// Why snapshots could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A snapshot file.
    #[error("{0}")]
    File(#[from] FileError),
    /// A redaction regex.
    #[error("{0}")]
    Regex(#[from] BadRegex),
}

/// Where and how snapshots are handled in one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Check, update or off.
    pub mode: Mode,
    /// The folder holding one subfolder per profile (`snapshots`).
    pub root: PathBuf,
}

/// What happened to the snapshots of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Snapshots that matched.
    pub matched: usize,
    /// Snapshots that differed (each failed its case).
    pub differed: usize,
    /// Snapshots written (new ones in check mode, all changed ones in update mode).
    pub written: usize,
    /// Lines for stderr: what was recorded, written or not recorded, and why.
    pub notices: Vec<String>,
}

/// The snapshot folder name of a target: the profile name (a built-in target with fault
/// switches shares its profile's snapshots); URL targets without a port, so free ports chosen
/// at run time do not change it.
pub fn profile_folder(target: &Target) -> String {
    let name = if target.builtin.is_some() {
        target
            .name
            .split('+')
            .next()
            .unwrap_or(&target.name)
            .to_string()
    } else if let Ok(u) = url::Url::parse(&target.name) {
        format!(
            "{}-{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.path().trim_end_matches('/')
        )
    } else {
        target.name.clone()
    };
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The snapshot file of a case for a target.
pub fn snap_path(settings: &Settings, target: &Target, case_id: &str) -> PathBuf {
    settings
        .root
        .join(profile_folder(target))
        .join(format!("{case_id}.snap"))
}

/// The normalised text of one result, with the profile's and the case's redactions.
pub fn text_of(result: &CaseResult, case: &Case, target: &Target) -> Result<String, BadRegex> {
    let mut extra = target.snapshot_redact.clone();
    extra.extend(case.snapshot_redact.iter().cloned());
    normalize(result, case.protocol, &extra)
}

/// A unified diff from the recorded snapshot to this run's.
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

fn relative(path: &str) -> String {
    let p = Path::new(path);
    if p.is_absolute()
        && let Ok(cwd) = std::env::current_dir()
        && let Ok(rel) = p.strip_prefix(&cwd)
    {
        return rel.display().to_string();
    }
    path.to_string()
}

/// Compares (or records, or updates) the snapshot of every result that ran to its end, adds a
/// snapshot failure with a diff to each that differs and judges it again. Skipped, errored and
/// interrupted cases are left alone; a failed case is compared but never recorded in check
/// mode.
pub fn apply(
    cases: &[Case],
    results: &mut [CaseResult],
    target: &Target,
    settings: &Settings,
) -> Result<Outcome, SnapshotError> {
    let mut out = Outcome::default();
    if settings.mode == Mode::Off {
        return Ok(out);
    }
    for result in results.iter_mut() {
        if matches!(
            result.verdict,
            Verdict::Skip | Verdict::Error | Verdict::Interrupted
        ) {
            continue;
        }
        let Some(case) = cases.iter().find(|c| c.id == result.id) else {
            continue;
        };
        if case.snapshot_skip.is_some() {
            continue;
        }
        let path = snap_path(settings, target, &result.id);
        let pending = pending_path(&path);
        let shown = path.display().to_string();
        let new = SnapFile {
            source: relative(&result.path),
            description: format!("{} against {}", result.id, profile_folder(target)),
            expression: format!("wirecheck run --target {}", profile_folder(target)),
            contents: file::normalized(&text_of(result, case, target)?),
        };
        let old = SnapFile::read(&path)?;
        match (settings.mode, old) {
            (Mode::Update, Some(old)) if old.contents == new.contents => {
                remove(&pending)?;
                out.matched += 1;
            }
            (Mode::Update, _) => {
                new.write(&path)?;
                remove(&pending)?;
                out.written += 1;
                out.notices
                    .push(format!("snapshot written: {shown} ({})", result.id));
            }
            (_, Some(old)) if old.contents == new.contents => {
                remove(&pending)?;
                out.matched += 1;
            }
            (_, Some(old)) => {
                new.write(&pending)?;
                out.differed += 1;
                let diff = unified_diff(
                    &format!("{}\n", old.contents),
                    &format!("{}\n", new.contents),
                    &shown,
                    &pending.display().to_string(),
                );
                let mut f = Failure::snapshot(format!(
                    "the transcript differs from snapshot {shown}; this run's is in {} \
                     (accept it with `cargo insta accept --snapshot {}.snap`, or review with `cargo insta review`)",
                    pending.display(),
                    result.id
                ));
                f.diff = Some(diff);
                result.failures.push(f);
                let (verdict, reason) = judge(case, target, &result.failures);
                result.verdict = verdict;
                result.reason = reason;
            }
            (_, None) if result.verdict == Verdict::Fail => {
                out.notices.push(format!(
                    "snapshot not recorded: {shown} ({} failed; record it with --snapshots update)",
                    result.id
                ));
            }
            (_, None) => {
                new.write(&path)?;
                out.written += 1;
                out.notices.push(format!(
                    "snapshot recorded: {shown} (none existed for {})",
                    result.id
                ));
            }
        }
    }
    Ok(out)
}

fn remove(path: &Path) -> Result<(), FileError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(FileError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}
