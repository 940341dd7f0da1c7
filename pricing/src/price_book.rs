//! The price in effect for a model on a day. A model name matches its own entries, or, failing
//! that, the entries of the same name without a snapshot suffix (`-20250929`, `-2024-08-06`,
//! `-latest`), so that `claude-sonnet-4-5-20250929` is priced as `claude-sonnet-4-5` unless it has
//! prices of its own. Nothing else is guessed: a model without entries has no price.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};

use crate::Price;

#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    /// Per model, entries by effective date.
    by_model: BTreeMap<String, BTreeMap<NaiveDate, Price>>,
}

/// The span of days a price was in effect for one recorded model name: `[from, until)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricePeriod<'a> {
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
    pub price: &'a Price,
}

impl PriceBook {
    pub fn new(prices: impl IntoIterator<Item = Price>) -> Self {
        let mut by_model: BTreeMap<String, BTreeMap<NaiveDate, Price>> = BTreeMap::new();
        for price in prices {
            by_model.entry(price.model.clone()).or_default().insert(price.effective_from, price);
        }
        PriceBook { by_model }
    }

    pub fn is_empty(&self) -> bool {
        self.by_model.is_empty()
    }

    /// The price of `model` for a request started at `at` (UTC): the entry with the latest
    /// effective date on or before that day.
    pub fn price_at(&self, model: &str, at: NaiveDateTime) -> Option<&Price> {
        let entries = self.entries_for(model)?;
        entries.range(..=at.date()).next_back().map(|(_, price)| price)
    }

    /// Every period a price was in effect for `model`, oldest first; days before the first entry
    /// have no price.
    pub fn periods(&self, model: &str) -> Vec<PricePeriod<'_>> {
        let Some(entries) = self.entries_for(model) else {
            return Vec::new();
        };
        let mut periods: Vec<PricePeriod<'_>> = Vec::with_capacity(entries.len());
        for (day, price) in entries {
            if let Some(previous) = periods.last_mut() {
                previous.until = Some(*day);
            }
            periods.push(PricePeriod { from: *day, until: None, price });
        }
        periods
    }

    fn entries_for(&self, model: &str) -> Option<&BTreeMap<NaiveDate, Price>> {
        self.by_model.get(model).or_else(|| self.by_model.get(without_snapshot_suffix(model)?))
    }
}

/// `name` without a trailing `-YYYYMMDD`, `-YYYY-MM-DD` or `-latest`; `None` when it has none.
fn without_snapshot_suffix(name: &str) -> Option<&str> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(base) = name.strip_suffix("-latest") {
        return Some(base);
    }
    let (base, last) = name.rsplit_once('-')?;
    if last.len() == 8 && digits(last) {
        return Some(base);
    }
    // -YYYY-MM-DD: the last three dash-separated parts.
    let (rest, month) = base.rsplit_once('-')?;
    let (stem, year) = rest.rsplit_once('-')?;
    (year.len() == 4 && digits(year) && month.len() == 2 && digits(month) && last.len() == 2 && digits(last))
        .then_some(stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn at(text: &str) -> NaiveDateTime {
        day(text).and_hms_opt(12, 0, 0).unwrap()
    }

    fn price(model: &str, from: &str, input: i64) -> Price {
        Price {
            model: model.into(),
            effective_from: day(from),
            input,
            output: input * 4,
            cache_read: None,
            cache_write: None,
        }
    }

    fn book() -> PriceBook {
        PriceBook::new([
            price("o3", "2025-04-16", 10_000_000),
            price("o3", "2025-06-10", 2_000_000),
            price("claude-sonnet-4-5", "2025-09-29", 3_000_000),
            price("gpt-4o", "2024-05-13", 5_000_000),
            price("gpt-4o-2024-05-13", "2024-05-13", 5_000_000),
            price("gpt-4o", "2024-10-01", 2_500_000),
            price("gpt-4o-mini", "2024-07-18", 150_000),
        ])
    }

    #[test]
    fn history_is_priced_at_the_price_of_its_day() {
        let book = book();
        assert_eq!(book.price_at("o3", at("2025-04-15")), None);
        assert_eq!(book.price_at("o3", at("2025-04-16")).unwrap().input, 10_000_000);
        assert_eq!(book.price_at("o3", at("2025-06-09")).unwrap().input, 10_000_000);
        assert_eq!(book.price_at("o3", day("2025-06-10").and_hms_opt(0, 0, 0).unwrap()).unwrap().input, 2_000_000);
        assert_eq!(book.price_at("o3", at("2026-01-01")).unwrap().input, 2_000_000);
    }

    #[test]
    fn snapshots_fall_back_to_their_base_name_and_nothing_else_is_guessed() {
        let book = book();
        assert_eq!(book.price_at("claude-sonnet-4-5-20250929", at("2025-10-01")).unwrap().model, "claude-sonnet-4-5");
        assert_eq!(book.price_at("gpt-4o-2024-08-06", at("2025-01-01")).unwrap().input, 2_500_000);
        // Its own entry wins over the base name's.
        assert_eq!(book.price_at("gpt-4o-2024-05-13", at("2025-01-01")).unwrap().input, 5_000_000);
        assert_eq!(book.price_at("claude-sonnet-4-5-latest", at("2025-10-01")).unwrap().input, 3_000_000);
        // Not snapshots of gpt-4o: no price rather than a wrong one.
        assert_eq!(book.price_at("gpt-4o-mini-2024-07-18", at("2025-01-01")).unwrap().input, 150_000);
        assert_eq!(book.price_at("gpt-4o-audio-preview", at("2025-01-01")), None);
        assert_eq!(book.price_at("claude-sonnet-4", at("2025-10-01")), None);
        assert_eq!(book.price_at("", at("2025-10-01")), None);
    }

    #[test]
    fn periods_end_where_the_next_price_starts() {
        let book = book();
        let periods = book.periods("o3");
        assert_eq!(periods.len(), 2);
        assert_eq!((periods[0].from, periods[0].until), (day("2025-04-16"), Some(day("2025-06-10"))));
        assert_eq!((periods[1].from, periods[1].until), (day("2025-06-10"), None));
        assert!(book.periods("unknown").is_empty());
    }

    #[test]
    fn suffixes() {
        assert_eq!(without_snapshot_suffix("claude-3-5-haiku-20241022"), Some("claude-3-5-haiku"));
        assert_eq!(without_snapshot_suffix("gpt-4o-2024-11-20"), Some("gpt-4o"));
        assert_eq!(without_snapshot_suffix("claude-3-7-sonnet-latest"), Some("claude-3-7-sonnet"));
        assert_eq!(without_snapshot_suffix("claude-opus-4-1"), None);
        assert_eq!(without_snapshot_suffix("gpt-4.1-mini"), None);
        assert_eq!(without_snapshot_suffix("20241022"), None);
    }
}
