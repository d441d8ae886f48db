//! OTLP metrics as cmetrics JSON: the lines `GET /metrics` serves for an OTLP metrics request.
//!
//! Fluent Bit's `opentelemetry` input turns each ScopeMetrics of a request into one cmetrics
//! context, and `vivo_exporter` prints that context as one JSON line. Vivo and other readers of
//! the metrics stream parse exactly that shape, so an OTLP request here renders to the lines
//! Fluent Bit v4.1.2's protobuf path gives (`shared/spec/otlp-mapping.md` §3, the shape of
//! `vivo-exporter-behaviour.md` §8): one line per ScopeMetrics holding at least one metric with
//! data points; `meta.external` with scope, scope_metrics, resource (when the ResourceMetrics has
//! one) and resource_metrics; families ordered counters, gauges, summaries, histograms; `opts`
//! without `unit`; samples without `start_ts`; label values as strings (bools `"1"`/`"0"`, ints
//! in decimal, doubles as C `%.17g`); `asInt` values as floats; summary quantiles and sums as
//! IEEE-754 bit patterns; `hash` always 0.
//!
//! Deliberate differences from v4.1.2 (the recommendations of otlp-mapping §5):
//! - **Every context is printed** (§1.4, §5.9; vivo §13.7-13.8): the caller gets one line per
//!   ScopeMetrics, where era A prints only the first context of a chunk.
//! - **Missing labels are `null`** (§3.4, §5.7): label keys are the union of the points'
//!   attribute keys in first-seen order, and a point without one of them (or with an unset,
//!   array or kvlist value for it) has `null` in that position instead of shifting the values.
//! - **Negative `asInt` values stay negative** (§3.4, §5.8), where v4.1.2 prints 0.0.
//! - **A histogram without explicit bounds is one +Inf bucket** (§3.1, §5.8): family `buckets`
//!   is `[]` and the sample has one bucket, where v4.1.2 fails the whole request. Every sample
//!   has exactly one bucket more than the family's bounds (the first point's, §3.3): counts as
//!   sent, missing ones 0, surplus ones added to the last (+Inf) bucket, and a point that sends
//!   no counts at all has its `count` in the +Inf bucket (v4.1.2 reads past its arrays, §3.4).
//!   Summary samples likewise have one quantile per family quantile (a missing one is 0).
//! - **Exponential histograms are kept** as type 5 families after all others (§3.3, §5.8),
//!   in the shape cmetrics v5 gives them (`tests/vectors/extra/metrics-exphist`): `opts`
//!   with `unit` (the OTLP unit, `""` when unset), `aggregation_type` after `labels`, and
//!   `start_ts` on a sample whose `start_time_unix_nano` is not 0, as v5 prints it only when
//!   set. Types 0-3 keep the v4.1.2 shape (no `unit`, no `start_ts`); `hash` stays 0 for all.
//! - **Non-finite floats are `null`** (§5.13, vivo §13.9), where Fluent Bit prints `nan`/`inf`.
//! - **Bytes are base64 text** in attributes and label values (as [`JsonOut::any_value`]),
//!   where Fluent Bit copies the raw bytes through its string escaper (§3.2, §3.4).
//! - **Nothing fails**: input v4.1.2 refuses with 400 is rendered: a point with more than 127
//!   attributes or an unset resource or scope attribute value (§3.1; the value prints `null`),
//!   and a number point without a value (cmetrics' decoder fails it; here, as for
//!   `FLAG_NO_RECORDED_VALUE` points, it has `"value":null`).
//! - **`ts` is always `time_unix_nano`**, also for a summary or histogram point without
//!   quantiles or buckets (v4.1.2 gives 0 there, from reading its code, §3.4).
//!
//! A metric with no data points, or with no data at all, is dropped (§3.3), and a ScopeMetrics
//! left without metrics gives no line (§1.4).

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    number_data_point, AggregationTemporality, ExponentialHistogramDataPoint, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, SummaryDataPoint,
};

use super::json::JsonOut;

/// What a metrics request rendered to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderedMetrics {
    /// Lines written: one cmetrics context per ScopeMetrics that holds a metric.
    pub contexts: usize,
    /// Data points rendered.
    pub data_points: u64,
}

/// Appends one cmetrics JSON line (ending in `\n`) per ScopeMetrics of `request` that holds a
/// metric with data points to `out`; `escape_unicode` is `json.escape_unicode`.
pub fn render_metrics(
    request: &ExportMetricsServiceRequest,
    escape_unicode: bool,
    out: &mut Vec<u8>,
) -> RenderedMetrics {
    let mut json = JsonOut {
        out,
        escape_unicode,
    };
    let mut rendered = RenderedMetrics::default();
    for resource_metrics in &request.resource_metrics {
        for scope_metrics in &resource_metrics.scope_metrics {
            let families = families(scope_metrics);
            if families.is_empty() {
                continue;
            }
            write_context(&mut json, resource_metrics, scope_metrics, &families);
            rendered.contexts += 1;
            rendered.data_points += families.iter().map(|(_, data)| points(data)).sum::<u64>();
        }
    }
    rendered
}

/// The metrics of a scope that have data points, in cmetrics family order: counters, gauges,
/// summaries, histograms, exponential histograms; request order within a type.
fn families(scope_metrics: &ScopeMetrics) -> Vec<(&Metric, &Data)> {
    let mut families: Vec<(&Metric, &Data)> = scope_metrics
        .metrics
        .iter()
        .filter_map(|metric| Some((metric, metric.data.as_ref()?)))
        .filter(|(_, data)| points(data) > 0)
        .collect();
    // Stable, so request order is kept within a type.
    families.sort_by_key(|(_, data)| match data {
        Data::Sum(_) => 0,
        Data::Gauge(_) => 1,
        Data::Summary(_) => 2,
        Data::Histogram(_) => 3,
        Data::ExponentialHistogram(_) => 4,
    });
    families
}

/// How many data points a metric's data holds.
fn points(data: &Data) -> u64 {
    let count = match data {
        Data::Sum(sum) => sum.data_points.len(),
        Data::Gauge(gauge) => gauge.data_points.len(),
        Data::Summary(summary) => summary.data_points.len(),
        Data::Histogram(histogram) => histogram.data_points.len(),
        Data::ExponentialHistogram(histogram) => histogram.data_points.len(),
    };
    count as u64
}

