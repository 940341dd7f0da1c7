//! How numbers, durations and times are written on screen.

/// `1234567` → `1,234,567`.
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Short form for chart axes: `950`, `12.3k`, `4.5M`, `1.2B`.
pub fn compact(n: f64) -> String {
    let (value, suffix) = match n.abs() {
        v if v >= 1e9 => (n / 1e9, "B"),
        v if v >= 1e6 => (n / 1e6, "M"),
        v if v >= 1e3 => (n / 1e3, "k"),
        _ => return format!("{}", n.round() as i64),
    };
    if value.abs() >= 100.0 {
        format!("{value:.0}{suffix}")
    } else {
        format!("{value:.1}{suffix}")
    }
}

/// US dollars: cents from $1 up (`$1,234.57`), three significant digits below, so that the
/// cost of one small call (`$0.00000465`) does not read as `$0.00`.
pub fn usd(amount: f64) -> String {
    let sign = if amount < 0.0 { "-" } else { "" };
    let v = amount.abs();
    if v == 0.0 {
        return "$0.00".into();
    }
    if v >= 1.0 {
        let cents = (v * 100.0).round() as i64;
        return format!("{sign}${}.{:02}", grouped(cents / 100), cents % 100);
    }
    let decimals = ((-v.log10().floor()) as usize + 2).clamp(2, 12);
    let text = format!("{v:.decimals$}");
    let trimmed = text.trim_end_matches('0');
    let trimmed = if trimmed.len() < "0.00".len() { &text[..4] } else { trimmed };
    format!("{sign}${trimmed}")
}

/// Milliseconds as people read them: `840 ms`, `1.25 s`, `2 min 05 s`.
pub fn duration_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        let seconds = (ms / 1000.0).round() as i64;
        format!("{} min {:02} s", seconds / 60, seconds % 60)
    }
}

/// A rate in [0, 1] as a percentage with the precision small rates need.
pub fn percent(rate: f64) -> String {
    let p = rate * 100.0;
    if p == 0.0 || p >= 10.0 {
        format!("{p:.0} %")
    } else {
        format!("{p:.1} %")
    }
}

/// `2026-11-26 08:05:09` from local date parts (month 1-based).
pub fn date_time(parts: [u32; 6]) -> String {
    let [year, month, day, hour, minute, second] = parts;
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
}

/// An RFC 3339 instant in the browser's time zone. Falls back to the text itself when it does not parse.
pub fn local_time(rfc3339: &str) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(rfc3339));
    if date.get_time().is_nan() {
        return rfc3339.to_owned();
    }
    date_time([
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds(),
    ])
}

/// JSON re-indented for reading, keys in their original order; text that is not JSON is returned as is.
pub fn pretty_json(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => serde_json::to_string_pretty(&value).unwrap_or_else(|_| text.to_owned()),
        Err(_) => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_keep_the_digits_that_matter() {
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd(12.012525), "$12.01");
        assert_eq!(usd(1234.567), "$1,234.57");
        assert_eq!(usd(0.012525), "$0.0125");
        assert_eq!(usd(0.5), "$0.50");
        assert_eq!(usd(0.00000465), "$0.00000465");
        assert_eq!(usd(0.1), "$0.10");
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(grouped(-45210), "-45,210");
    }

    #[test]
    fn compacts_large_numbers() {
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(12_345.0), "12.3k");
        assert_eq!(compact(4_500_000.0), "4.5M");
        assert_eq!(compact(250_000_000.0), "250M");
        assert_eq!(compact(1_200_000_000.0), "1.2B");
    }

    #[test]
    fn writes_durations() {
        assert_eq!(duration_ms(0.5), "0.50 ms");
        assert_eq!(duration_ms(840.4), "840 ms");
        assert_eq!(duration_ms(1250.0), "1.25 s");
        assert_eq!(duration_ms(125_000.0), "2 min 05 s");
    }

    #[test]
    fn writes_percentages() {
        assert_eq!(percent(0.0), "0 %");
        assert_eq!(percent(0.0123), "1.2 %");
        assert_eq!(percent(0.25), "25 %");
        assert_eq!(percent(1.0), "100 %");
    }

    #[test]
    fn writes_local_date_times() {
        assert_eq!(date_time([2026, 1, 5, 8, 3, 9]), "2026-01-05 08:03:09");
    }

    #[test]
    fn pretty_json_keeps_key_order_and_leaves_other_text_alone() {
        assert_eq!(pretty_json(r#"{"z":1,"a":[true]}"#), "{\n  \"z\": 1,\n  \"a\": [\n    true\n  ]\n}");
        assert_eq!(pretty_json("data: not json"), "data: not json");
    }
}
