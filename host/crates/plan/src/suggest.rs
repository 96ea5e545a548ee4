//! Nearest names for typos, and the one way Dockwright words a suggestion: settings keys,
//! step names, build options, integrations and plugins all go through here.

/// Case, `-` and `_` slips still find their name (`Scikit_Learn` → `scikit-learn`), though
/// names are compared exactly elsewhere.
fn normalize(name: &str) -> String {
    name.to_lowercase().replace('-', "_")
}

/// Known names close enough to `unknown` to be a likely typo, best first (ties by name).
pub(crate) fn ranked<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let wanted = normalize(unknown);
    let mut scored: Vec<(f64, &str)> = known
        .into_iter()
        .map(|k| {
            (
                strsim::normalized_damerau_levenshtein(&wanted, &normalize(k)),
                k,
            )
        })
        .filter(|(score, _)| *score >= 0.6)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().map(|(_, k)| k).collect()
}

/// The known name closest to `unknown`, if one is close enough to be a likely typo.
pub fn closest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    ranked(unknown, known).into_iter().next()
}

/// Up to three likely meant names, best first.
pub fn closest_few(unknown: &str, known: &[String]) -> Vec<String> {
    ranked(unknown, known.iter().map(String::as_str))
        .into_iter()
        .take(3)
        .map(str::to_owned)
        .collect()
}

/// "did you mean `x`?" / "did you mean one of: `x`, `y`?"; empty without suggestions.
pub(crate) fn did_you_mean(suggestions: &[impl AsRef<str>]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("did you mean `{}`?", one.as_ref()),
        many => format!(
            "did you mean one of: {}?",
            many.iter()
                .map(|s| format!("`{}`", s.as_ref()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `; did you mean …?` to append to a message, or nothing.
pub fn then_did_you_mean(suggestions: &[impl AsRef<str>]) -> String {
    match did_you_mean(suggestions) {
        s if s.is_empty() => s,
        s => format!("; {s}"),
    }
}

/// The suggestion for a typo, else the list of valid names.
pub fn suggestion(unknown: &str, known: &[&str]) -> String {
    match closest(unknown, known.iter().copied()) {
        Some(name) => did_you_mean(&[name]),
        None => format!("valid keys: {}", known.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_nearest_name_and_strangers_get_the_list() {
        let known = ["apt_packages", "environment", "user"];
        assert_eq!(closest("apt_pakages", known), Some("apt_packages"));
        assert_eq!(closest("Enviroment", known), Some("environment"));
        assert_eq!(closest("zzzzzz", known), None);
        assert_eq!(suggestion("usr", &known), "did you mean `user`?");
        assert_eq!(
            suggestion("qqqqqqq", &known),
            "valid keys: apt_packages, environment, user"
        );
    }

    #[test]
    fn case_and_dash_slips_rank_first() {
        let known = [
            "scikit_learn".to_string(),
            "sklearn".into(),
            "pytorch".into(),
        ];
        assert_eq!(closest_few("Scikit-Learn", &known)[0], "scikit_learn");
        assert_eq!(did_you_mean(&["a", "b"]), "did you mean one of: `a`, `b`?");
        assert_eq!(then_did_you_mean(&[] as &[&str]), "");
    }
}