/// One cmetrics context line.
fn write_context(
    json: &mut JsonOut,
    resource_metrics: &ResourceMetrics,
    scope_metrics: &ScopeMetrics,
    families: &[(&Metric, &Data)],
) {
    json.raw(br#"{"meta":{"cmetrics":{"producer":"opentelemetry"},"external":"#);
    write_external(json, resource_metrics, scope_metrics);
    json.raw(br#","processing":{"static_labels":[]}},"metrics":["#);
    for (i, (metric, data)) in families.iter().enumerate() {
        if i > 0 {
            json.raw(b",");
        }
        write_family(json, metric, data);
    }
    json.raw(b"]}\n");
}

/// `meta.external`: scope, scope_metrics, resource (if any), resource_metrics (§3.2).
fn write_external(json: &mut JsonOut, resource_metrics: &ResourceMetrics, scope: &ScopeMetrics) {
    json.raw(br#"{"scope":{"metadata":"#);
    write_scope_metadata(json, scope.scope.as_ref());
    json.raw(br#","attributes":"#);
    json.attributes(scope.scope.as_ref().map_or(&[], |s| &s.attributes[..]));
    json.raw(br#"},"scope_metrics":{"metadata":{"schema_url":"#);
    json.str(&scope.schema_url);
    json.raw(b"}}");
    if let Some(resource) = &resource_metrics.resource {
        json.raw(br#","resource":{"metadata":{"dropped_attributes_count":"#);
        json.u64(resource.dropped_attributes_count.into());
        json.raw(br#"},"attributes":"#);
        json.attributes(&resource.attributes);
        json.raw(b"}");
    }
    json.raw(br#","resource_metrics":{"metadata":{"schema_url":"#);
    json.str(&resource_metrics.schema_url);
    json.raw(b"}}}");
}

/// `scope.metadata`: `{}` without a scope message, else name, version, dropped count.
fn write_scope_metadata(json: &mut JsonOut, scope: Option<&InstrumentationScope>) {
    let Some(scope) = scope else {
        json.raw(b"{}");
        return;
    };
    json.raw(br#"{"name":"#);
    json.str(&scope.name);
    json.raw(br#","version":"#);
    json.str(&scope.version);
    json.raw(br#","dropped_attributes_count":"#);
    json.u64(scope.dropped_attributes_count.into());
    json.raw(b"}");
}

/// One family: `{"meta":{…},"values":[…]}`.
fn write_family(json: &mut JsonOut, metric: &Metric, data: &Data) {
    match data {
        Data::Sum(sum) => {
            let keys = label_keys(&sum.data_points);
            write_meta_head(json, metric, 0, &keys);
            json.raw(br#","aggregation_type":"#);
            json.u64(aggregation_type(sum.aggregation_temporality));
            write_values(json, &sum.data_points, &keys, write_number);
        }
        Data::Gauge(gauge) => {
            let keys = label_keys(&gauge.data_points);
            write_meta_head(json, metric, 1, &keys);
            write_values(json, &gauge.data_points, &keys, write_number);
        }
        Data::Summary(summary) => write_summary_family(json, metric, &summary.data_points),
        Data::Histogram(histogram) => write_histogram_family(json, metric, &histogram.data_points),
        Data::ExponentialHistogram(histogram) => {
            let keys = label_keys(&histogram.data_points);
            write_meta_head(json, metric, 5, &keys);
            json.raw(br#","aggregation_type":"#);
            json.u64(aggregation_type(histogram.aggregation_temporality));
            write_values(json, &histogram.data_points, &keys, write_exp_histogram);
        }
    }
}

/// A summary family: `quantiles` are the first point's, and every sample has as many.
fn write_summary_family(json: &mut JsonOut, metric: &Metric, points: &[SummaryDataPoint]) {
    let keys = label_keys(points);
    let quantiles = points.first().map_or(&[][..], |p| &p.quantile_values);
    write_meta_head(json, metric, 3, &keys);
    json.raw(br#","quantiles":["#);
    write_list(json, quantiles, |json, q| json.f64(q.quantile));
    json.raw(b"]");
    write_values(json, points, &keys, |json, point| {
        write_summary(json, point, quantiles.len())
    });
}

/// A histogram family: `buckets` are the first point's bounds, and every sample has one
/// bucket more (one +Inf bucket when there are no bounds).
fn write_histogram_family(json: &mut JsonOut, metric: &Metric, points: &[HistogramDataPoint]) {
    let keys = label_keys(points);
    let bounds = points.first().map_or(&[][..], |p| &p.explicit_bounds);
    write_meta_head(json, metric, 2, &keys);
    json.raw(br#","buckets":["#);
    write_list(json, bounds, |json, bound| json.f64(*bound));
    json.raw(b"]");
    write_values(json, points, &keys, |json, point| {
        write_histogram(json, point, bounds.len() + 1)
    });
}

/// `{"meta":{"ver":2,"type":…,"opts":{…},"labels":[…]`, left open for the type's own keys.
/// Only type 5 (a v5-only type) has `opts.unit`, as v5 prints it.
fn write_meta_head(json: &mut JsonOut, metric: &Metric, kind: u64, keys: &[&str]) {
    json.raw(br#"{"meta":{"ver":2,"type":"#);
    json.u64(kind);
    json.raw(br#","opts":{"ns":"","ss":"","name":"#);
    json.str(&metric.name);
    json.raw(br#","desc":"#);
    json.str(match metric.description.as_str() {
        "" => "-",
        description => description,
    });
    if kind == 5 {
        json.raw(br#","unit":"#);
        json.str(&metric.unit);
    }
    json.raw(br#"},"labels":["#);
    write_list(json, keys, |json, key| json.str(key));
    json.raw(b"]");
}

/// cmetrics `aggregation_type` of an OTLP temporality: 1 delta, 2 cumulative, 0 otherwise.
fn aggregation_type(temporality: i32) -> u64 {
    match AggregationTemporality::try_from(temporality) {
        Ok(AggregationTemporality::Delta) => 1,
        Ok(AggregationTemporality::Cumulative) => 2,
        _ => 0,
    }
}

/// `items` separated by commas, each written by `write`.
fn write_list<T>(json: &mut JsonOut, items: &[T], mut write: impl FnMut(&mut JsonOut, &T)) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            json.raw(b",");
        }
        write(json, item);
    }
}

/// What the sample writer needs from every kind of data point.
trait Point {
    fn attributes(&self) -> &[KeyValue];
    fn time_unix_nano(&self) -> u64;
}

macro_rules! impl_point {
    ($($point:ty),*) => {$(
        impl Point for $point {
            fn attributes(&self) -> &[KeyValue] {
                &self.attributes
            }
            fn time_unix_nano(&self) -> u64 {
                self.time_unix_nano
            }
        }
    )*};
}

impl_point!(
    NumberDataPoint,
    SummaryDataPoint,
    HistogramDataPoint,
    ExponentialHistogramDataPoint
);

/// The family's label keys: every attribute key of its points, in first-seen order.
fn label_keys<P: Point>(points: &[P]) -> Vec<&str> {
    let mut keys: Vec<&str> = Vec::new();
    for pair in points.iter().flat_map(Point::attributes) {
        if !keys.contains(&pair.key.as_str()) {
            keys.push(&pair.key);
        }
    }
    keys
}

/// Closes the family's `meta` and writes `"values":[…]}`: the first point without attributes
/// (cmetrics' static sample) first, then the others in request order. `write_value` writes what
/// follows `ts` (`,"value":…` and the like).
fn write_values<P: Point>(
    json: &mut JsonOut,
    points: &[P],
    keys: &[&str],
    mut write_value: impl FnMut(&mut JsonOut, &P),
) {
    let static_at = points.iter().position(|p| p.attributes().is_empty());
    let static_point = static_at.and_then(|i| points.get(i));
    let others = points
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != static_at);
    json.raw(br#"},"values":["#);
    for (n, point) in static_point
        .into_iter()
        .chain(others.map(|(_, p)| p))
        .enumerate()
    {
        if n > 0 {
            json.raw(b",");
        }
        json.raw(br#"{"ts":"#);
        json.u64(point.time_unix_nano());
        write_value(json, point);
        if !point.attributes().is_empty() {
            json.raw(br#","labels":["#);
            write_list(json, keys, |json, key| {
                write_label(json, point.attributes(), key)
            });
            json.raw(b"]");
        }
        json.raw(br#","hash":0}"#);
    }
    json.raw(b"]}");
}

/// The label value of `key` among a point's attributes (the last one if repeated), or `null`
/// when the point lacks it.
fn write_label(json: &mut JsonOut, attributes: &[KeyValue], key: &str) {
    let pair = attributes.iter().rev().find(|pair| pair.key == key);
    write_label_value(json, pair.and_then(|pair| pair.value.as_ref()));
}

/// A label value as cmetrics' OTLP decoder converts it (§3.4): strings as they are, bools
/// `"1"`/`"0"`, ints in decimal, doubles as `%.17g`; bytes as base64 text; anything else `null`.
fn write_label_value(json: &mut JsonOut, value: Option<&AnyValue>) {
    match value.and_then(|v| v.value.as_ref()) {
        Some(AnyKind::StringValue(text)) => json.str(text),
        Some(AnyKind::BoolValue(flag)) => json.raw(if *flag { br#""1""# } else { br#""0""# }),
        Some(AnyKind::IntValue(int)) => {
            json.raw(b"\"");
            json.i64(*int);
            json.raw(b"\"");
        }
        Some(AnyKind::DoubleValue(double)) => {
            json.raw(b"\"");
            write_g17(json.out, *double);
            json.raw(b"\"");
        }
        Some(AnyKind::BytesValue(_)) => json.any_value(value),
        _ => json.raw(b"null"),
    }
}

/// `,"value":…` of a sum or gauge point: the double, or the int as a double (sign kept).
fn write_number(json: &mut JsonOut, point: &NumberDataPoint) {
    json.raw(br#","value":"#);
    match point.value {
        Some(number_data_point::Value::AsDouble(double)) => json.f64(double),
        Some(number_data_point::Value::AsInt(int)) => json.f64(int as f64),
        None => json.raw(b"null"),
    }
}

/// `,"summary":{…}` with one quantile value per family quantile, as IEEE-754 bit patterns.
fn write_summary(json: &mut JsonOut, point: &SummaryDataPoint, width: usize) {
    json.raw(br#","summary":{"quantiles_set":1,"quantiles":["#);
    for i in 0..width {
        if i > 0 {
            json.raw(b",");
        }
        json.u64(
            point
                .quantile_values
                .get(i)
                .map_or(0, |q| q.value.to_bits()),
        );
    }
    json.raw(br#"],"count":"#);
    json.u64(point.count);
    json.raw(br#","sum":"#);
    json.u64(point.sum.to_bits());
    json.raw(b"}");
}

/// `,"histogram":{…}` with exactly `width` (family bounds + 1) per-bucket counts.
fn write_histogram(json: &mut JsonOut, point: &HistogramDataPoint, width: usize) {
    json.raw(br#","histogram":{"buckets":["#);
    let counts = &point.bucket_counts;
    for i in 0..width {
        if i > 0 {
            json.raw(b",");
        }
        let count = if i + 1 < width {
            counts.get(i).copied().unwrap_or(0)
        } else if counts.is_empty() {
            point.count
        } else {
            let rest = counts.get(i..).unwrap_or_default();
            rest.iter().fold(0u64, |total, &c| total.saturating_add(c))
        };
        json.u64(count);
    }
    json.raw(br#"],"sum":"#);
    json.f64(point.sum.unwrap_or(0.0));
    json.raw(br#","count":"#);
    json.u64(point.count);
    json.raw(b"}");
}

/// `[,"start_ts":…],"exp_histogram":{…}` as cmetrics v5 prints it; `sum` is a bit pattern.
fn write_exp_histogram(json: &mut JsonOut, point: &ExponentialHistogramDataPoint) {
    if point.start_time_unix_nano > 0 {
        json.raw(br#","start_ts":"#);
        json.u64(point.start_time_unix_nano);
    }
    json.raw(br#","exp_histogram":{"scale":"#);
    json.i64(point.scale.into());
    json.raw(br#","zero_count":"#);
    json.u64(point.zero_count);
    json.raw(br#","zero_threshold":"#);
    json.f64(point.zero_threshold);
    let sides: [(&[u8], &[u8], _); 2] = [
        (
            br#","positive_offset":"#,
            br#","positive_buckets":["#,
            &point.positive,
        ),
        (
            br#","negative_offset":"#,
            br#","negative_buckets":["#,
            &point.negative,
        ),
    ];
    for (offset_key, buckets_key, buckets) in sides {
        let (offset, counts) = buckets
            .as_ref()
            .map_or((0, &[][..]), |b| (b.offset, &b.bucket_counts[..]));
        json.raw(offset_key);
        json.i64(offset.into());
        json.raw(buckets_key);
        write_list(json, counts, |json, count| json.u64(*count));
        json.raw(b"]");
    }
    json.raw(br#","count":"#);
    json.u64(point.count);
    json.raw(if point.sum.is_some() {
        br#","sum_set":1,"sum":"#
    } else {
        br#","sum_set":0,"sum":"#
    });
    json.u64(point.sum.unwrap_or(0.0).to_bits());
    json.raw(b"}");
}

/// C's `printf("%.17g", x)` (glibc), the text cmetrics gives a double label value.
///
/// `number.rs` only has `%.16g`, for JSON floats; this one only makes label text. Rust's
/// `{:.16e}` is correctly rounded like glibc, so it gives the same 17 digits and exponent, and
/// `%g` only picks fixed or exponent notation and drops trailing zeros.
fn write_g17(out: &mut Vec<u8>, x: f64) {
    if !x.is_finite() {
        let text = match (x.is_nan(), x.is_sign_negative()) {
            (true, false) => "nan",
            (true, true) => "-nan",
            (false, false) => "inf",
            (false, true) => "-inf",
        };
        out.extend_from_slice(text.as_bytes());
        return;
    }
    let sci = format!("{x:.16e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = match digits.trim_end_matches('0') {
        "" => "0",
        kept => kept,
    };
    let text = if !(-4..17).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{sign}{first}{point}{rest}e{exp_sign}{:02}",
            exponent.unsigned_abs()
        )
    } else if exponent >= 0 {
        let int_len = exponent as usize + 1;
        let int_part = format!("{digits:0<int_len$}");
        let (int_part, frac) = int_part.split_at(int_len.min(int_part.len()));
        let point = if frac.is_empty() { "" } else { "." };
        format!("{sign}{int_part}{point}{frac}")
    } else {
        let zeros = "0".repeat(exponent.unsigned_abs() as usize - 1);
        format!("{sign}0.{zeros}{digits}")
    };
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use number_data_point::Value::{AsDouble, AsInt};
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
    use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
    use opentelemetry_proto::tonic::metrics::v1::{
        ExponentialHistogram, Gauge, Histogram, Sum, Summary,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use AggregationTemporality::{Cumulative, Delta};

    /// The line of otlp-mapping §3.5, verbatim.
    const SPEC_3_5_LINE: &str = concat!(
        r#"{"meta":{"cmetrics":{"producer":"opentelemetry"},"external":{"scope":{"metadata":{"name":"lib","version":"1.0","dropped_attributes_count":0},"attributes":{}},"scope_metrics":{"metadata":{"schema_url":""}},"resource":{"metadata":{"dropped_attributes_count":0},"attributes":{"service.name":"cart"}},"resource_metrics":{"metadata":{"schema_url":""}}},"processing":{"static_labels":[]}},"metrics":[{"meta":{"ver":2,"type":0,"opts":{"ns":"","ss":"","name":"http_requests_total","desc":"Requests"},"labels":["method","code"],"aggregation_type":2},"values":[{"ts":1700000010000000000,"value":42.0,"labels":["GET","200"],"hash":0},{"ts":1700000010000000000,"value":3.0,"labels":["POST","500"],"hash":0}]},{"meta":{"ver":2,"type":1,"opts":{"ns":"","ss":"","name":"temperature","desc":"-"},"labels":[]},"values":[{"ts":1700000010000000000,"value":21.5,"hash":0}]},{"meta":{"ver":2,"type":3,"opts":{"ns":"","ss":"","name":"rpc_seconds","desc":"-"},"labels":[],"quantiles":[0.5,0.99]},"values":[{"ts":1700000010000000000,"summary":{"quantiles_set":1,"quantiles":[4598175219545276416,4609434218613702656],"count":4,"sum":4611686018427387904},"hash":0}]},{"meta":{"ver":2,"type":2,"opts":{"ns":"","ss":"","name":"latency","desc":"Latency"},"labels":[],"buckets":[1.0,5.0]},"values":[{"ts":1700000010000000000,"histogram":{"buckets":[1,3,1],"sum":12.5,"count":5},"hash":0}]}]}"#,
        "\n"
    );

    /// What §3.5's exponential histogram `sizes` becomes here (v4.1.2 drops it): 3.0 is
    /// 4613937818241073152; no start time was sent, so there is no `start_ts`.
    const SPEC_3_5_SIZES: &str = r#"{"meta":{"ver":2,"type":5,"opts":{"ns":"","ss":"","name":"sizes","desc":"-","unit":""},"labels":[],"aggregation_type":2},"values":[{"ts":1700000010000000000,"exp_histogram":{"scale":0,"zero_count":0,"zero_threshold":0.0,"positive_offset":1,"positive_buckets":[1],"negative_offset":0,"negative_buckets":[],"count":1,"sum_set":1,"sum":4613937818241073152},"hash":0}]}"#;

    /// Our line for §3.5: the spec's line with `sizes` as a last, type 5 family.
    const SPEC_3_5_OURS: &str = concat!(
        r#"{"meta":{"cmetrics":{"producer":"opentelemetry"},"external":{"scope":{"metadata":{"name":"lib","version":"1.0","dropped_attributes_count":0},"attributes":{}},"scope_metrics":{"metadata":{"schema_url":""}},"resource":{"metadata":{"dropped_attributes_count":0},"attributes":{"service.name":"cart"}},"resource_metrics":{"metadata":{"schema_url":""}}},"processing":{"static_labels":[]}},"metrics":[{"meta":{"ver":2,"type":0,"opts":{"ns":"","ss":"","name":"http_requests_total","desc":"Requests"},"labels":["method","code"],"aggregation_type":2},"values":[{"ts":1700000010000000000,"value":42.0,"labels":["GET","200"],"hash":0},{"ts":1700000010000000000,"value":3.0,"labels":["POST","500"],"hash":0}]},{"meta":{"ver":2,"type":1,"opts":{"ns":"","ss":"","name":"temperature","desc":"-"},"labels":[]},"values":[{"ts":1700000010000000000,"value":21.5,"hash":0}]},{"meta":{"ver":2,"type":3,"opts":{"ns":"","ss":"","name":"rpc_seconds","desc":"-"},"labels":[],"quantiles":[0.5,0.99]},"values":[{"ts":1700000010000000000,"summary":{"quantiles_set":1,"quantiles":[4598175219545276416,4609434218613702656],"count":4,"sum":4611686018427387904},"hash":0}]},{"meta":{"ver":2,"type":2,"opts":{"ns":"","ss":"","name":"latency","desc":"Latency"},"labels":[],"buckets":[1.0,5.0]},"values":[{"ts":1700000010000000000,"histogram":{"buckets":[1,3,1],"sum":12.5,"count":5},"hash":0}]},{"meta":{"ver":2,"type":5,"opts":{"ns":"","ss":"","name":"sizes","desc":"-","unit":""},"labels":[],"aggregation_type":2},"values":[{"ts":1700000010000000000,"exp_histogram":{"scale":0,"zero_count":0,"zero_threshold":0.0,"positive_offset":1,"positive_buckets":[1],"negative_offset":0,"negative_buckets":[],"count":1,"sum_set":1,"sum":4613937818241073152},"hash":0}]}]}"#,
        "\n"
    );

    const START: u64 = 1_700_000_000_000_000_000;
    const T10: u64 = 1_700_000_010_000_000_000;
    const T60: u64 = 1_700_000_060_000_000_000;

    fn kv(key: &str, value: AnyKind) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        }
    }

    fn text(value: &str) -> AnyKind {
        AnyKind::StringValue(value.into())
    }

    fn number(
        attributes: Vec<KeyValue>,
        time: u64,
        value: number_data_point::Value,
    ) -> NumberDataPoint {
        NumberDataPoint {
            attributes,
            start_time_unix_nano: START,
            time_unix_nano: time,
            value: Some(value),
            ..NumberDataPoint::default()
        }
    }

    fn histogram_point(
        attributes: Vec<KeyValue>,
        bounds: &[f64],
        counts: &[u64],
        sum: f64,
    ) -> HistogramDataPoint {
        HistogramDataPoint {
            attributes,
            start_time_unix_nano: START,
            time_unix_nano: T60,
            count: counts.iter().sum(),
            sum: Some(sum),
            bucket_counts: counts.to_vec(),
            explicit_bounds: bounds.to_vec(),
            ..HistogramDataPoint::default()
        }
    }

    fn summary_point(
        attributes: Vec<KeyValue>,
        time: u64,
        count: u64,
        sum: f64,
        quantiles: &[(f64, f64)],
    ) -> SummaryDataPoint {
        SummaryDataPoint {
            attributes,
            time_unix_nano: time,
            count,
            sum,
            quantile_values: quantiles
                .iter()
                .map(|&(quantile, value)| ValueAtQuantile { quantile, value })
                .collect(),
            ..SummaryDataPoint::default()
        }
    }

    fn metric(name: &str, description: &str, unit: &str, data: Data) -> Metric {
        Metric {
            name: name.into(),
            description: description.into(),
            unit: unit.into(),
            data: Some(data),
            ..Metric::default()
        }
    }

    fn sum(
        temporality: AggregationTemporality,
        is_monotonic: bool,
        data_points: Vec<NumberDataPoint>,
    ) -> Data {
        Data::Sum(Sum {
            data_points,
            aggregation_temporality: temporality as i32,
            is_monotonic,
        })
    }

    fn gauge(data_points: Vec<NumberDataPoint>) -> Data {
        Data::Gauge(Gauge { data_points })
    }

    fn histogram(data_points: Vec<HistogramDataPoint>) -> Data {
        histogram_with(Cumulative, data_points)
    }

    fn histogram_with(
        temporality: AggregationTemporality,
        data_points: Vec<HistogramDataPoint>,
    ) -> Data {
        Data::Histogram(Histogram {
            data_points,
            aggregation_temporality: temporality as i32,
        })
    }

    fn exp_histogram(
        temporality: AggregationTemporality,
        data_points: Vec<ExponentialHistogramDataPoint>,
    ) -> Data {
        Data::ExponentialHistogram(ExponentialHistogram {
            data_points,
            aggregation_temporality: temporality as i32,
        })
    }

    fn scope(name: &str, version: &str, metrics: Vec<Metric>) -> ScopeMetrics {
        ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: name.into(),
                version: version.into(),
                ..InstrumentationScope::default()
            }),
            metrics,
            schema_url: String::new(),
        }
    }

    fn resource(attributes: Vec<KeyValue>, scope_metrics: Vec<ScopeMetrics>) -> ResourceMetrics {
        ResourceMetrics {
            resource: Some(Resource {
                attributes,
                ..Resource::default()
            }),
            scope_metrics,
            schema_url: String::new(),
        }
    }

    /// The resource and scope of every metrics vector.
    fn vector_request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
        let attributes = vec![
            kv("service.name", text("vector-svc")),
            kv("host.name", text("h1")),
        ];
        ExportMetricsServiceRequest {
            resource_metrics: vec![resource(
                attributes,
                vec![scope("vector-scope", "0.1", metrics)],
            )],
        }
    }

    /// A request of one resource (`service.name=svc`) and one scope holding `metrics`.
    fn one_scope(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![resource(
                vec![kv("service.name", text("svc"))],
                vec![scope("s", "1", metrics)],
            )],
        }
    }

    fn render(
        request: &ExportMetricsServiceRequest,
        escape_unicode: bool,
    ) -> (String, RenderedMetrics) {
        let mut out = Vec::new();
        let rendered = render_metrics(request, escape_unicode, &mut out);
        (String::from_utf8(out).expect("UTF-8"), rendered)
    }

    /// The `"metrics":[…]` content of a single rendered line.
    fn families_of(line: &str) -> &str {
        let start = line.find(r#""metrics":["#).expect("metrics") + r#""metrics":["#.len();
        line.get(start..line.len() - "]}\n".len()).expect("a line")
    }

    fn vector(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// `text` with its only occurrence of `from` replaced by `to`.
    fn replace_once(text: &str, from: &str, to: &str) -> String {
        assert_eq!(text.matches(from).count(), 1, "{from:?} in {text}");
        text.replacen(from, to, 1)
    }

    fn spec_3_5_request() -> ExportMetricsServiceRequest {
        let requests = vec![
            number(
                vec![
                    kv("method", text("GET")),
                    kv("code", AnyKind::IntValue(200)),
                ],
                T10,
                AsInt(42),
            ),
            number(
                vec![
                    kv("method", text("POST")),
                    kv("code", AnyKind::IntValue(500)),
                ],
                T10,
                AsInt(3),
            ),
        ];
        let mut temperature = number(vec![], T10, AsDouble(21.5));
        temperature.start_time_unix_nano = 0;
        let latency = HistogramDataPoint {
            time_unix_nano: T10,
            ..histogram_point(vec![], &[1.0, 5.0], &[1, 3, 1], 12.5)
        };
        let rpc = summary_point(vec![], T10, 4, 2.0, &[(0.5, 0.25), (0.99, 1.5)]);
        let sizes = ExponentialHistogramDataPoint {
            time_unix_nano: T10,
            count: 1,
            sum: Some(3.0),
            positive: Some(Buckets {
                offset: 1,
                bucket_counts: vec![1],
            }),
            ..ExponentialHistogramDataPoint::default()
        };
        let metrics = vec![
            metric(
                "http_requests_total",
                "Requests",
                "1",
                sum(Cumulative, true, requests),
            ),
            metric("temperature", "", "Cel", gauge(vec![temperature])),
            metric(
                "latency",
                "Latency",
                "ms",
                histogram_with(Delta, vec![latency]),
            ),
            metric(
                "rpc_seconds",
                "",
                "",
                Data::Summary(Summary {
                    data_points: vec![rpc],
                }),
            ),
            metric("sizes", "", "", exp_histogram(Cumulative, vec![sizes])),
        ];
        let cart = vec![kv("service.name", text("cart"))];
        ExportMetricsServiceRequest {
            resource_metrics: vec![resource(cart, vec![scope("lib", "1.0", metrics)])],
        }
    }

    #[test]
    fn spec_3_5_example_is_the_spec_line_plus_its_exponential_histogram() {
        // The only deliberate difference in this example: `sizes` is kept, as the last family.
        let spec_families = families_of(SPEC_3_5_LINE);
        assert_eq!(
            SPEC_3_5_OURS,
            replace_once(
                SPEC_3_5_LINE,
                spec_families,
                &format!("{spec_families},{SPEC_3_5_SIZES}")
            )
        );
        let (line, rendered) = render(&spec_3_5_request(), true);
        assert_eq!(line, SPEC_3_5_OURS);
        assert_eq!(
            rendered,
            RenderedMetrics {
                contexts: 1,
                data_points: 6
            }
        );
    }

    #[test]
    fn metrics_07_vector_with_its_negative_int_kept() {
        let http = vec![
            number(
                vec![kv("method", text("GET")), kv("route", text("/café"))],
                T60,
                AsInt(1234),
            ),
            number(
                vec![kv("method", text("POST")), kv("route", text("/"))],
                T60,
                AsInt(5),
            ),
        ];
        let cores = vec![
            number(vec![kv("core", AnyKind::IntValue(0))], T60, AsDouble(61.25)),
            number(vec![kv("core", AnyKind::IntValue(1))], T60, AsDouble(0.1)),
        ];
        let request = vector_request(vec![
            metric(
                "http_requests",
                "Total HTTP requests",
                "1",
                sum(Cumulative, true, http),
            ),
            metric("cpu_temp", "Gauge double", "Cel", gauge(cores)),
            metric(
                "bytes_delta",
                "Delta double sum",
                "By",
                sum(Delta, true, vec![number(vec![], T60, AsDouble(2048.5))]),
            ),
            metric(
                "inflight",
                "Non-monotonic sum",
                "",
                sum(Cumulative, false, vec![number(vec![], T60, AsInt(-3))]),
            ),
        ]);
        // The one deliberate difference: v4.1.2 turned the -3 into 0.0 (§5.8).
        let expected = replace_once(
            &vector("metrics-07.expected.ndjson"),
            r#""name":"inflight","desc":"Non-monotonic sum"},"labels":[],"aggregation_type":2},"values":[{"ts":1700000060000000000,"value":0.0,"#,
            r#""name":"inflight","desc":"Non-monotonic sum"},"labels":[],"aggregation_type":2},"values":[{"ts":1700000060000000000,"value":-3.0,"#,
        );
        let (line, rendered) = render(&request, true);
        assert_eq!(line, expected);
        assert_eq!(
            rendered,
            RenderedMetrics {
                contexts: 1,
                data_points: 6
            }
        );
    }

    #[test]
    fn metrics_08_vector_byte_for_byte() {
        let routes = vec![
            histogram_point(
                vec![kv("route", text("/a"))],
                &[0.05, 0.1, 0.5, 1.0],
                &[1, 2, 4, 2, 1],
                3.75,
            ),
            histogram_point(
                vec![kv("route", text("/b"))],
                &[0.05, 0.1, 0.5, 1.0],
                &[3, 0, 0, 0, 0],
                0.2,
            ),
        ];
        let rpc = summary_point(
            vec![kv("rpc", text("get"))],
            T60,
            100,
            2.0,
            &[(0.5, 12.5), (0.9, 40.0), (0.99, 95.0)],
        );
        // Sent histogram first: the families still come out summary first.
        let request = vector_request(vec![
            metric(
                "request_duration_seconds",
                "Latency histogram",
                "s",
                histogram(routes),
            ),
            metric(
                "rpc_latency",
                "Latency summary",
                "ms",
                Data::Summary(Summary {
                    data_points: vec![rpc],
                }),
            ),
        ]);
        let (line, rendered) = render(&request, true);
        assert_eq!(line, vector("metrics-08.expected.ndjson"));
        assert_eq!(
            rendered,
            RenderedMetrics {
                contexts: 1,
                data_points: 3
            }
        );
    }

    #[test]
    fn metrics_10_vector_with_null_for_non_finite_values() {
        let values = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e-7];
        let points = (0..)
            .zip(values)
            .map(|(i, value)| number(vec![kv("i", AnyKind::IntValue(i))], T60, AsDouble(value)))
            .collect();
        let request = vector_request(vec![metric(
            "weird_values",
            "Non-finite gauge values",
            "",
            gauge(points),
        )]);
        // The deliberate difference: null where Fluent Bit prints invalid JSON (§5.13).
        let mut expected = vector("metrics-10.expected.ndjson");
        for literal in ["nan", "inf", "-inf"] {
            expected = replace_once(
                &expected,
                &format!(r#""value":{literal},"#),
                r#""value":null,"#,
            );
        }
        let (line, _) = render(&request, true);
        assert_eq!(line, expected);
    }

    #[test]
    fn exponential_histogram_is_the_metrics_exphist_family() {
        let point = ExponentialHistogramDataPoint {
            attributes: vec![kv("route", text("/cart"))],
            start_time_unix_nano: 1_699_999_990_000_000_000,
            time_unix_nano: 1_700_000_000_123_456_789,
            count: 12,
            sum: Some(2.5),
            scale: 3,
            zero_count: 1,
            positive: Some(Buckets {
                offset: -2,
                bucket_counts: vec![4, 0, 7],
            }),
            ..ExponentialHistogramDataPoint::default()
        };
        let request = one_scope(vec![metric(
            "duration_seconds",
            "Request duration.",
            "s",
            exp_histogram(Cumulative, vec![point]),
        )]);
        // That vector is cmetrics v5 (namespace, subsystem, hash); ours has "" and hash 0.
        let vector = vector("extra/metrics-exphist.expected.ndjson");
        let expected = replace_once(
            &replace_once(
                families_of(&vector),
                r#""ns":"http","ss":"server""#,
                r#""ns":"","ss":"""#,
            ),
            r#""hash":42"#,
            r#""hash":0"#,
        );
        let (line, _) = render(&request, true);
        assert_eq!(families_of(&line), expected);
    }

    #[test]
    fn exponential_histograms_come_last_without_sum_or_start() {
        let point = ExponentialHistogramDataPoint {
            time_unix_nano: T60,
            count: 3,
            scale: -1,
            zero_threshold: 0.5,
            negative: Some(Buckets {
                offset: 2,
                bucket_counts: vec![1, 2],
            }),
            ..ExponentialHistogramDataPoint::default()
        };
        let request = one_scope(vec![
            metric("e", "", "", exp_histogram(Delta, vec![point])),
            metric(
                "h",
                "",
                "",
                histogram(vec![histogram_point(vec![], &[1.0], &[1, 0], 0.5)]),
            ),
        ]);
        let (line, _) = render(&request, true);
        assert_eq!(
            families_of(&line),
            r#"{"meta":{"ver":2,"type":2,"opts":{"ns":"","ss":"","name":"h","desc":"-"},"labels":[],"buckets":[1.0]},"values":[{"ts":1700000060000000000,"histogram":{"buckets":[1,0],"sum":0.5,"count":1},"hash":0}]},{"meta":{"ver":2,"type":5,"opts":{"ns":"","ss":"","name":"e","desc":"-","unit":""},"labels":[],"aggregation_type":1},"values":[{"ts":1700000060000000000,"exp_histogram":{"scale":-1,"zero_count":0,"zero_threshold":0.5,"positive_offset":0,"positive_buckets":[],"negative_offset":2,"negative_buckets":[1,2],"count":3,"sum_set":0,"sum":0},"hash":0}]}"#
        );
    }

    #[test]
    fn a_missing_label_is_a_null_placeholder() {
        let no_value = KeyValue {
            key: "a".into(),
            value: None,
            ..KeyValue::default()
        };
        let points = vec![
            number(vec![kv("a", text("x"))], T60, AsDouble(1.0)),
            number(vec![kv("b", AnyKind::DoubleValue(0.1))], T60, AsDouble(2.0)),
            number(
                vec![kv("b", text("q")), kv("a", text("y"))],
                T60,
                AsDouble(3.0),
            ),
            // A key without a value is as good as missing.
            number(vec![no_value, kv("c", text("z"))], T60, AsDouble(4.0)),
        ];
        let (line, _) = render(&one_scope(vec![metric("g", "", "", gauge(points))]), true);
        assert_eq!(
            families_of(&line),
            r#"{"meta":{"ver":2,"type":1,"opts":{"ns":"","ss":"","name":"g","desc":"-"},"labels":["a","b","c"]},"values":[{"ts":1700000060000000000,"value":1.0,"labels":["x",null,null],"hash":0},{"ts":1700000060000000000,"value":2.0,"labels":[null,"0.10000000000000001",null],"hash":0},{"ts":1700000060000000000,"value":3.0,"labels":["y","q",null],"hash":0},{"ts":1700000060000000000,"value":4.0,"labels":[null,null,"z"],"hash":0}]}"#
        );
    }

    #[test]
    fn label_values_convert_as_cmetrics_does_except_bytes() {
        let list = AnyKind::ArrayValue(ArrayValue {
            values: vec![AnyValue {
                value: Some(text("a")),
            }],
        });
        let map = AnyKind::KvlistValue(KeyValueList {
            values: vec![kv("k", text("v"))],
        });
        let attributes = vec![
            kv("s", text("é\"")),
            kv("t", AnyKind::BoolValue(true)),
            kv("f", AnyKind::BoolValue(false)),
            kv("i", AnyKind::IntValue(-9_223_372_036_854_775_808)),
            kv("d", AnyKind::DoubleValue(1e-7)),
            kv("w", AnyKind::DoubleValue(100.0)),
            kv("raw", AnyKind::BytesValue(vec![1, 2, 0xff])),
            kv("list", list),
            kv("map", map),
            kv("s", text("last")),
        ];
        let (line, _) = render(
            &one_scope(vec![metric(
                "g",
                "",
                "",
                gauge(vec![number(attributes, T60, AsInt(1))]),
            )]),
            true,
        );
        assert!(
            line.contains(r#""labels":["s","t","f","i","d","w","raw","list","map"]},"values":[{"ts":1700000060000000000,"value":1.0,"labels":["last","1","0","-9223372036854775808","9.9999999999999995e-08","100","AQL/",null,null],"hash":0}]"#),
            "{line}"
        );
    }

    #[test]
    fn a_negative_int_stays_negative() {
        let request = one_scope(vec![
            metric(
                "c",
                "",
                "",
                sum(Cumulative, true, vec![number(vec![], T60, AsInt(-3))]),
            ),
            metric(
                "g",
                "",
                "",
                gauge(vec![number(vec![], T60, AsInt(i64::MIN))]),
            ),
        ]);
        let (line, _) = render(&request, true);
        assert!(line.contains(r#""aggregation_type":2},"values":[{"ts":1700000060000000000,"value":-3.0,"hash":0}]"#), "{line}");
        assert!(
            line.contains(r#""value":-9223372036854775808.0,"#),
            "{line}"
        );
    }

    #[test]
    fn a_histogram_without_bounds_is_one_inf_bucket() {
        let mut no_counts = histogram_point(vec![kv("k", text("b"))], &[], &[], 1.0);
        no_counts.count = 7;
        let points = vec![
            histogram_point(vec![kv("k", text("a"))], &[], &[4], 2.0),
            no_counts,
            // Another layout than the first point's: folded into the family's one bucket.
            histogram_point(vec![kv("k", text("c"))], &[1.0, 2.0], &[1, 2, 3], 3.0),
        ];
        let (line, rendered) = render(
            &one_scope(vec![metric("h", "", "", histogram(points))]),
            true,
        );
        assert_eq!(
            families_of(&line),
            r#"{"meta":{"ver":2,"type":2,"opts":{"ns":"","ss":"","name":"h","desc":"-"},"labels":["k"],"buckets":[]},"values":[{"ts":1700000060000000000,"histogram":{"buckets":[4],"sum":2.0,"count":4},"labels":["a"],"hash":0},{"ts":1700000060000000000,"histogram":{"buckets":[7],"sum":1.0,"count":7},"labels":["b"],"hash":0},{"ts":1700000060000000000,"histogram":{"buckets":[6],"sum":3.0,"count":6},"labels":["c"],"hash":0}]}"#
        );
        assert_eq!(rendered.data_points, 3);
    }

    #[test]
    fn later_layouts_are_fitted_to_the_first_point() {
        let mut unset_sum = histogram_point(vec![], &[1.0, 2.0, 3.0], &[5], 0.0);
        unset_sum.sum = None;
        let summaries = vec![
            summary_point(vec![], T60, 2, 1.25, &[(0.5, 2.0), (0.9, 1.5)]),
            summary_point(vec![kv("k", text("v"))], 0, 1, 0.0, &[]),
        ];
        let request = one_scope(vec![
            metric(
                "h",
                "",
                "",
                histogram(vec![
                    histogram_point(vec![], &[1.0], &[1, 1], 1.0),
                    unset_sum,
                ]),
            ),
            metric(
                "q",
                "",
                "",
                Data::Summary(Summary {
                    data_points: summaries,
                }),
            ),
        ]);
        let (line, _) = render(&request, true);
        assert_eq!(
            families_of(&line),
            r#"{"meta":{"ver":2,"type":3,"opts":{"ns":"","ss":"","name":"q","desc":"-"},"labels":["k"],"quantiles":[0.5,0.9]},"values":[{"ts":1700000060000000000,"summary":{"quantiles_set":1,"quantiles":[4611686018427387904,4609434218613702656],"count":2,"sum":4608308318706860032},"hash":0},{"ts":0,"summary":{"quantiles_set":1,"quantiles":[0,0],"count":1,"sum":0},"labels":["v"],"hash":0}]},{"meta":{"ver":2,"type":2,"opts":{"ns":"","ss":"","name":"h","desc":"-"},"labels":[],"buckets":[1.0]},"values":[{"ts":1700000060000000000,"histogram":{"buckets":[1,1],"sum":1.0,"count":2},"hash":0},{"ts":1700000060000000000,"histogram":{"buckets":[5,0],"sum":0.0,"count":5},"hash":0}]}"#
        );
    }

    #[test]
    fn the_first_point_without_attributes_is_printed_first() {
        let points = vec![
            number(vec![kv("k", text("v"))], T60, AsDouble(1.0)),
            number(vec![], T60, AsDouble(2.0)),
            number(vec![], T60 + 1, AsDouble(3.0)),
        ];
        let (line, _) = render(&one_scope(vec![metric("g", "", "", gauge(points))]), true);
        assert!(
            line.contains(r#""labels":["k"]},"values":[{"ts":1700000060000000000,"value":2.0,"hash":0},{"ts":1700000060000000000,"value":1.0,"labels":["v"],"hash":0},{"ts":1700000060000000001,"value":3.0,"hash":0}]}"#),
            "{line}"
        );
    }

    #[test]
    fn a_point_without_a_value_has_a_null_value() {
        let mut point = number(vec![], T60, AsInt(0));
        point.value = None;
        let (line, rendered) = render(
            &one_scope(vec![metric("g", "", "", gauge(vec![point]))]),
            true,
        );
        assert!(
            line.contains(r#""values":[{"ts":1700000060000000000,"value":null,"hash":0}]"#),
            "{line}"
        );
        assert_eq!(rendered.data_points, 1);
    }

    #[test]
    fn escape_unicode_off_copies_utf8() {
        let point = number(vec![kv("route", text("/café"))], T60, AsDouble(1.0));
        let request = one_scope(vec![metric("ü", "déscription", "", gauge(vec![point]))]);
        let (raw, _) = render(&request, false);
        assert!(
            raw.contains(r#""name":"ü","desc":"déscription"},"labels":["route"]"#),
            "{raw}"
        );
        assert!(raw.contains(r#""labels":["/café"]"#), "{raw}");
        let (escaped, _) = render(&request, true);
        assert!(
            escaped.contains(r#""name":"\u00fc","desc":"d\u00e9scription""#),
            "{escaped}"
        );
        assert!(escaped.contains(r#""labels":["/caf\u00e9"]"#), "{escaped}");
    }

    #[test]
    fn scopes_without_data_points_give_no_line() {
        let empty = vec![
            Metric {
                name: "no_data".into(),
                ..Metric::default()
            },
            metric("no_points", "", "", gauge(vec![])),
            metric("no_exp_points", "", "", exp_histogram(Cumulative, vec![])),
        ];
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![resource(
                vec![],
                vec![scope("a", "", empty), scope("b", "", vec![])],
            )],
        };
        let mut out = b"before\n".to_vec();
        assert_eq!(
            render_metrics(&request, true, &mut out),
            RenderedMetrics::default()
        );
        assert_eq!(out, b"before\n");
        assert_eq!(
            render(&ExportMetricsServiceRequest::default(), true).1,
            RenderedMetrics::default()
        );
    }

    #[test]
    fn every_scope_metrics_gives_its_own_line() {
        let point = |v| number(vec![], T60, AsDouble(v));
        let mut bare = scope("", "", vec![metric("m3", "", "", gauge(vec![point(3.0)]))]);
        bare.scope = None;
        bare.schema_url = "https://s".into();
        let mut scope_a = scope(
            "a",
            "1",
            vec![metric("m1", "", "", gauge(vec![point(1.0)]))],
        );
        scope_a.scope.as_mut().expect("scope").attributes = vec![kv("n", AnyKind::IntValue(7))];
        let first = ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![],
                dropped_attributes_count: 2,
                ..Resource::default()
            }),
            ..resource(
                vec![],
                vec![
                    scope_a,
                    scope("b", "", vec![]),
                    scope(
                        "c",
                        "",
                        vec![metric("m2", "", "", gauge(vec![point(2.0), point(2.5)]))],
                    ),
                ],
            )
        };
        let second = ResourceMetrics {
            resource: None,
            scope_metrics: vec![bare],
            schema_url: "https://r".into(),
        };
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![first, second],
        };
        let (text, rendered) = render(&request, true);
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(
            rendered,
            RenderedMetrics {
                contexts: 3,
                data_points: 4
            }
        );
        let head = r#"{"meta":{"cmetrics":{"producer":"opentelemetry"},"external":"#;
        assert!(lines[0].starts_with(&format!(r#"{head}{{"scope":{{"metadata":{{"name":"a","version":"1","dropped_attributes_count":0}},"attributes":{{"n":7}}}},"scope_metrics":{{"metadata":{{"schema_url":""}}}},"resource":{{"metadata":{{"dropped_attributes_count":2}},"attributes":{{}}}},"resource_metrics":{{"metadata":{{"schema_url":""}}}}}},"processing":{{"static_labels":[]}}}},"metrics":[{{"meta":{{"ver":2,"type":1,"opts":{{"ns":"","ss":"","name":"m1""#)), "{}", lines[0]);
        assert!(
            lines[1].contains(r#""name":"c","version":"""#) && lines[1].contains(r#""name":"m2""#),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains(r#""values":[{"ts":1700000060000000000,"value":2.0,"hash":0},{"ts":1700000060000000000,"value":2.5,"hash":0}]"#), "{}", lines[1]);
        assert_eq!(
            lines[2],
            r#"{"meta":{"cmetrics":{"producer":"opentelemetry"},"external":{"scope":{"metadata":{},"attributes":{}},"scope_metrics":{"metadata":{"schema_url":"https://s"}},"resource_metrics":{"metadata":{"schema_url":"https://r"}}},"processing":{"static_labels":[]}},"metrics":[{"meta":{"ver":2,"type":1,"opts":{"ns":"","ss":"","name":"m3","desc":"-"},"labels":[]},"values":[{"ts":1700000060000000000,"value":3.0,"hash":0}]}]}"#
                .to_owned()
                + "\n"
        );
    }

    #[test]
    fn doubles_as_c_percent_17g() {
        let cases = [
            (0.1, "0.10000000000000001"),
            (1e-7, "9.9999999999999995e-08"),
            (2.5e-5, "2.5000000000000001e-05"),
            (1e-4, "0.0001"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
            (12_345_678_901_234_568.0, "12345678901234568"),
            (1.0 / 3.0, "0.33333333333333331"),
            (-0.0, "-0"),
            (0.0, "0"),
            (0.5, "0.5"),
            (-100.0, "-100"),
            (1e300, "1.0000000000000001e+300"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (value, expected) in cases {
            let mut out = Vec::new();
            write_g17(&mut out, value);
            assert_eq!(
                String::from_utf8(out).expect("ASCII"),
                expected,
                "{value:e}"
            );
        }
    }
}
