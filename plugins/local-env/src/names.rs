//! Project names: PEP 503 normalisation and the PEP 508 validity check pip applies.

/// PEP 503: every run of `-`, `_`, `.` becomes one `-`, then lower case.
pub fn canonicalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator {
                out.push('-');
            }
            in_separator = true;
        } else {
            out.extend(c.to_lowercase());
            in_separator = false;
        }
    }
    out
}

/// PEP 508's project name pattern, `^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$` (ignoring
/// case): pip skips distributions whose name fails it (e.g. `~atplotlib` leftovers).
pub fn is_valid(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let bytes: Vec<char> = name.chars().collect();
    match bytes.as_slice() {
        [] => false,
        [one] => alnum(*one),
        [first, middle @ .., last] => {
            alnum(*first)
                && alnum(*last)
                && middle
                    .iter()
                    .all(|&c| alnum(c) || matches!(c, '.' | '_' | '-'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names() {
        assert_eq!(canonicalize("Foo.Bar"), "foo-bar");
        assert_eq!(canonicalize("zz__Under-._x"), "zz-under-x");
        assert_eq!(canonicalize("six"), "six");
    }

    #[test]
    fn valid_names() {
        assert!(is_valid("a"));
        assert!(is_valid("Foo.Bar"));
        assert!(!is_valid("~atplotlib"));
        assert!(!is_valid("foo-"));
        assert!(!is_valid(""));
    }
}
