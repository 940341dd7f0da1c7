//! Prometheus metrics, rendered at `GET /metrics` in the text exposition format: requests and
//! latency as the request path ends them; tokens and cost as the log writer reads each record
//! (usage is parsed there, off the request path); the log pipeline's queue, spool and drops.
//! Model names come from clients, so each family keeps at most [`MAX_SERIES`] label sets and
//! folds the rest into `model="other"`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use pricing::{cost_of, PriceBook, TokenCounts};

use crate::record::RequestRecord;
use crate::stored_request::{StoredRequest, USAGE_ESTIMATED, USAGE_FROM_UPSTREAM};

pub const MAX_SERIES: usize = 500;
/// Seconds; the upper edges of the latency histograms.
const BUCKETS: [f64; 15] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|edge| seconds <= *edge) {
            self.counts[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Default)]
struct Families {
    /// (model, endpoint, outcome) → requests.
    requests: BTreeMap<(String, String, &'static str), u64>,
    /// stream → latency.
    latency: BTreeMap<bool, Histogram>,
    /// stream → time to first byte.
    first_byte: BTreeMap<bool, Histogram>,
    /// (model, kind, source) → tokens.
    tokens: BTreeMap<(String, &'static str, &'static str), u64>,
    /// (model, source) → picodollars.
    cost: BTreeMap<(String, &'static str), i128>,
    /// model → calls with usage but no price.
    unpriced: BTreeMap<String, u64>,
}

/// One model's and source's usage in a batch: tokens by kind (prompt, completion, cached,
/// cache_write), the cost of its priced rows, how many had no price.
#[derive(Default)]
struct UsageSums<'a> {
    model: &'a str,
    source: &'static str,
    tokens: [u64; 4],
    cost: Option<i128>,
    unpriced: u64,
}

/// Keeps label sets bounded: a new model past the cap is counted as `other`.
fn model_label<V>(map: &BTreeMap<V, impl Sized>, model: &str, seen: impl Fn(&V) -> bool) -> String {
    if map.len() < MAX_SERIES || map.keys().any(seen) {
        model.to_owned()
    } else {
        "other".to_owned()
    }
}

#[derive(Default)]
pub struct Metrics {
    families: Mutex<Families>,
}

impl Metrics {
    /// A request as the request path hands it over.
    pub fn observe_request(&self, record: &RequestRecord) {
        let model = record.client_model.as_deref().unwrap_or_default();
        let mut f = self.families.lock().unwrap();
        let model = model_label(&f.requests, model, |(m, _, _)| m == model);
        *f.requests.entry((model, record.endpoint.clone(), record.outcome.as_str())).or_default() += 1;
        f.latency.entry(record.is_stream).or_default().observe(record.latency.as_secs_f64());
        if let Some(first) = record.time_to_first_byte {
            f.first_byte.entry(record.is_stream).or_default().observe(first.as_secs_f64());
        }
    }

    /// A batch's usage and its cost at `prices`, as the log writer stores it. Summed per model and
    /// source first: the shared maps are then updated, and their keys allocated, once per model of
    /// the batch instead of five times per row (per row it was ~5 % of the store thread at c=32).
    pub fn observe_usage(&self, rows: &[StoredRequest], prices: &PriceBook) {
        let mut sums: Vec<UsageSums<'_>> = Vec::new();
        for row in rows {
            let source = match row.usage_source {
                USAGE_FROM_UPSTREAM => "measured",
                USAGE_ESTIMATED => "estimated",
                _ => continue,
            };
            let model = row.upstream_model.as_deref().filter(|m| !m.is_empty()).or(row.client_model.as_deref());
            let model = model.unwrap_or_default();
            let tokens = TokenCounts {
                prompt: row.prompt_tokens.unwrap_or(0),
                completion: row.completion_tokens.unwrap_or(0),
                cache_read: row.cached_tokens.unwrap_or(0),
                cache_write: row.cache_write_tokens.unwrap_or(0),
            };
            let at = match sums.iter().position(|s| s.model == model && s.source == source) {
                Some(at) => at,
                None => {
                    sums.push(UsageSums { model, source, ..UsageSums::default() });
                    sums.len() - 1
                }
            };
            let sum = &mut sums[at];
            for (total, count) in
                sum.tokens.iter_mut().zip([tokens.prompt, tokens.completion, tokens.cache_read, tokens.cache_write])
            {
                *total += count.max(0) as u64;
            }
            match prices.price_at(model, row.started_at.naive_utc()) {
                Some(price) => sum.cost = Some(sum.cost.unwrap_or(0) + cost_of(&tokens, price).total()),
                None => sum.unpriced += 1,
            }
        }
        if sums.is_empty() {
            return;
        }
        let mut f = self.families.lock().unwrap();
        for sum in sums {
            let label = model_label(&f.tokens, sum.model, |(m, _, _)| m == sum.model);
            for (kind, count) in ["prompt", "completion", "cached", "cache_write"].into_iter().zip(sum.tokens) {
                *f.tokens.entry((label.clone(), kind, sum.source)).or_default() += count;
            }
            if let Some(cost) = sum.cost {
                *f.cost.entry((label.clone(), sum.source)).or_default() += cost;
            }
            if sum.unpriced > 0 {
                *f.unpriced.entry(label).or_default() += sum.unpriced;
            }
        }
    }

