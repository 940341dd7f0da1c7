//! What tokens cost. Prices are integers: millionths of a US dollar per million tokens, which is
//! the same number as picodollars per token, so a cost is an exact integer sum of tokens × price and
//! the same figure comes out whichever order rows are added in. Dollars appear only for display.

mod budget_period;
mod price_book;
mod usd;

pub use budget_period::{budget_used, Period, ScopedUsage};
pub use price_book::{PriceBook, PricePeriod};
pub use usd::{micros_from_usd, usd_from_micros, usd_from_pico};

use chrono::NaiveDate;

/// One model's list price from a day on (UTC), in µ$ per 1M tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub model: String,
    pub effective_from: NaiveDate,
    pub input: i64,
    pub output: i64,
    /// Cached input read; `None` where the vendor has no such price (billed as input).
    pub cache_read: Option<i64>,
    /// Input written to the prompt cache; `None` where the vendor has no such price (billed as input).
    pub cache_write: Option<i64>,
}

/// Token counts as recorded, in the OpenAI sense: `prompt` includes the cached and the
/// cache-written tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCounts {
    pub prompt: i64,
    pub completion: i64,
    pub cache_read: i64,
    pub cache_write: i64,
}

impl TokenCounts {
    /// From a request row's four token columns, where NULL (not reported) counts as none.
    pub fn from_columns(
        prompt: Option<i32>,
        completion: Option<i32>,
        cache_read: Option<i32>,
        cache_write: Option<i32>,
    ) -> Self {
        let count = |column: Option<i32>| column.map_or(0, i64::from);
        TokenCounts {
            prompt: count(prompt),
            completion: count(completion),
            cache_read: count(cache_read),
            cache_write: count(cache_write),
        }
    }

    pub fn add(&mut self, other: &TokenCounts) {
        self.prompt += other.prompt;
        self.completion += other.completion;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
    }
}

/// A cost split by what was paid for, in picodollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostBreakdown {
    pub input: i128,
    pub cache_read: i128,
    pub cache_write: i128,
    pub output: i128,
}

impl CostBreakdown {
    pub fn total(&self) -> i128 {
        self.input + self.cache_read + self.cache_write + self.output
    }
}

/// The cost of `tokens` at `price`. Input tokens that are neither cache reads nor cache writes are
/// billed at the input price; a count that says more was cached than was sent bills no plain input
/// rather than a negative amount.
pub fn cost_of(tokens: &TokenCounts, price: &Price) -> CostBreakdown {
    let plain_input = (tokens.prompt - tokens.cache_read - tokens.cache_write).max(0);
    let times = |count: i64, per_token: i64| i128::from(count) * i128::from(per_token);
    CostBreakdown {
        input: times(plain_input, price.input),
        cache_read: times(tokens.cache_read, price.cache_read.unwrap_or(price.input)),
        cache_write: times(tokens.cache_write, price.cache_write.unwrap_or(price.input)),
        output: times(tokens.completion, price.output),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sonnet() -> Price {
        Price {
            model: "claude-sonnet-4-5".into(),
            effective_from: NaiveDate::from_ymd_opt(2025, 9, 29).unwrap(),
            input: 3_000_000,
            output: 15_000_000,
            cache_read: Some(300_000),
            cache_write: Some(3_750_000),
        }
    }

    #[test]
    fn plain_input_and_output() {
        // 1,000 in × $3/M + 500 out × $15/M = $0.003 + $0.0075 = $0.0105
        let cost = cost_of(&TokenCounts { prompt: 1_000, completion: 500, ..Default::default() }, &sonnet());
        assert_eq!(cost.total(), 10_500_000_000);
        assert_eq!(usd_from_pico(cost.total()), 0.0105);
    }

    #[test]
    fn cache_reads_and_writes_are_priced_apart_from_plain_input() {
        // 10,000 prompt of which 8,000 read from cache and 1,500 written to it, 200 out:
        // 500 × 3 + 8,000 × 0.30 + 1,500 × 3.75 + 200 × 15 = 1,500 + 2,400 + 5,625 + 3,000 µ$ = $0.012525
        let tokens = TokenCounts { prompt: 10_000, completion: 200, cache_read: 8_000, cache_write: 1_500 };
        let cost = cost_of(&tokens, &sonnet());
        assert_eq!(cost.input, 1_500_000_000);
        assert_eq!(cost.cache_read, 2_400_000_000);
        assert_eq!(cost.cache_write, 5_625_000_000);
        assert_eq!(cost.output, 3_000_000_000);
        assert_eq!(usd_from_pico(cost.total()), 0.012525);
        // Priced as if nothing were cached, the same call costs $0.033: the 2.6× error of treating
        // cache reads as normal input.
        let uncached = cost_of(&TokenCounts { prompt: 10_000, completion: 200, ..Default::default() }, &sonnet());
        assert_eq!(usd_from_pico(uncached.total()), 0.033);
    }

    #[test]
    fn without_cache_prices_cached_tokens_cost_input() {
        let mut price = sonnet();
        price.cache_read = None;
        price.cache_write = None;
        let tokens = TokenCounts { prompt: 1_000, completion: 0, cache_read: 600, cache_write: 100 };
        assert_eq!(cost_of(&tokens, &price).total(), 1_000 * 3_000_000);
    }

    #[test]
    fn more_cached_than_sent_bills_no_negative_input() {
        let tokens = TokenCounts { prompt: 100, completion: 0, cache_read: 150, cache_write: 0 };
        let cost = cost_of(&tokens, &sonnet());
        assert_eq!(cost.input, 0);
        assert_eq!(cost.cache_read, 150 * 300_000);
    }
}
