//! Conversions between the integer units and dollars, for display and for prices typed by people.

/// Picodollars → dollars.
pub fn usd_from_pico(pico: i128) -> f64 {
    // Whole dollars and the remainder apart, so that sums up to ~$9·10^12 keep their cents exact.
    let whole = (pico / 1_000_000_000_000) as f64;
    let rest = (pico % 1_000_000_000_000) as f64 / 1e12;
    whole + rest
}

/// µ$ per 1M tokens → $ per 1M tokens.
pub fn usd_from_micros(micros: i64) -> f64 {
    micros as f64 / 1e6
}

/// $ per 1M tokens as typed (e.g. 0.075) → µ$ per 1M tokens, rounded to the nearest µ$.
/// `None` for negative, non-finite or absurd values (over $1,000,000 per 1M tokens).
pub fn micros_from_usd(usd: f64) -> Option<i64> {
    (usd.is_finite() && (0.0..=1_000_000.0).contains(&usd)).then(|| (usd * 1e6).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_prices_round_to_the_micro_dollar() {
        assert_eq!(micros_from_usd(0.075), Some(75_000));
        assert_eq!(micros_from_usd(3.0), Some(3_000_000));
        assert_eq!(micros_from_usd(18.75), Some(18_750_000));
        assert_eq!(micros_from_usd(0.0000004), Some(0));
        assert_eq!(micros_from_usd(-1.0), None);
        assert_eq!(micros_from_usd(f64::NAN), None);
        assert_eq!(micros_from_usd(2e6), None);
        assert_eq!(usd_from_micros(75_000), 0.075);
    }

    #[test]
    fn large_sums_keep_their_cents() {
        assert_eq!(usd_from_pico(1_234_567_890_120_000_000_000), 1_234_567_890.12);
        assert_eq!(usd_from_pico(1), 1e-12);
    }
}
