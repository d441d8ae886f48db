//! The read API's query parser, `api::parse_selection`, and what its [`Selection`] resolves to.
//!
//! Checks: no panic; a refusal names `from`, `to` or `limit`; an accepted selection resolves, in
//! streams of every small shape, to exactly the IDs a brute-force reading of the rules gives
//! (spec §5.4 / §13.2: `from ≤ 0` and `to ≤ 0` mean no bound, `limit ≤ 0` no limit), and in
//! streams near the end of the ID space to a range inside the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vivo_exporter::api::parse_selection;
use vivo_exporter::stream::Selection;

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    let selection = match parse_selection(&query) {
        Ok(selection) => selection,
        Err(bad) => {
            assert!(
                ["from", "to", "limit"].contains(&bad.name),
                "refusal names {:?}",
                bad.name
            );
            let _ = bad.to_string();
            return;
        }
    };
    for oldest in 0..6u64 {
        for next in oldest..12 {
            let got = selection
                .resolve(oldest, next)
                .map(|r| (*r.start(), *r.end()));
            assert_eq!(
                got,
                brute_force(&selection, oldest, next),
                "{selection:?} in [{oldest}, {next})"
            );
        }
    }
    for (oldest, next) in [
        (u64::MAX - 3, u64::MAX),
        (0, u64::MAX),
        (i64::MAX as u64, u64::MAX),
        (i64::MAX as u64 - 2, i64::MAX as u64 + 2),
    ] {
        if let Some(range) = selection.resolve(oldest, next) {
            let (start, end) = (*range.start(), *range.end());
            assert!(
                oldest <= start && start <= end && end < next,
                "{selection:?} in [{oldest}, {next}) gives {start}..={end}"
            );
            if let Some(limit) = selection.limit.filter(|&l| l > 0) {
                assert!(end - start < limit as u64, "more than {limit} entries");
            }
        }
    }
});

/// The IDs of `[oldest, next)` the rules select, as an inclusive range.
fn brute_force(s: &Selection, oldest: u64, next: u64) -> Option<(u64, u64)> {
    let wanted: Vec<u64> = (oldest..next)
        .filter(|&id| s.from.is_none_or(|from| from <= 0 || id >= from as u64))
        .filter(|&id| s.to.is_none_or(|to| to <= 0 || id <= to as u64))
        .take(match s.limit {
            Some(limit) if limit > 0 => usize::try_from(limit).unwrap_or(usize::MAX),
            _ => usize::MAX,
        })
        .collect();
    Some((*wanted.first()?, *wanted.last()?))
}
