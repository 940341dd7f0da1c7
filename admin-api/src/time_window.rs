//! A time range split into what the per-hour rollups can answer (whole hours) and what must be
//! read from the request rows (the partial hours at either end), so that aggregates are exact for
//! any range and still read few rows.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// `[from, to)`; `from: None` means from the first record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: Option<DateTime<Utc>>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Split {
    /// Whole hours `[from, to)` to read from the rollups (`from: None` is unbounded).
    pub whole_hours: Option<(Option<DateTime<Utc>>, DateTime<Utc>)>,
    /// Ranges `[from, to)` to read from the request rows.
    pub partial: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

pub fn floor_hour(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

fn ceil_hour(at: DateTime<Utc>) -> DateTime<Utc> {
    let floor = floor_hour(at);
    if floor == at {
        at
    } else {
        floor + TimeDelta::hours(1)
    }
}

impl Window {
    pub fn split(&self) -> Split {
        let to_hour = floor_hour(self.to);
        let mut split = Split::default();
        match self.from {
            Some(from) if from >= self.to => {}
            Some(from) if ceil_hour(from) >= to_hour => split.partial.push((from, self.to)),
            Some(from) => {
                let from_hour = ceil_hour(from);
                if from < from_hour {
                    split.partial.push((from, from_hour));
                }
                split.whole_hours = Some((Some(from_hour), to_hour));
                if to_hour < self.to {
                    split.partial.push((to_hour, self.to));
                }
            }
            None => {
                split.whole_hours = Some((None, to_hour));
                if to_hour < self.to {
                    split.partial.push((to_hour, self.to));
                }
            }
        }
        split
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_range_is_cut_into_partial_hours_and_whole_hours() {
        let split = Window { from: Some(at("2026-01-01T10:15:00Z")), to: at("2026-01-01T13:30:00Z") }.split();
        assert_eq!(split.whole_hours, Some((Some(at("2026-01-01T11:00:00Z")), at("2026-01-01T13:00:00Z"))));
        assert_eq!(
            split.partial,
            [
                (at("2026-01-01T10:15:00Z"), at("2026-01-01T11:00:00Z")),
                (at("2026-01-01T13:00:00Z"), at("2026-01-01T13:30:00Z"))
            ]
        );
    }

    #[test]
    fn aligned_unbounded_and_short_ranges() {
        let aligned = Window { from: Some(at("2026-01-01T10:00:00Z")), to: at("2026-01-01T12:00:00Z") }.split();
        assert!(aligned.partial.is_empty());
        let unbounded = Window { from: None, to: at("2026-01-01T12:05:00Z") }.split();
        assert_eq!(unbounded.whole_hours, Some((None, at("2026-01-01T12:00:00Z"))));
        assert_eq!(unbounded.partial.len(), 1);
        let short = Window { from: Some(at("2026-01-01T10:10:00Z")), to: at("2026-01-01T11:20:00Z") }.split();
        assert_eq!(short.whole_hours, None);
        assert_eq!(short.partial, [(at("2026-01-01T10:10:00Z"), at("2026-01-01T11:20:00Z"))]);
        let empty = Window { from: Some(at("2026-01-01T10:10:00Z")), to: at("2026-01-01T10:10:00Z") }.split();
        assert_eq!(empty, Split::default());
    }
}
