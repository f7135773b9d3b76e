//! `parse_time`'s Joda-Time patterns (<https://www.joda.org/joda-time/apidocs/org/joda/time/format/DateTimeFormat.html>),
//! the letters a rule needs to write a date and time. Time zones: UTC and fixed offsets only,
//! since the local post office carries no time zone database.

use chrono::{DateTime, Datelike, FixedOffset, Timelike};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

#[derive(Debug, PartialEq)]
enum Part {
    Literal(String),
    Field { letter: char, width: usize },
}

/// Why a pattern or zone cannot be used, for the parse-time check of literal arguments.
pub(crate) fn check_pattern(pattern: &str) -> Result<(), String> {
    parts(pattern).map(|_| ())
}

pub(crate) fn check_zone(zone: &str) -> Result<(), String> {
    offset(zone).map(|_| ()).ok_or_else(|| {
        format!("time zone '{zone}' (only UTC and fixed offsets such as +01:00 are known locally)")
    })
}

/// `millis` since the epoch written with `pattern` in `zone`; `None` when either is unusable.
pub(crate) fn format(pattern: &str, millis: i64, zone: &str) -> Option<String> {
    let parts = parts(pattern).ok()?;
    let (offset, zone_name) = offset(zone)?;
    let time = DateTime::from_timestamp_millis(millis)?.with_timezone(&offset);
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Literal(text) => out.push_str(&text),
            Part::Field { letter, width } => field(&mut out, &time, letter, width, &zone_name),
        }
    }
    Some(out)
}

fn parts(pattern: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
                parts.push(Part::Literal("'".to_owned()));
                continue;
            }
            let mut literal = String::new();
            loop {
                match chars.next() {
                    None => return Err(format!("pattern '{pattern}' has an unclosed quote")),
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        literal.push('\'');
                    }
                    Some('\'') => break,
                    Some(other) => literal.push(other),
                }
            }
            parts.push(Part::Literal(literal));
        } else if c.is_ascii_alphabetic() {
            if !"GyYMdDEeaHkhKmsSzZ".contains(c) {
                return Err(format!(
                    "pattern letter '{c}' in '{pattern}' is not supported"
                ));
            }
            let mut width = 1;
            while chars.peek() == Some(&c) {
                chars.next();
                width += 1;
            }
            parts.push(Part::Field { letter: c, width });
        } else {
            parts.push(Part::Literal(c.to_string()));
        }
    }
    Ok(parts)
}

/// The offset and its short name; UTC's aliases, or `+HH:MM`, `+HHMM`, `+HH` (with `-` too).
fn offset(zone: &str) -> Option<(FixedOffset, String)> {
    if matches!(
        zone,
        "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Z" | "Zulu" | "Universal"
    ) {
        return Some((FixedOffset::east_opt(0)?, "UTC".to_owned()));
    }
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    let seconds = sign * (hours * 3600 + minutes * 60);
    let name = format!(
        "{}{:02}:{:02}",
        if sign < 0 { '-' } else { '+' },
        hours,
        minutes
    );
    Some((FixedOffset::east_opt(seconds)?, name))
}

fn number(out: &mut String, value: i64, width: usize) {
    out.push_str(&format!("{value:0width$}"));
}

