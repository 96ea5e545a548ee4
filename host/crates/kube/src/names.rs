//! Kubernetes names and label values derived from names a user chose (any string), and the
//! syntax checks for names given in settings.

use sha2::{Digest, Sha256};

/// The longest DNS-1123 label, and the longest label value.
pub const MAX_LABEL_LENGTH: usize = 63;
const HASH_LENGTH: usize = 8;

/// The Job name for a step of a run: a DNS-1123 label (≤ 63 characters, lowercase
/// alphanumerics and `-`, starting and ending with an alphanumeric), because Kubernetes
/// copies it into the pods' `batch.kubernetes.io/job-name` label.
///
/// `<pipeline>-<step>-<run id>` when all three already are lowercase DNS fragments and fit;
/// otherwise each is sanitised (lowercased, other characters to `-`), shortened to fit, and
/// followed by 8 hex digits of a hash of the exact three names, so that names that sanitise
/// alike (`Train`, `train_`, `tráin`) still get different Jobs.
pub fn job_name(pipeline: &str, step: &str, run_id: &str) -> String {
    let raw = [pipeline, step, run_id];
    let fragments = raw.map(dns_fragment);
    let lossless = raw
        .iter()
        .zip(&fragments)
        .all(|(r, f)| !f.is_empty() && r == f);
    let plain = join_nonempty(&fragments);
    if lossless && plain.len() <= MAX_LABEL_LENGTH {
        return plain;
    }
    let hash = short_hash(&raw);
    // Leave room for `-<hash>`.
    let budget = MAX_LABEL_LENGTH - 1 - HASH_LENGTH;
    let shortened = fit(&fragments, budget);
    let prefix = join_nonempty(&shortened);
    let prefix = if prefix.is_empty() { "step" } else { &prefix };
    format!("{prefix}-{hash}")
}

/// A label value for any string: the string itself when it already is a valid label value
/// (≤ 63 characters of alphanumerics, `-`, `_`, `.`, starting and ending with an
/// alphanumeric); otherwise a sanitised, shortened form followed by 8 hex digits of a hash
/// of the exact string, so that different strings keep different values.
pub fn label_value(raw: &str) -> String {
    if is_label_value(raw) {
        return raw.to_string();
    }
    let hash = short_hash(&[raw]);
    let mut clean = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            c
        } else {
            '-'
        };
        if !(c == '-' && clean.ends_with('-')) {
            clean.push(c);
        }
    }
    let budget = MAX_LABEL_LENGTH - 1 - HASH_LENGTH;
    let clean: String = clean.chars().take(budget).collect();
    let clean = clean.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if clean.is_empty() {
        hash
    } else {
        format!("{clean}-{hash}")
    }
}

/// A DNS-1123 label: ≤ 63 characters, lowercase alphanumerics and `-`, starting and ending
/// with an alphanumeric.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LABEL_LENGTH
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A DNS-1123 subdomain (what most object names must be): ≤ 253 characters, DNS labels
/// joined by `.`.
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// A valid label value: empty, or ≤ 63 characters of alphanumerics, `-`, `_` and `.`,
/// starting and ending with an alphanumeric.
pub fn is_label_value(value: &str) -> bool {
    value.is_empty() || is_qualified_name_part(value)
}

/// A valid label or annotation key: an optional DNS subdomain prefix and `/`, then a name
/// part (≤ 63 alphanumerics, `-`, `_`, `.`, starting and ending with an alphanumeric).
pub fn is_qualified_name(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => {
            !prefix.is_empty() && is_dns_subdomain(prefix) && is_qualified_name_part(name)
        }
        None => is_qualified_name_part(key),
    }
}