    /// The text exposition, with the log pipeline's gauges given by the caller.
    pub fn render(&self, pipeline: &[(&str, &str, &str, u64)]) -> String {
        let f = self.families.lock().unwrap();
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            name.to_owned()
        };
        let name =
            family("tokenslipper_requests_total", "counter", "Requests served, by client model, endpoint and outcome.");
        let mut body = String::new();
        for ((model, endpoint, outcome), n) in &f.requests {
            let _ = writeln!(
                body,
                "{name}{{model=\"{}\",endpoint=\"{}\",outcome=\"{outcome}\"}} {n}",
                esc(model),
                esc(endpoint)
            );
        }
        out.push_str(&body);
        for (name, help, histograms) in [
            ("tokenslipper_request_duration_seconds", "Time from request to the end of the answer.", &f.latency),
            (
                "tokenslipper_time_to_first_byte_seconds",
                "Time from request to the upstream's first body byte.",
                &f.first_byte,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            for (stream, h) in histograms {
                let mut cumulative = 0;
                for (edge, count) in BUCKETS.iter().zip(h.counts) {
                    cumulative += count;
                    let _ = writeln!(out, "{name}_bucket{{stream=\"{stream}\",le=\"{edge}\"}} {cumulative}");
                }
                let _ = writeln!(out, "{name}_bucket{{stream=\"{stream}\",le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "{name}_sum{{stream=\"{stream}\"}} {}", h.sum);
                let _ = writeln!(out, "{name}_count{{stream=\"{stream}\"}} {}", h.count);
            }
        }
        let _ = writeln!(
            out,
            "# HELP tokenslipper_tokens_total Tokens by priced model, kind (prompt includes cached and cache_write) and source.\n# TYPE tokenslipper_tokens_total counter"
        );
        for ((model, kind, source), n) in &f.tokens {
            let _ = writeln!(
                out,
                "tokenslipper_tokens_total{{model=\"{}\",kind=\"{kind}\",source=\"{source}\"}} {n}",
                esc(model)
            );
        }
        let _ = writeln!(
            out,
            "# HELP tokenslipper_cost_usd_total Cost at the stored prices when the record was written, by model and source (measured or estimated).\n# TYPE tokenslipper_cost_usd_total counter"
        );
        for ((model, source), pico) in &f.cost {
            let _ = writeln!(
                out,
                "tokenslipper_cost_usd_total{{model=\"{}\",source=\"{source}\"}} {}",
                esc(model),
                pricing::usd_from_pico(*pico)
            );
        }
        let _ = writeln!(
            out,
            "# HELP tokenslipper_unpriced_requests_total Calls with usage whose model has no price.\n# TYPE tokenslipper_unpriced_requests_total counter"
        );
        for (model, n) in &f.unpriced {
            let _ = writeln!(out, "tokenslipper_unpriced_requests_total{{model=\"{}\"}} {n}", esc(model));
        }
        for (name, kind, help, value) in pipeline {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        out
    }
}

/// Label values escape backslash, quote and newline.
fn esc(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        let metrics = Metrics::default();
        for ms in [3, 40, 40, 2_000] {
            let mut record = RequestRecord::new("POST", "/v1/chat/completions");
            record.client_model = Some("we\"ird".into());
            record.latency = Duration::from_millis(ms);
            metrics.observe_request(&record);
        }
        let text = metrics.render(&[("tokenslipper_log_spooled_records", "gauge", "Spooled.", 7)]);
        assert!(
            text.contains(
                "tokenslipper_requests_total{model=\"we\\\"ird\",endpoint=\"/v1/chat/completions\",outcome=\"ok\"} 4"
            ),
            "{text}"
        );
        assert!(text.contains("tokenslipper_request_duration_seconds_bucket{stream=\"false\",le=\"0.005\"} 1"));
        assert!(text.contains("tokenslipper_request_duration_seconds_bucket{stream=\"false\",le=\"0.05\"} 3"));
        assert!(text.contains("tokenslipper_request_duration_seconds_bucket{stream=\"false\",le=\"+Inf\"} 4"));
        assert!(text.contains("tokenslipper_log_spooled_records 7"));
    }

    #[test]
    fn series_past_the_cap_fold_into_other() {
        let metrics = Metrics::default();
        for i in 0..MAX_SERIES + 10 {
            let mut record = RequestRecord::new("POST", "/v1/chat/completions");
            record.client_model = Some(format!("model-{i}"));
            metrics.observe_request(&record);
        }
        let text = metrics.render(&[]);
        assert_eq!(text.lines().filter(|l| l.starts_with("tokenslipper_requests_total{")).count(), MAX_SERIES + 1);
        assert!(text.contains("model=\"other\",endpoint=\"/v1/chat/completions\",outcome=\"ok\"} 10"));
    }

    /// A stored row of a call to `model`, answered with these token counts (estimated when `None`).
    fn usage_row(model: &str, usage: Option<(u32, u32)>) -> StoredRequest {
        let mut record = RequestRecord::new("POST", "/v1/chat/completions");
        record.http_status = 200;
        record.client_model = Some(model.into());
        record.request_body = format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"Hi"}}]}}"#).into();
        let usage = usage.map_or(String::new(), |(prompt, completion)| {
            format!(r#","usage":{{"prompt_tokens":{prompt},"completion_tokens":{completion}}}"#)
        });
        record.response = crate::record::ResponseCapture::Body(
            format!(r#"{{"choices":[{{"index":0,"message":{{"role":"assistant","content":"Hello"}}}}]{usage}}}"#)
                .into(),
        );
        StoredRequest::from_record(record)
    }

    #[test]
    fn a_batchs_usage_counts_as_its_rows_one_by_one_would() {
        let day = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        let prices = PriceBook::new([pricing::Price {
            model: "priced".into(),
            effective_from: day,
            input: 3_000_000,
            output: 15_000_000,
            cache_read: None,
            cache_write: None,
        }]);
        let batch = [
            usage_row("priced", Some((10, 5))),
            usage_row("unpriced", Some((3, 1))),
            usage_row("priced", Some((20, 7))),
            usage_row("priced", None),
            usage_row("unpriced", Some((4, 2))),
        ];
        assert_eq!(batch[3].usage_source, USAGE_ESTIMATED);

        let (together, one_by_one) = (Metrics::default(), Metrics::default());
        together.observe_usage(&batch, &prices);
        for row in &batch {
            one_by_one.observe_usage(std::slice::from_ref(row), &prices);
        }

        let text = together.render(&[]);
        assert_eq!(text, one_by_one.render(&[]));
        assert!(text.contains(r#"tokenslipper_tokens_total{model="priced",kind="prompt",source="measured"} 30"#));
        assert!(text.contains(r#"tokenslipper_tokens_total{model="unpriced",kind="completion",source="measured"} 3"#));
        assert!(text.contains(r#"tokenslipper_cost_usd_total{model="priced",source="measured"} 0.00027"#), "{text}");
        assert!(text.contains(r#"tokenslipper_unpriced_requests_total{model="unpriced"} 2"#));
        assert!(text.contains(r#"tokenslipper_cost_usd_total{model="priced",source="estimated"}"#));
    }
}
