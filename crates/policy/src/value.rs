//! Typed values of the request context and of condition operators: dates (W3C ISO 8601 or epoch
//! seconds) and IP ranges (CIDR), as the condition operators page describes them
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>).

use std::fmt;
use std::net::IpAddr;

/// An instant, in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    millis: i64,
}

impl Timestamp {
    pub fn from_epoch_millis(millis: i64) -> Self {
        Self { millis }
    }

    pub fn from_epoch_seconds(seconds: i64) -> Self {
        Self {
            millis: seconds.saturating_mul(1000),
        }
    }

    pub fn epoch_millis(self) -> i64 {
        self.millis
    }

    /// Parses what date condition operators accept: epoch seconds (`1700000000`) or one of the
    /// W3C profiles of ISO 8601 (`2026`, `2026-11`, `2026-11-23`, `2026-11-23T20:00Z`,
    /// `2026-11-23T20:00:00.000+01:00`). A time without a zone designator is taken as UTC.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) && text.len() != 4 {
            return text.parse::<i64>().ok().map(Self::from_epoch_seconds);
        }
        parse_w3c(text)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        let days = self.millis.div_euclid(86_400_000);
        let in_day = self.millis.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        write!(
            formatter,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1000 % 60,
            in_day % 1000
        )
    }
}

fn parse_w3c(text: &str) -> Option<Timestamp> {
    let bytes = text.as_bytes();
    let mut cursor = Cursor { bytes, position: 0 };
    let year = cursor.digits(4)?;
    let mut month = 1;
    let mut day = 1;
    let mut millis_in_day = 0i64;
    let mut offset_minutes = 0i64;
    if cursor.eat(b'-') {
        month = cursor.digits(2)?;
        if cursor.eat(b'-') {
            day = cursor.digits(2)?;
            if cursor.eat(b'T') {
                let hour = cursor.digits(2)?;
                cursor.expect(b':')?;
                let minute = cursor.digits(2)?;
                let mut second = 0;
                let mut fraction_millis = 0;
                if cursor.eat(b':') {
                    second = cursor.digits(2)?;
                    if cursor.eat(b'.') {
                        fraction_millis = cursor.fraction_millis()?;
                    }
                }
                if hour > 23 || minute > 59 || second > 60 {
                    return None;
                }
                millis_in_day = ((hour * 60 + minute) * 60 + second) * 1000 + fraction_millis;
                if cursor.eat(b'Z') {
                } else if let Some(sign) = cursor.sign() {
                    let offset_hours = cursor.digits(2)?;
                    cursor.expect(b':')?;
                    let offset_minute = cursor.digits(2)?;
                    offset_minutes = sign * (offset_hours * 60 + offset_minute);
                }
            }
        }
    }
    if cursor.position != bytes.len() || !(1..=12).contains(&month) {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(Timestamp::from_epoch_millis(
        days * 86_400_000 + millis_in_day - offset_minutes * 60_000,
    ))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, count: usize) -> Option<i64> {
        let digits = self.bytes.get(self.position..self.position + count)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.position += count;
        Some(
            digits
                .iter()
                .fold(0, |value, digit| value * 10 + i64::from(digit - b'0')),
        )
    }

    fn fraction_millis(&mut self) -> Option<i64> {
        let start = self.position;
        while self
            .bytes
            .get(self.position)
            .is_some_and(u8::is_ascii_digit)
        {
            self.position += 1;
        }
        let digits = &self.bytes[start..self.position];
        if digits.is_empty() {
            return None;
        }
        Some(
            (0..3)
                .map(|index| digits.get(index).map_or(0, |digit| i64::from(digit - b'0')))
                .fold(0, |value, digit| value * 10 + digit),
        )
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.bytes.get(self.position) == Some(&byte) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    fn sign(&mut self) -> Option<i64> {
        if self.eat(b'+') {
            Some(1)
        } else if self.eat(b'-') {
            Some(-1)
        } else {
            None
        }
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years, March-based years).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// An IPv4 or IPv6 range in CIDR notation; an address without a prefix is a single address
/// (`/32` for IPv4, as the IP address condition operators page states; `/128` for IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.trim().parse().ok()?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.trim().parse::<u8>().ok().filter(|p| *p <= width)?,
            None => width,
        };
        Some(Self { network, prefix })
    }

    pub(crate) fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w3c_profiles_and_epoch_seconds_are_dates() {
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:00Z"),
            Some(Timestamp::from_epoch_millis(0))
        );
        assert_eq!(
            Timestamp::parse("2020-01-01T00:00:01Z")
                .unwrap()
                .epoch_millis(),
            1_577_836_801_000
        );
        assert_eq!(
            Timestamp::parse("2020-01-01T01:00:01+01:00"),
            Timestamp::parse("2020-01-01T00:00:01Z")
        );
        assert_eq!(
            Timestamp::parse("1577836801"),
            Timestamp::parse("2020-01-01T00:00:01Z")
        );
        assert_eq!(
            Timestamp::parse("2020"),
            Timestamp::parse("2020-01-01T00:00Z")
        );
        assert_eq!(
            Timestamp::parse("2024-02-29T12:30:15.250Z")
                .unwrap()
                .to_string(),
            "2024-02-29T12:30:15.250Z"
        );
        assert_eq!(Timestamp::parse("2023-02-29"), None);
        assert_eq!(Timestamp::parse("2023-13-01"), None);
        assert_eq!(Timestamp::parse("yesterday"), None);
    }

    #[test]
    fn cidr_ranges_contain_their_addresses_only() {
        let range = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(range.contains("203.0.113.255".parse().unwrap()));
        assert!(!range.contains("203.0.114.0".parse().unwrap()));
        let single = Cidr::parse("203.0.113.7").unwrap();
        assert!(single.contains("203.0.113.7".parse().unwrap()));
        assert!(!single.contains("203.0.113.8".parse().unwrap()));
        let v6 = Cidr::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(v6.contains("2001:db8:1234:5678::1".parse().unwrap()));
        assert!(!v6.contains("203.0.113.7".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
    }
}