fn field(
    out: &mut String,
    time: &DateTime<FixedOffset>,
    letter: char,
    width: usize,
    zone_name: &str,
) {
    match letter {
        'G' => out.push_str(if time.year() > 0 { "AD" } else { "BC" }),
        'y' | 'Y' if width == 2 => number(out, i64::from(time.year().rem_euclid(100)), 2),
        'y' | 'Y' => number(out, i64::from(time.year()), width),
        'M' if width >= 4 => out.push_str(MONTHS[time.month0() as usize]),
        'M' if width == 3 => out.push_str(&MONTHS[time.month0() as usize][..3]),
        'M' => number(out, i64::from(time.month()), width),
        'd' => number(out, i64::from(time.day()), width),
        'D' => number(out, i64::from(time.ordinal()), width),
        'E' if width >= 4 => out.push_str(WEEKDAYS[time.weekday().num_days_from_monday() as usize]),
        'E' => out.push_str(&WEEKDAYS[time.weekday().num_days_from_monday() as usize][..3]),
        'e' => number(out, i64::from(time.weekday().number_from_monday()), width),
        'a' => out.push_str(if time.hour() < 12 { "AM" } else { "PM" }),
        'H' => number(out, i64::from(time.hour()), width),
        'k' => number(
            out,
            i64::from(if time.hour() == 0 { 24 } else { time.hour() }),
            width,
        ),
        'h' => number(
            out,
            i64::from(match time.hour() % 12 {
                0 => 12,
                h => h,
            }),
            width,
        ),
        'K' => number(out, i64::from(time.hour() % 12), width),
        'm' => number(out, i64::from(time.minute()), width),
        's' => number(out, i64::from(time.second()), width),
        'S' => {
            // A fraction of the second: the milliseconds' leading digits, zero-padded beyond 3.
            let millis = format!("{:03}", time.timestamp_subsec_millis());
            if width <= 3 {
                out.push_str(&millis[..width]);
            } else {
                out.push_str(&millis);
                out.push_str(&"0".repeat(width - 3));
            }
        }
        'z' if width >= 4 && zone_name == "UTC" => out.push_str("Coordinated Universal Time"),
        'z' => out.push_str(zone_name),
        'Z' => {
            let seconds = time.offset().local_minus_utc();
            let sign = if seconds < 0 { '-' } else { '+' };
            let (hours, minutes) = (seconds.abs() / 3600, seconds.abs() % 3600 / 60);
            match width {
                1 => out.push_str(&format!("{sign}{hours:02}{minutes:02}")),
                2 => out.push_str(&format!("{sign}{hours:02}:{minutes:02}")),
                _ => out.push_str(zone_name),
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_platforms_received_at_format() {
        // 2026-11-23T20:00:00.012Z
        let millis = 1_795_464_000_012;
        let pattern = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'";
        assert_eq!(
            format(pattern, millis, "UTC").as_deref(),
            Some("2026-11-23T20:00:00.012Z")
        );
    }

    #[test]
    fn writes_the_reference_example_in_utc() {
        // The reference formats 100000000 ms in America/Belize; in UTC it is 1970-01-02 03:46:40.
        let pattern = "yyyy.MM.dd G 'at' HH:mm:ss z";
        assert_eq!(
            format(pattern, 100_000_000, "UTC").as_deref(),
            Some("1970.01.02 AD at 03:46:40 UTC")
        );
        assert_eq!(
            format(pattern, 100_000_000, "-06:00").as_deref(),
            Some("1970.01.01 AD at 21:46:40 -06:00")
        );
    }

    #[test]
    fn names_months_days_and_twelve_hour_clocks() {
        let millis = 1_795_464_000_012; // a Monday
        assert_eq!(
            format("EEEE, d MMMM yy h:mm a Z ZZ", millis, "+01:30").as_deref(),
            Some("Monday, 23 November 26 9:30 PM +0130 +01:30")
        );
        assert_eq!(
            format("EEE MMM D", millis, "UTC").as_deref(),
            Some("Mon Nov 327")
        );
        assert_eq!(format("''yyyy''", millis, "UTC").as_deref(), Some("'2026'"));
    }

    #[test]
    fn refuses_unknown_letters_zones_and_unclosed_quotes() {
        assert!(check_pattern("yyyy-MM-dd QQ").unwrap_err().contains("'Q'"));
        assert!(
            check_pattern("yyyy 'T")
                .unwrap_err()
                .contains("unclosed quote")
        );
        assert!(
            check_zone("America/Belize")
                .unwrap_err()
                .contains("America/Belize")
        );
        assert!(check_zone("+25:00").is_err());
        assert_eq!(format("yyyy", 0, "Europe/Paris"), None);
    }
}
