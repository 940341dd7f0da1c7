//! Time ranges as the user picks them (presets on the overview, dates on the list) and as admin-api takes them.

/// The overview's range picker. `?range=24h|7d|30d|all` in the URL; 30 days when absent, like admin-api.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangePreset {
    Day,
    Week,
    Month,
    All,
}

pub const PRESETS: [RangePreset; 4] = [RangePreset::Day, RangePreset::Week, RangePreset::Month, RangePreset::All];

impl RangePreset {
    pub fn from_param(value: Option<&str>) -> RangePreset {
        match value {
            Some("24h") => RangePreset::Day,
            Some("7d") => RangePreset::Week,
            Some("all") => RangePreset::All,
            _ => RangePreset::Month,
        }
    }

    pub fn as_param(self) -> &'static str {
        match self {
            RangePreset::Day => "24h",
            RangePreset::Week => "7d",
            RangePreset::Month => "30d",
            RangePreset::All => "all",
        }
    }

    /// How far back it reaches; `None` for all time.
    pub fn span_ms(self) -> Option<f64> {
        const HOUR: f64 = 3_600_000.0;
        match self {
            RangePreset::Day => Some(24.0 * HOUR),
            RangePreset::Week => Some(7.0 * 24.0 * HOUR),
            RangePreset::Month => Some(30.0 * 24.0 * HOUR),
            RangePreset::All => None,
        }
    }

    /// Hourly bars up to a week, daily beyond: at most 168 bars per chart up to 7 days, 30 for a month.
    pub fn hourly(self) -> bool {
        matches!(self, RangePreset::Day | RangePreset::Week)
    }
}

/// The instant `ms` (milliseconds since the epoch) as RFC 3339 UTC text.
pub fn iso_from_ms(ms: f64) -> String {
    js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms)).to_iso_string().into()
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Milliseconds since the epoch of an RFC 3339 text; `None` when it does not parse.
pub fn ms_from_iso(text: &str) -> Option<f64> {
    let ms = js_sys::Date::parse(text);
    (!ms.is_nan()).then_some(ms)
}

/// Local midnight at the start of `YYYY-MM-DD`, plus `days_after` days, as RFC 3339 UTC text.
/// The list's "to" date is inclusive, so it is sent as the next day's midnight.
pub fn local_midnight_iso(date: &str, days_after: u32) -> Option<String> {
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<u32>().ok());
    let (year, month, day) = (parts.next()??, parts.next()??, parts.next()??);
    let midnight = js_sys::Date::new_with_year_month_day(year, month as i32 - 1, (day + days_after) as i32);
    (!midnight.get_time().is_nan()).then(|| midnight.to_iso_string().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_round_trip_and_default_to_thirty_days() {
        for preset in PRESETS {
            assert_eq!(RangePreset::from_param(Some(preset.as_param())), preset);
        }
        assert_eq!(RangePreset::from_param(None), RangePreset::Month);
        assert_eq!(RangePreset::from_param(Some("1y")), RangePreset::Month);
        assert_eq!(RangePreset::All.span_ms(), None);
    }
}
