//! "Did you mean" suggestions for unknown names.

/// The known names closest to `name`, best first: at most three, and only those that are
/// plausibly a typo of it (normalised Damerau-Levenshtein similarity of at least 0.6), or
/// that contain it / are contained in it.
pub fn closest_names<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let wanted = name.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = known
        .into_iter()
        .map(|candidate| {
            let lower = candidate.to_ascii_lowercase();
            let mut score = strsim::normalized_damerau_levenshtein(&wanted, &lower);
            if !wanted.is_empty() && (lower.contains(&wanted) || wanted.contains(&lower)) {
                score = score.max(0.6);
            }
            (score, candidate)
        })
        .filter(|(score, _)| *score >= 0.6)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, n)| n.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_name() {
        let known = ["pytorch", "pytorch_lightning", "sklearn", "tensorflow"];
        assert_eq!(closest_names("pytorhc", known)[0], "pytorch");
        assert_eq!(closest_names("sklaern", known), vec!["sklearn"]);
        assert!(closest_names("zzzz", known).is_empty());
    }
}
