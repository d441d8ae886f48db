//! The service's counters as one cmetrics JSON document (spec §8), what Fluent Bit 4.2 and
//! later serve at `/api/v1/internal/metrics`: made from the Prometheus text exposition, so it
//! always holds exactly what `/internal/metrics` holds.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// One family as read from the text exposition.
#[derive(Default)]
struct Family {
    kind: String,
    help: String,
    /// Per label set (in order): the sample values by suffix (`""`, `_bucket` with its `le`,
    /// `_sum`, `_count`).
    series: BTreeMap<Vec<(String, String)>, Series>,
}

#[derive(Default)]
struct Series {
    value: f64,
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

/// Converts Prometheus text (version 0.0.4) into a cmetrics document, with `ts_ns` as every
/// sample's time. Families come in cmetrics' order: counters, gauges, histograms.
pub fn from_prometheus(text: &str, ts_ns: u64) -> String {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            if let Some((name, help)) = rest.split_once(' ') {
                families.entry(name.to_string()).or_default().help = help.to_string();
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some((name, kind)) = rest.split_once(' ') {
                families.entry(name.to_string()).or_default().kind = kind.to_string();
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            sample(line, &mut families);
        }
    }
    let mut metrics = Vec::new();
    for (wanted, type_code) in [("counter", 0), ("gauge", 1), ("histogram", 2)] {
        for (name, family) in families.iter().filter(|(_, f)| f.kind == wanted) {
            metrics.push(family_json(name, family, type_code, ts_ns));
        }
    }
    json!({
        "meta": {"cmetrics": {}, "external": {}, "processing": {"static_labels": []}},
        "metrics": metrics,
    })
    .to_string()
}

/// Files one sample line under its family (`name`, `name_total`, `name_bucket`, …).
fn sample(line: &str, families: &mut BTreeMap<String, Family>) {
    let (head, value) = match line.rsplit_once(' ') {
        Some(parts) => parts,
        None => return,
    };
    let Ok(value) = value.parse::<f64>() else {
        return;
    };
    let (name, mut labels) = match head.split_once('{') {
        Some((name, labels)) => (name, parse_labels(labels.trim_end_matches('}'))),
        None => (head, Vec::new()),
    };
    for (suffix, family_name) in [
        ("_total", name.strip_suffix("_total")),
        ("_bucket", name.strip_suffix("_bucket")),
        ("_sum", name.strip_suffix("_sum")),
        ("_count", name.strip_suffix("_count")),
        ("", Some(name)),
    ] {
        let Some(family_name) = family_name else {
            continue;
        };
        let Some(family) = families.get_mut(family_name) else {
            continue;
        };
        let le = match suffix {
            "_bucket" => labels
                .iter()
                .position(|(k, _)| k == "le")
                .map(|i| labels.remove(i).1),
            _ => None,
        };
        let series = family.series.entry(labels).or_default();
        match suffix {
            "_bucket" => {
                let bound = le.map_or(f64::INFINITY, |le| le.parse().unwrap_or(f64::INFINITY));
                series.buckets.push((bound, value));
            }
            "_sum" => series.sum = value,
            "_count" => series.count = value,
            _ => series.value = value,
        }
        return;
    }
}

/// `k="v",k2="v2"` into pairs (values unescaped).
fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => {}
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.push((key.trim_start_matches(',').to_string(), value));
        rest = &after[end..];
    }
    labels
}

fn family_json(name: &str, family: &Family, type_code: u8, ts_ns: u64) -> Value {
    let keys: Vec<String> = family
        .series
        .keys()
        .next()
        .map(|labels| labels.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    let short = name.strip_prefix("vivo_").unwrap_or(name);
    let mut meta = json!({
        "ver": 2,
        "type": type_code,
        "opts": {"ns": "vivo", "ss": "", "name": short, "desc": family.help, "unit": ""},
        "labels": keys,
    });
    let first_buckets: Vec<f64> = family
        .series
        .values()
        .next()
        .map(|s| {
            s.buckets
                .iter()
                .map(|(b, _)| *b)
                .filter(|b| b.is_finite())
                .collect()
        })
        .unwrap_or_default();
    match type_code {
        0 => meta["aggregation_type"] = json!(2),
        2 => {
            meta["buckets"] = json!(first_buckets);
            meta["aggregation_type"] = json!(2);
        }
        _ => {}
    }
    let values: Vec<Value> = family
        .series
        .iter()
        .map(|(labels, series)| {
            let mut sample = json!({"ts": ts_ns});
            match type_code {
                2 => {
                    sample["histogram"] = json!({
                        "buckets": series.buckets.iter().map(|(_, c)| *c as u64).collect::<Vec<_>>(),
                        "sum": series.sum,
                        "count": series.count as u64,
                    })
                }
                _ => sample["value"] = json!(series.value),
            }
            if !labels.is_empty() {
                sample["labels"] = json!(labels.iter().map(|(_, v)| v).collect::<Vec<_>>());
            }
            sample["hash"] = json!(series_hash(name, labels));
            sample
        })
        .collect();
    json!({"meta": meta, "values": values})
}

/// A stable hash of a series (FNV-1a over its name and label values), as cmetrics gives each.
fn series_hash(name: &str, labels: &[(String, String)]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(name.as_bytes());
    for (_, value) in labels {
        feed(&[0]);
        feed(value.as_bytes());
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_gauges_and_histograms_in_cmetrics_shape() {
        let text = "# HELP vivo_input_accepted_batches Batches accepted.\n\
                    # TYPE vivo_input_accepted_batches counter\n\
                    vivo_input_accepted_batches_total{input=\"forward.0\"} 3\n\
                    # HELP vivo_stream_entries Entries held.\n\
                    # TYPE vivo_stream_entries gauge\n\
                    vivo_stream_entries{output=\"vivo_exporter.0\",stream=\"logs\"} 7\n\
                    # HELP vivo_publish_seconds Time to publish.\n\
                    # TYPE vivo_publish_seconds histogram\n\
                    vivo_publish_seconds_sum 0.5\n\
                    vivo_publish_seconds_count 2\n\
                    vivo_publish_seconds_bucket{le=\"0.1\"} 1\n\
                    vivo_publish_seconds_bucket{le=\"+Inf\"} 2\n";
        let doc: Value = serde_json::from_str(&from_prometheus(text, 17)).unwrap();
        let metrics = doc["metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 3);
        assert_eq!(metrics[0]["meta"]["type"], 0);
        assert_eq!(metrics[0]["meta"]["opts"]["name"], "input_accepted_batches");
        assert_eq!(metrics[0]["meta"]["labels"], json!(["input"]));
        assert_eq!(metrics[0]["values"][0]["value"], 3.0);
        assert_eq!(metrics[0]["values"][0]["labels"], json!(["forward.0"]));
        assert_eq!(metrics[0]["values"][0]["ts"], 17);
        assert_eq!(metrics[1]["meta"]["type"], 1);
        assert_eq!(
            metrics[1]["values"][0]["labels"],
            json!(["vivo_exporter.0", "logs"])
        );
        assert_eq!(metrics[2]["meta"]["type"], 2);
        assert_eq!(metrics[2]["meta"]["buckets"], json!([0.1]));
        assert_eq!(
            metrics[2]["values"][0]["histogram"],
            json!({"buckets": [1, 2], "sum": 0.5, "count": 2})
        );
        assert!(doc["meta"]["processing"]["static_labels"].is_array());
    }
}
