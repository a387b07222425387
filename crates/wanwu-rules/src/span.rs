//! Durations written as text: `500ms`, `30s`, `10m`, `2h`, `1d`, or sums such as `1h30m`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest span accepted anywhere in a rule (30 days).
pub const MAX_SPAN_MS: u64 = 30 * 24 * 3_600_000;

/// A non-negative span of time, kept in milliseconds, written as text (`"10m"`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Span(u64);

impl Span {
    /// A span of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Span(ms)
    }

    /// The span in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The span as a [`std::time::Duration`].
    pub const fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }

    /// Parses `500ms`, `30s`, `10m`, `2h`, `1d` or a sum of them such as `1h30m`.
    pub fn parse(text: &str) -> Result<Span, String> {
        let bad = || {
            format!(
                "{text:?} is not a duration such as \"500ms\", \"30s\", \"10m\", \"1h30m\" or \"1d\""
            )
        };
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit_ms = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            total = number
                .checked_mul(unit_ms)
                .and_then(|ms| total.checked_add(ms))
                .ok_or_else(bad)?;
        }
        if total > MAX_SPAN_MS {
            return Err(format!(
                "{text:?} is longer than the longest duration allowed, 30d"
            ));
        }
        Ok(Span(total))
    }
}

impl TryFrom<String> for Span {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Span::parse(&text)
    }
}

impl From<Span> for String {
    fn from(span: Span) -> String {
        span.to_string()
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 5] = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1_000, "s"),
            (1, "ms"),
        ];
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, name) in UNITS {
            if rest >= unit {
                write!(f, "{}{name}", rest / unit)?;
                rest %= unit;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(Span::parse("500ms").unwrap().as_millis(), 500);
        assert_eq!(Span::parse("10m").unwrap().as_millis(), 600_000);
        assert_eq!(Span::parse("1h30m").unwrap().as_millis(), 5_400_000);
        assert_eq!(Span::parse("1d").unwrap().to_string(), "1d");
        assert_eq!(Span::parse("90s").unwrap().to_string(), "1m30s");
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in [
            "",
            "10",
            "m",
            "10x",
            "-5s",
            "1.5h",
            "99999999999999999999d",
            "31d",
        ] {
            assert!(Span::parse(bad).is_err(), "{bad:?}");
        }
    }
}
