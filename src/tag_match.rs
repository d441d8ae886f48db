//! Fluent Bit's tag routing: which batches an output takes, by `match` wildcard or `match_regex`.

/// How an output selects batches by tag, as Fluent Bit's `match` / `match_regex` keys do.
#[derive(Clone, Debug)]
pub enum TagMatcher {
    /// Fluent Bit's `match`: `*` matches any run of characters (dots included); everything else literally.
    Wildcard(String),
    /// Fluent Bit's `match_regex`: an unanchored regular-expression search on the tag.
    Regex(regex::Regex),
    /// No `match` key: the output receives nothing (Fluent Bit warns about it at start).
    Nothing,
}

impl TagMatcher {
    /// Whether a batch with this tag goes to the output.
    pub fn matches(&self, tag: &str) -> bool {
        match self {
            TagMatcher::Wildcard(pattern) => wildcard_match(pattern.as_bytes(), tag.as_bytes()),
            TagMatcher::Regex(re) => re.is_match(tag),
            TagMatcher::Nothing => false,
        }
    }
}

/// Fluent Bit's `flb_router_match` wildcard rule: `*` is any sequence (possibly empty), all else literal.
fn wildcard_match(pattern: &[u8], tag: &[u8]) -> bool {
    // Iterative glob with single-star backtracking: linear in practice, no recursion on input.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < tag.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == tag[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_rules() {
        let m = |p: &str, t: &str| TagMatcher::Wildcard(p.into()).matches(t);
        assert!(m("*", "events"));
        assert!(m("*", ""));
        assert!(m("app.*", "app.web"));
        assert!(m("app.*", "app.web.access"));
        assert!(!m("app.*", "application"));
        assert!(m("*.access", "nginx.access"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("events", "events"));
        assert!(!m("events", "events2"));
        assert!(!TagMatcher::Nothing.matches("x"));
    }
}
