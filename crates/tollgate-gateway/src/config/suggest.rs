//! "did you mean `scopes`?": a suggestion added to serde's unknown-field message.

/// Adds "did you mean `x`?" to serde's "unknown field `y`, expected one of `a`, `b`" when
/// one expected name is close to the unknown one.
pub(super) fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((unknown, expected)) = rest.split_once("`, expected one of ") else {
        return message.to_string();
    };
    let best = expected
        .split(", ")
        .map(|e| e.trim_matches('`'))
        .map(|e| (edit_distance(unknown, e), e))
        .min();
    match best {
        Some((d, name)) if d <= 2 || name.starts_with(unknown) || unknown.starts_with(name) => {
            format!("{message}; did you mean `{name}`?")
        }
        _ => message.to_string(),
    }
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(ca != *cb));
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
