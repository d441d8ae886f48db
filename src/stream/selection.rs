//! What a reader asked for (`from`, `to`, `limit`) and which IDs that means in a snapshot.

use std::ops::RangeInclusive;

/// A reader's request, with the original plugin's numeric meanings (spec §5.4, §13.2):
/// `from ≤ 0` means no lower bound, `to ≤ 0` means no upper bound (the original's `to=0`/`to=-1`,
/// and we treat every negative `to` the same), `limit ≤ 0` means unlimited. `None` is "absent".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// First ID wanted (inclusive); older IDs that are gone are silently skipped.
    pub from: Option<i64>,
    /// Last ID wanted (inclusive).
    pub to: Option<i64>,
    /// Most entries (chunks, not records) to return.
    pub limit: Option<i64>,
}

impl Selection {
    /// The IDs to serve out of a stream that holds `[oldest, next)`, or `None` when nothing matches.
    pub fn resolve(&self, oldest: u64, next: u64) -> Option<RangeInclusive<u64>> {
        if oldest >= next {
            return None;
        }
        let newest = next - 1;
        let start = match self.from {
            Some(from) if from > 0 => oldest.max(from as u64),
            _ => oldest,
        };
        let mut end = match self.to {
            Some(to) if to > 0 => newest.min(to as u64),
            _ => newest,
        };
        if let Some(limit) = self.limit.filter(|&l| l > 0) {
            end = end.min(start.saturating_add(limit as u64 - 1));
        }
        (start <= end).then_some(start..=end)
    }

    /// The same selection serving at most `max` entries (`http_max_entries`; 0: no cap): a
    /// `limit` above it, or none, becomes `max`.
    pub fn capped(mut self, max: u64) -> Self {
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        if max > 0 {
            self.limit = Some(match self.limit {
                Some(limit) if limit > 0 => limit.min(max),
                _ => max,
            });
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(from: Option<i64>, to: Option<i64>, limit: Option<i64>) -> Option<(u64, u64)> {
        Selection { from, to, limit }
            .resolve(5, 10)
            .map(|r| (*r.start(), *r.end()))
    }

    #[test]
    fn the_cap_bounds_every_answer_and_zero_is_none() {
        let capped = |limit, max| {
            Selection {
                from: None,
                to: None,
                limit,
            }
            .capped(max)
            .resolve(5, 10)
            .map(|r| (*r.start(), *r.end()))
        };
        assert_eq!(capped(None, 2), Some((5, 6)));
        assert_eq!(
            capped(Some(0), 2),
            Some((5, 6)),
            "limit 0 is no limit: the cap"
        );
        assert_eq!(capped(Some(3), 2), Some((5, 6)));
        assert_eq!(capped(Some(1), 2), Some((5, 5)), "a smaller limit stays");
        assert_eq!(capped(None, 0), Some((5, 9)), "0: no cap");
        assert_eq!(capped(Some(-1), 0), Some((5, 9)));
    }

    /// Spec §5.4's worked table, with §13.2's change for `to ≤ -2`.
    #[test]
    fn worked_table() {
        assert_eq!(sel(None, None, None), Some((5, 9)));
        assert_eq!(sel(Some(0), None, None), Some((5, 9)));
        assert_eq!(sel(Some(-3), None, None), Some((5, 9)));
        assert_eq!(sel(None, None, Some(0)), Some((5, 9)));
        assert_eq!(sel(None, Some(0), None), Some((5, 9)));
        assert_eq!(sel(Some(7), None, None), Some((7, 9)));
        assert_eq!(sel(None, Some(6), None), Some((5, 6)));
        assert_eq!(sel(Some(6), Some(8), Some(2)), Some((6, 7)));
        assert_eq!(sel(None, None, Some(1)), Some((5, 5)));
        assert_eq!(sel(Some(12), None, None), None);
        assert_eq!(sel(None, Some(3), None), None);
        assert_eq!(sel(Some(8), Some(6), None), None);
        assert_eq!(sel(None, Some(-2), None), Some((5, 9)));
        assert_eq!(sel(Some(2), None, None), Some((5, 9)));
        assert_eq!(sel(None, None, Some(i64::MAX)), Some((5, 9)));
        assert_eq!(sel(Some(i64::MAX), None, None), None);
    }

    #[test]
    fn empty_stream_serves_nothing() {
        assert_eq!(Selection::default().resolve(3, 3), None);
    }
}
