//! Tokens over time by model: stacked bars drawn as SVG by the app (no chart library to ship).

use leptos::prelude::*;

use crate::format::{compact, grouped, local_time};
use crate::i18n::use_texts;
use crate::time_range::iso_from_ms;

/// Models beyond this many (by tokens) share one "other" colour, so the legend stays readable.
const NAMED_SERIES: usize = 6;
const PALETTE: [&str; NAMED_SERIES + 1] = ["#4f6bed", "#e8833a", "#2e9e6a", "#c2417a", "#8a63d2", "#c9a227", "#8d96a3"];
const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 52.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;

/// One point of admin-api's usage series.
#[derive(Clone, Debug, PartialEq)]
pub struct UsagePoint {
    pub bucket_start_ms: f64,
    pub model: String,
    pub tokens: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub series: usize,
    pub bucket_start_ms: f64,
    pub tokens: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChartLayout {
    pub bars: Vec<Bar>,
    /// Series names in colour order; the last is "other" when models were folded into it.
    pub series: Vec<String>,
    pub y_max: i64,
    /// Bucket starts to label on the x axis, with their x positions.
    pub ticks: Vec<(f64, f64)>,
}

/// Places the bars: one slot per bucket from `from_ms` to `to_ms`, empty buckets left empty,
/// models stacked in order of their total tokens. `other` names the folded series.
pub fn layout(points: &[UsagePoint], from_ms: f64, to_ms: f64, bucket_ms: f64, other: &str) -> ChartLayout {
    let mut totals: Vec<(String, i64)> = Vec::new();
    for point in points {
        match totals.iter_mut().find(|(model, _)| *model == point.model) {
            Some((_, total)) => *total += point.tokens,
            None => totals.push((point.model.clone(), point.tokens)),
        }
    }
    totals.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let folded = totals.len() > NAMED_SERIES;
    let named = if folded { NAMED_SERIES - 1 } else { totals.len() };
    let mut series: Vec<String> = totals.iter().take(named).map(|(m, _)| m.clone()).collect();
    if folded {
        series.push(other.to_owned());
    }
    let series_of = |model: &str| series.iter().position(|s| s == model).unwrap_or(series.len() - 1);

    let first = (from_ms / bucket_ms).floor() * bucket_ms;
    let slots = (((to_ms - first) / bucket_ms).ceil() as usize).clamp(1, 5000);
    let mut stacks = vec![vec![0i64; series.len()]; slots];
    for point in points {
        let slot = ((point.bucket_start_ms - first) / bucket_ms).floor();
        if slot >= 0.0 && (slot as usize) < slots {
            stacks[slot as usize][series_of(&point.model)] += point.tokens;
        }
    }
    let y_max = stacks.iter().map(|s| s.iter().sum::<i64>()).max().unwrap_or(0);

    let plot_width = WIDTH - LEFT;
    let plot_height = HEIGHT - BOTTOM - TOP;
    let slot_width = plot_width / slots as f64;
    let bar_width = (slot_width * 0.8).max(0.5);
    let mut bars = Vec::new();
    if y_max > 0 {
        for (slot, stack) in stacks.iter().enumerate() {
            let mut base = HEIGHT - BOTTOM;
            for (index, tokens) in stack.iter().enumerate().filter(|(_, t)| **t > 0) {
                let height = *tokens as f64 / y_max as f64 * plot_height;
                base -= height;
                bars.push(Bar {
                    x: LEFT + slot as f64 * slot_width + (slot_width - bar_width) / 2.0,
                    y: base,
                    width: bar_width,
                    height,
                    series: index,
                    bucket_start_ms: first + slot as f64 * bucket_ms,
                    tokens: *tokens,
                });
            }
        }
    }
    let tick_slots = if slots == 1 { vec![0] } else { vec![0, slots / 2, slots - 1] };
    let ticks = tick_slots
        .into_iter()
        .map(|slot| (LEFT + (slot as f64 + 0.5) * slot_width, first + slot as f64 * bucket_ms))
        .collect();
    ChartLayout { bars, series, y_max, ticks }
}

#[component]
pub fn UsageChart(points: Vec<UsagePoint>, from_ms: f64, to_ms: f64, hourly: bool) -> impl IntoView {
    let texts = use_texts();
    let bucket_ms = if hourly { 3_600_000.0 } else { 86_400_000.0 };
    let chart = layout(&points, from_ms, to_ms, bucket_ms, texts().other_models);
    if chart.y_max == 0 {
        return view! { <p class="empty">{move || texts().no_usage}</p> }.into_any();
    }
    let label = move |ms: f64| {
        let text = local_time(&iso_from_ms(ms));
        if hourly {
            text[5..16].to_owned()
        } else {
            text[..10].to_owned()
        }
    };
    let series = chart.series.clone();
    let bars = chart
        .bars
        .iter()
        .map(|bar| {
            let title = format!("{} · {}: {}", label(bar.bucket_start_ms), series[bar.series], grouped(bar.tokens));
            view! {
                <rect x=bar.x y=bar.y width=bar.width height=bar.height fill=PALETTE[bar.series]>
                    <title>{title}</title>
                </rect>
            }
        })
        .collect_view();
    let ticks = chart
        .ticks
        .iter()
        .map(|(x, ms)| {
            view! { <text x=*x y=HEIGHT - 6.0 text-anchor="middle" class="tick">{label(*ms)}</text> }
        })
        .collect_view();
    let legend = chart
        .series
        .iter()
        .enumerate()
        .map(|(index, name)| {
            view! {
                <li>
                    <span class="swatch" style:background=PALETTE[index]></span>
                    {name.clone()}
                </li>
            }
        })
        .collect_view();
    let summary = format!("{}: {}", texts().tokens_over_time, chart.series.join(", "));
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=summary>
                <line x1=LEFT y1=HEIGHT - BOTTOM x2=WIDTH y2=HEIGHT - BOTTOM class="axis" />
                <line x1=LEFT y1=TOP x2=WIDTH y2=TOP class="grid" />
                <text x=LEFT - 6.0 y=TOP + 10.0 text-anchor="end" class="tick">{compact(chart.y_max as f64)}</text>
                <text x=LEFT - 6.0 y=HEIGHT - BOTTOM text-anchor="end" class="tick">"0"</text>
                {bars}
                {ticks}
            </svg>
            <ul class="legend">{legend}</ul>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: f64 = 3_600_000.0;

    fn point(hour: f64, model: &str, tokens: i64) -> UsagePoint {
        UsagePoint { bucket_start_ms: hour * HOUR, model: model.into(), tokens }
    }

    #[test]
    fn stacks_models_per_bucket_and_leaves_empty_buckets_empty() {
        let points = [point(10.0, "a", 300), point(10.0, "b", 100), point(12.0, "b", 200)];
        let chart = layout(&points, 10.0 * HOUR, 14.0 * HOUR, HOUR, "other");
        assert_eq!(chart.series, ["a", "b"]);
        assert_eq!(chart.y_max, 400);
        assert_eq!(chart.bars.len(), 3);
        let full = HEIGHT - BOTTOM - TOP;
        // The tallest stack fills the plot; slot 12 is two slots to the right of slot 10.
        let (a, b, later) = (&chart.bars[0], &chart.bars[1], &chart.bars[2]);
        assert!((a.height + b.height - full).abs() < 1e-9);
        assert!((b.y - TOP).abs() < 1e-9, "the stack reaches the top");
        assert_eq!(later.series, 1);
        let slot_width = (WIDTH - LEFT) / 4.0;
        assert!((later.x - a.x - 2.0 * slot_width).abs() < 1e-9);
        assert!((later.height - full / 2.0).abs() < 1e-9);
    }

    #[test]
    fn folds_small_models_into_other() {
        let points: Vec<UsagePoint> = (0..9).map(|i| point(0.0, &format!("m{i}"), 100 + i)).collect();
        let chart = layout(&points, 0.0, HOUR, HOUR, "other");
        assert_eq!(chart.series.len(), NAMED_SERIES);
        assert_eq!(chart.series[0], "m8");
        assert_eq!(chart.series.last().unwrap(), "other");
        let other: i64 = chart.bars.iter().filter(|b| b.series == NAMED_SERIES - 1).map(|b| b.tokens).sum();
        assert_eq!(other, 100 + 101 + 102 + 103);
    }

    #[test]
    fn no_tokens_means_no_bars() {
        let chart = layout(&[point(1.0, "a", 0)], 0.0, 4.0 * HOUR, HOUR, "other");
        assert_eq!(chart.y_max, 0);
        assert!(chart.bars.is_empty());
    }
}