fn is_qualified_name_part(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LABEL_LENGTH
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Lowercase ASCII alphanumerics kept, every other run of characters one `-`, no `-` at
/// either end.
fn dns_fragment(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

fn join_nonempty(parts: &[String]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("-")
}

/// Shortens the fragments so that they, joined by `-`, fit in `budget` characters: short
/// ones are kept whole, the room left is shared equally among the long ones.
fn fit(fragments: &[String], budget: usize) -> Vec<String> {
    let present: Vec<usize> = (0..fragments.len())
        .filter(|&i| !fragments[i].is_empty())
        .collect();
    let mut room = budget.saturating_sub(present.len().saturating_sub(1));
    let mut lengths = vec![0; fragments.len()];
    let mut open: Vec<usize> = present;
    // Water-filling: whoever fits in an equal share takes its whole length.
    loop {
        if open.is_empty() {
            break;
        }
        let share = room / open.len();
        let (fits, long): (Vec<usize>, Vec<usize>) =
            open.iter().partition(|&&i| fragments[i].len() <= share);
        if fits.is_empty() {
            let mut extra = room - share * long.len();
            for &i in &long {
                lengths[i] = share + usize::from(extra > 0);
                extra = extra.saturating_sub(1);
            }
            break;
        }
        for &i in &fits {
            lengths[i] = fragments[i].len();
            room -= fragments[i].len();
        }
        open = long;
    }
    fragments
        .iter()
        .zip(lengths)
        .map(|(f, n)| f[..n].trim_matches('-').to_string())
        .collect()
}

/// The first 8 hex digits of SHA-256 over the parts, each length-prefixed (so that
/// `("ab", "c")` and `("a", "bc")` differ).
fn short_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())[..HASH_LENGTH].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_kept_as_they_are() {
        assert_eq!(
            job_name("mnist", "train", "r20261101"),
            "mnist-train-r20261101"
        );
        assert_eq!(label_value("Train_2.v1"), "Train_2.v1");
    }

    #[test]
    fn odd_names_become_valid_distinct_dns_labels() {
        let long = "x".repeat(200);
        let names = [
            ("ML Pipeline", "train", "run1"),
            ("ml-pipeline", "train", "run1"),
            ("ml-pipeline", "Train", "run1"),
            ("ml-pipeline", "train_", "run1"),
            ("ml-pipeline", "tráin", "run1"),
            ("ml-pipeline", "训练", "run1"),
            ("ml-pipeline", "評価", "run1"),
            ("ml-pipeline", "-", "run1"),
            ("ml-pipeline", "", "run1"),
            ("", "", ""),
            ("ml_pipeline", "a_b", "2026-11-01T10:00:00Z"),
            ("ml_pipeline", "a-b", "2026-11-01T10:00:00Z"),
            (long.as_str(), long.as_str(), long.as_str()),
            (long.as_str(), &format!("{long}y"), long.as_str()),
            ("p", long.as_str(), "run1"),
            ("p", long.as_str(), "run2"),
            ("ab", "c", "r"),
            ("a", "bc", "r"),
        ];
        let mut seen = std::collections::BTreeMap::new();
        for (pipeline, step, run) in names {
            let name = job_name(pipeline, step, run);
            assert!(
                is_dns_label(&name),
                "{name:?} from {pipeline:?}/{step:?}/{run:?}"
            );
            assert!(name.len() <= 63, "{name}");
            if let Some(other) = seen.insert(name.clone(), (pipeline, step, run)) {
                panic!("{name} for both {other:?} and {:?}", (pipeline, step, run));
            }
        }
        // Shortened names keep something readable from each part.
        let name = job_name("p", &long, "run2");
        assert!(
            name.starts_with("p-xxxx") && name.contains("-run2-"),
            "{name}"
        );
    }

    #[test]
    fn names_are_stable() {
        // Renaming a run's Jobs between versions would orphan the ones already running:
        // the hash is part of the contract (SHA-256 of the length-prefixed names).
        assert_eq!(
            job_name("ML Pipeline", "train", "run1"),
            "ml-pipeline-train-run1-10bf87b3"
        );
        assert_eq!(job_name("训练", "評価", "運行"), "step-267b60c6");
    }

    #[test]
    fn odd_values_become_valid_distinct_label_values() {
        let long = "v".repeat(200);
        let values = [
            "train",
            "Train",
            "train step",
            "train/step",
            "-train",
            "train-",
            "训练",
            "評価",
            "",
            long.as_str(),
            &format!("{long}w"),
            "2026-11-01T10:00:00Z",
        ];
        let mut seen = std::collections::BTreeSet::new();
        for value in values {
            let label = label_value(value);
            assert!(is_label_value(&label), "{label:?} from {value:?}");
            assert!(seen.insert(label.clone()), "{label} twice");
        }
        assert!(label_value("train step").starts_with("train-step-"));
    }

    #[test]
    fn syntax_checks() {
        assert!(is_dns_label("a"));
        assert!(is_dns_label("a-1"));
        assert!(!is_dns_label("A"));
        assert!(!is_dns_label("a."));
        assert!(!is_dns_label("-a"));
        assert!(!is_dns_label(&"a".repeat(64)));
        assert!(is_dns_subdomain("regcred.v1"));
        assert!(!is_dns_subdomain("regcred..v1"));
        assert!(is_qualified_name("example.com/team"));
        assert!(is_qualified_name("team_name"));
        assert!(!is_qualified_name("/team"));
        assert!(!is_qualified_name("Example.com/team"));
        assert!(!is_qualified_name("example.com/"));
        assert!(is_label_value(""));
        assert!(!is_label_value("a b"));
    }
}
