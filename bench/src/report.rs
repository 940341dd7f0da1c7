//! Collects each figure per contender over the rounds and prints medians with min–max, the ratios
//! to the reference proxy and to LiteLLM, and whether each goal is met.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::contenders::Kind;

/// A figure the run measures, in the order the report shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Figure {
    RssIdleMb,
    AddedP50Us,
    AddedP99Us,
    Throughput32,
    CpuPerRequest32Us,
    DatabaseCpuPerRequest32Us,
    Throughput256,
    CpuPerRequest256Us,
    Rss256Mb,
    AddedFirstByteUs,
    AddedPacedStreamUs,
    StreamEvents32,
    CpuPerEvent32Us,
    RssOpenStreamsMb,
}

impl Figure {
    pub fn describe(self) -> &'static str {
        match self {
            Figure::RssIdleMb => "RSS idle (MB)",
            Figure::AddedP50Us => "added latency p50, c=1 (µs)",
            Figure::AddedP99Us => "added latency p99, c=1 (µs)",
            Figure::Throughput32 => "throughput c=32 (req/s)",
            Figure::CpuPerRequest32Us => "proxy CPU per request c=32 (µs)",
            Figure::DatabaseCpuPerRequest32Us => "MariaDB CPU per request c=32 (µs)",
            Figure::Throughput256 => "throughput c=256 (req/s)",
            Figure::CpuPerRequest256Us => "proxy CPU per request c=256 (µs)",
            Figure::Rss256Mb => "RSS at c=256 (MB)",
            Figure::AddedFirstByteUs => "stream: added first byte, c=1 (µs)",
            Figure::AddedPacedStreamUs => "stream: added over a paced stream, c=1 (µs)",
            Figure::StreamEvents32 => "stream: events/s c=32",
            Figure::CpuPerEvent32Us => "stream: proxy CPU per event c=32 (µs)",
            Figure::RssOpenStreamsMb => "RSS with the open streams (MB)",
        }
    }

    /// TokenSlipper's goal for this figure, as (bound, is it a ratio to the reference, higher is better).
    fn goal(self) -> Option<(f64, Goal)> {
        Some(match self {
            Figure::RssIdleMb => (15.0, Goal::AtMost),
            Figure::AddedP50Us => (1.5, Goal::RatioAtMost),
            Figure::AddedP99Us => (2.0, Goal::RatioAtMost),
            Figure::Throughput32 | Figure::Throughput256 => (0.7, Goal::RatioAtLeast),
            Figure::CpuPerRequest32Us | Figure::CpuPerRequest256Us => (1.5, Goal::RatioAtMost),
            Figure::Rss256Mb => (64.0, Goal::AtMost),
            Figure::AddedFirstByteUs => (1.5, Goal::RatioAtMost),
            Figure::AddedPacedStreamUs => (500.0, Goal::AtMost),
            Figure::StreamEvents32 => (1.0, Goal::RatioAtLeast),
            Figure::RssOpenStreamsMb => (200.0, Goal::AtMost),
            Figure::DatabaseCpuPerRequest32Us | Figure::CpuPerEvent32Us => return None,
        })
    }

    fn higher_is_better(self) -> bool {
        matches!(self, Figure::Throughput32 | Figure::Throughput256 | Figure::StreamEvents32)
    }
}

#[derive(Clone, Copy)]
enum Goal {
    AtMost,
    RatioAtMost,
    RatioAtLeast,
}

#[derive(Default)]
pub struct Report {
    figures: BTreeMap<Figure, BTreeMap<Kind, Vec<f64>>>,
    pub notes: Vec<String>,
}

pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Report {
    pub fn add(&mut self, figure: Figure, kind: Kind, value: f64) {
        self.figures.entry(figure).or_default().entry(kind).or_default().push(value);
    }

    pub fn spread(&self, figure: Figure, kind: Kind) -> Option<Spread> {
        let mut values = self.figures.get(&figure)?.get(&kind)?.clone();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 };
        Some(Spread { median, min: values[0], max: values[n - 1] })
    }

    /// A Markdown table: one row per figure, one column per contender, then the ratios and the goal.
    pub fn table(&self, kinds: &[Kind]) -> String {
        let mut out = String::new();
        let _ = write!(out, "| figure |");
        for kind in kinds {
            let _ = write!(out, " {} |", kind.label());
        }
        let _ = writeln!(out, " TokenSlipper ÷ reference | TokenSlipper vs LiteLLM | goal |");
        let _ = writeln!(out, "|---|{}---|---|---|", "---|".repeat(kinds.len()));
        for &figure in self.figures.keys() {
            let _ = write!(out, "| {} |", figure.describe());
            for &kind in kinds {
                match self.spread(figure, kind) {
                    Some(s) if s.min == s.max => {
                        let _ = write!(out, " {} |", number(s.median));
                    }
                    Some(s) => {
                        let _ = write!(out, " {} ({}–{}) |", number(s.median), number(s.min), number(s.max));
                    }
                    None => {
                        let _ = write!(out, " – |");
                    }
                }
            }
            let ours = self.spread(figure, Kind::Logged).map(|s| s.median);
            let reference = self.spread(figure, Kind::Reference).map(|s| s.median);
            let litellm = self.spread(figure, Kind::LiteLlm).map(|s| s.median);
            let ratio = ours.zip(reference).filter(|(_, r)| *r > 0.0).map(|(o, r)| o / r);
            match ratio {
                Some(ratio) => {
                    let _ = write!(out, " {ratio:.2}× |");
                }
                None => {
                    let _ = write!(out, " – |");
                }
            }
            match ours.zip(litellm).filter(|(o, l)| *o > 0.0 && *l > 0.0) {
                Some((o, l)) if figure.higher_is_better() => {
                    let _ = write!(out, " {:.0}× more |", o / l);
                }
                Some((o, l)) => {
                    let _ = write!(out, " 1/{:.0} |", l / o);
                }
                None => {
                    let _ = write!(out, " – |");
                }
            }
            let verdict = match (figure.goal(), ours) {
                (Some((bound, Goal::AtMost)), Some(value)) => Some((value <= bound, format!("≤ {bound}"))),
                (Some((bound, Goal::RatioAtMost)), _) => ratio.map(|r| (r <= bound, format!("≤ {bound}× ref"))),
                (Some((bound, Goal::RatioAtLeast)), _) => ratio.map(|r| (r >= bound, format!("≥ {bound}× ref"))),
                _ => None,
            };
            let _ = match verdict {
                Some((true, goal)) => writeln!(out, " {goal}: met |"),
                Some((false, goal)) => writeln!(out, " {goal}: **missed** |"),
                None => writeln!(out, " |"),
            };
        }
        out
    }

    /// The goals against LiteLLM: ≥ 200× its throughput at c=32, ≤ 1/50 of its added p50.
    pub fn litellm_verdicts(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let pair = |figure| {
            self.spread(figure, Kind::Logged)
                .map(|s| s.median)
                .zip(self.spread(figure, Kind::LiteLlm).map(|s| s.median))
        };
        if let Some((ours, theirs)) = pair(Figure::Throughput32).filter(|(_, t)| *t > 0.0) {
            let ratio = ours / theirs;
            let met = if ratio >= 200.0 { "met" } else { "**missed**" };
            lines.push(format!("throughput c=32: {ratio:.0}× LiteLLM's (goal ≥ 200×): {met}"));
        }
        if let Some((ours, theirs)) = pair(Figure::AddedP50Us).filter(|(o, _)| *o > 0.0) {
            let ratio = theirs / ours;
            let met = if ratio >= 50.0 { "met" } else { "**missed**" };
            lines.push(format!("added latency p50: 1/{ratio:.0} of LiteLLM's (goal ≤ 1/50): {met}"));
        }
        lines
    }
}

fn number(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}
