//! Selecting cases: `--tag`, `--exclude-tag`, `--spec`, `--case GLOB`, and stable partitions `hash:K/N`.

use globset::{Glob, GlobMatcher};

use crate::case::Case;
use crate::target::Target;

/// Why a filter could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// A bad `--case` glob.
    #[error("--case `{0}`: {1}")]
    Glob(String, String),
    /// A bad `--partition`.
    #[error("--partition `{0}`: expected hash:K/N with 1 <= K <= N")]
    Partition(String),
}

/// Which cases to run.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    tags: Vec<String>,
    excluded_tags: Vec<String>,
    specs: Vec<String>,
    globs: Vec<(String, GlobMatcher)>,
    partition: Option<(u64, u64)>,
}

impl Filter {
    /// Builds a filter; every given criterion must hold (each list: any of its items).
    pub fn new(
        tags: &[String],
        specs: &[String],
        case_globs: &[String],
        partition: Option<&str>,
    ) -> Result<Filter, PlanError> {
        let mut globs = Vec::new();
        for g in case_globs {
            let m = Glob::new(g)
                .map_err(|e| PlanError::Glob(g.clone(), e.to_string()))?
                .compile_matcher();
            globs.push((g.clone(), m));
        }
        let partition = match partition {
            None => None,
            Some(p) => Some(parse_partition(p).ok_or_else(|| PlanError::Partition(p.into()))?),
        };
        Ok(Filter {
            tags: tags.to_vec(),
            excluded_tags: Vec::new(),
            specs: specs.to_vec(),
            globs,
            partition,
        })
    }

    /// The same filter, also leaving out every case with any of `tags`.
    pub fn excluding_tags(mut self, tags: &[String]) -> Filter {
        self.excluded_tags.extend(tags.iter().cloned());
        self
    }

    /// Whether the case is selected.
    pub fn selects(&self, case: &Case) -> bool {
        let tag_ok = (self.tags.is_empty() || self.tags.iter().any(|t| case.tags.contains(t)))
            && !self.excluded_tags.iter().any(|t| case.tags.contains(t));
        let spec_ok = self.specs.is_empty()
            || self.specs.iter().any(|s| {
                case.spec.contains(s) || case.steps.iter().any(|st| st.step.spec().contains(s))
            });
        let glob_ok = self.globs.is_empty() || self.globs.iter().any(|(_, g)| g.is_match(&case.id));
        let part_ok = match self.partition {
            None => true,
            Some((k, n)) => {
                let path = case.path.to_string_lossy().replace('\\', "/");
                fnv64(path.as_bytes()) % n == k - 1
            }
        };
        tag_ok && spec_ok && glob_ok && part_ok
    }

    /// The selected cases, in input order.
    pub fn apply(&self, cases: Vec<Case>) -> Vec<Case> {
        cases.into_iter().filter(|c| self.selects(c)).collect()
    }
}

/// Why `target` cannot run `case`: the first capability the case requires that the target is
/// known to lack (declared false in the profile, or learned), as the skip reason.
pub fn unmet(case: &Case, target: &Target) -> Option<String> {
    target
        .capabilities
        .first_missing(&case.requires)
        .map(|(c, source)| format!("target lacks {c} ({source})"))
}

fn parse_partition(p: &str) -> Option<(u64, u64)> {
    let rest = p.strip_prefix("hash:")?;
    let (k, n) = rest.split_once('/')?;
    let (k, n): (u64, u64) = (k.parse().ok()?, n.parse().ok()?);
    (k >= 1 && k <= n).then_some((k, n))
}

fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_parse() {
        assert_eq!(parse_partition("hash:1/3"), Some((1, 3)));
        assert_eq!(parse_partition("hash:0/3"), None);
        assert_eq!(parse_partition("hash:4/3"), None);
        assert!(Filter::new(&[], &[], &[], Some("count:1/2")).is_err());
        assert!(Filter::new(&[], &[], &["[".into()], None).is_err());
    }
}
