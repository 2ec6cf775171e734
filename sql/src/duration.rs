//! Durations as users write them: `500ms`, `30s`, `15m`, `6h`, `7d`, `2w`.

use std::time::Duration;

/// Parses a duration of the form `<integer><unit>` with unit `ms`, `s`, `m`, `h`, `d`
/// or `w`. The error says what is wrong in words a user can act on.
///
/// ```
/// use freshet_sql::duration::parse_duration;
/// assert_eq!(parse_duration("7d").unwrap().as_secs(), 7 * 86_400);
/// assert!(parse_duration("7x").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let millis = parse_millis(text)?;
    if millis == 0 {
        return Err(format!(
            "duration '{}' must be greater than zero",
            text.trim()
        ));
    }
    Ok(Duration::from_millis(millis))
}

/// Parses an interval between checks: as [`parse_duration`], and zero (`0ms`)
/// is allowed, meaning "check every time".
///
/// ```
/// use freshet_sql::duration::parse_interval;
/// assert!(parse_interval("0ms").unwrap().is_zero());
/// assert_eq!(parse_interval("10s").unwrap().as_secs(), 10);
/// ```
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    parse_millis(text).map(Duration::from_millis)
}

/// The milliseconds `<integer><unit>` stands for, zero included.
fn parse_millis(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| {
        format!("duration '{text}' has no unit (use ms, s, m, h, d or w, as in '7d')")
    })?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(format!(
            "duration '{text}' must start with a whole number, as in '7d'"
        ));
    }
    let amount: u64 = number
        .parse()
        .map_err(|_| format!("duration '{text}' is too large"))?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        other => {
            return Err(format!(
                "duration '{text}' has unknown unit '{other}' (use ms, s, m, h, d or w)"
            ))
        }
    };
    amount
        .checked_mul(millis_per_unit)
        .ok_or_else(|| format!("duration '{text}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::{parse_duration, parse_interval};

    #[test]
    fn units() {
        assert_eq!(parse_duration("500ms").unwrap().as_millis(), 500);
        assert_eq!(parse_duration("30s").unwrap().as_secs(), 30);
        assert_eq!(parse_duration("15m").unwrap().as_secs(), 900);
        assert_eq!(parse_duration("6h").unwrap().as_secs(), 21_600);
        assert_eq!(parse_duration("2w").unwrap().as_secs(), 1_209_600);
        assert!(parse_duration("0d")
            .unwrap_err()
            .contains("greater than zero"));
        assert!(parse_duration("d").unwrap_err().contains("whole number"));
        assert!(parse_duration("7").unwrap_err().contains("no unit"));
        assert!(parse_duration("99999999999999999999d")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn intervals_may_be_zero() {
        assert_eq!(parse_interval("0s").unwrap(), std::time::Duration::ZERO);
        assert_eq!(parse_interval("250ms").unwrap().as_millis(), 250);
        assert!(parse_interval("5").unwrap_err().contains("no unit"));
    }
}
