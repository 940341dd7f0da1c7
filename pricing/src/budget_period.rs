//! Budgets' arithmetic: the UTC periods they count over, and what a budget has used.

use chrono::{DateTime, Datelike, Months, NaiveDateTime, NaiveTime, TimeDelta, Utc};

use crate::{cost_of, PriceBook, TokenCounts};

/// Usage of one model on one day (or hour) within a budget's scope.
pub struct ScopedUsage<'a> {
    pub at: NaiveDateTime,
    /// The priced model: the upstream name, else the client's.
    pub model: &'a str,
    pub tokens: TokenCounts,
}

/// What a budget has used: µ$ for a cost budget, prompt + completion tokens for a token budget.
/// Measured and estimated usage both count (both are spent); usage without a price adds no cost.
pub fn budget_used<'a>(cost: bool, usage: impl IntoIterator<Item = ScopedUsage<'a>>, prices: &PriceBook) -> i64 {
    let mut pico: i128 = 0;
    let mut tokens: i64 = 0;
    for item in usage {
        tokens += item.tokens.prompt + item.tokens.completion;
        if let Some(price) = prices.price_at(item.model, item.at) {
            pico += cost_of(&item.tokens, price).total();
        }
    }
    if cost {
        i64::try_from(pico / 1_000_000).unwrap_or(i64::MAX)
    } else {
        tokens
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    /// Monday to Sunday.
    Week,
    Month,
}

impl Period {
    pub fn parse(text: &str) -> Option<Period> {
        match text {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// `[start, end)` of the period holding `at`.
    pub fn bounds(self, at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let day = at.date_naive();
        let start = match self {
            Period::Day => day,
            Period::Week => day - TimeDelta::days(i64::from(day.weekday().num_days_from_monday())),
            Period::Month => day.with_day(1).unwrap_or(day),
        };
        let end = match self {
            Period::Day => start + TimeDelta::days(1),
            Period::Week => start + TimeDelta::days(7),
            Period::Month => start.checked_add_months(Months::new(1)).unwrap_or(start),
        };
        (start.and_time(NaiveTime::MIN).and_utc(), end.and_time(NaiveTime::MIN).and_utc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn periods_are_utc_days_monday_weeks_and_calendar_months() {
        let now = at("2026-11-26T17:30:00Z"); // a Thursday
        assert_eq!(Period::Day.bounds(now), (at("2026-11-26T00:00:00Z"), at("2026-11-27T00:00:00Z")));
        assert_eq!(Period::Week.bounds(now), (at("2026-11-23T00:00:00Z"), at("2026-11-30T00:00:00Z")));
        assert_eq!(Period::Month.bounds(now), (at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z")));
        assert_eq!(Period::Month.bounds(at("2026-12-31T23:59:59Z")).1, at("2027-01-01T00:00:00Z"));
        assert_eq!(Period::parse("week"), Some(Period::Week));
        assert_eq!(Period::parse("year"), None);
    }
}
