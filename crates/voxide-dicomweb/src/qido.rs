//! QIDO-RS (PS3.18 §10.6) query parameters and the matching helpers a search needs.
//!
//! [`QidoQuery::from_query_string`] (or [`QidoQuery::from_pairs`] on already-decoded pairs)
//! turns `?PatientName=DOE*&StudyDate=20200101-&includefield=00081030&limit=25` into attribute
//! filters, the attributes to include, paging and fuzzy matching. The attribute values are
//! left as sent; the server interprets them per VR with [`DateRange`], [`TimeRange`],
//! [`wildcard_to_sql_like`], [`is_universal_match`] and [`split_uid_list`].

use std::fmt;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, TagRange};
use dicom_core::Tag;
use dicom_dictionary_std::StandardDataDictionary;

use crate::error::shorten;
use crate::DicomWebError;

/// The tag of a standard DICOM keyword (`"PatientName"` → `0x0010_0010`), as
/// `(group << 16) | element`. Keywords are case-sensitive (as in PS3.6). Keywords of repeating
/// groups (e.g. `OverlayData`, `60xx,3000`) and generic entries have no single tag and give
/// `None`.
pub fn keyword_to_tag(keyword: &str) -> Option<u32> {
    match StandardDataDictionary.by_name(keyword)?.tag_range() {
        TagRange::Single(tag) => Some(tag_to_u32(tag)),
        _ => None,
    }
}

/// The standard keyword of a tag (`0x0010_0010` → `"PatientName"`), if the dictionary has one.
pub fn tag_to_keyword(tag: u32) -> Option<&'static str> {
    let dict: &'static StandardDataDictionary = &StandardDataDictionary;
    let tag = Tag((tag >> 16) as u16, (tag & 0xFFFF) as u16);
    dict.by_tag(tag).map(|entry| entry.alias())
}

/// A QIDO-RS attribute ID: a keyword (see [`keyword_to_tag`]) or exactly eight hexadecimal
/// digits, either case (`"00100010"`, `"0020000d"`). Sequence paths (`A.B`) are not supported.
pub fn parse_attribute_id(id: &str) -> Option<u32> {
    if id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return u32::from_str_radix(id, 16).ok();
    }
    keyword_to_tag(id)
}

/// A tag as the eight upper-case hexadecimal digits of DICOM JSON keys (`0x0010_0010` →
/// `"00100010"`).
pub fn tag_hex(tag: u32) -> String {
    format!("{tag:08X}")
}

fn tag_to_u32(tag: Tag) -> u32 {
    (u32::from(tag.group()) << 16) | u32::from(tag.element())
}

/// Splits a raw URL query string (with or without the leading `?`) into decoded
/// `(name, value)` pairs, as `application/x-www-form-urlencoded` parsing does: pairs split on
/// `&` (empty ones skipped), name and value on the first `=`, `+` is a space, `%XX` is a byte;
/// invalid `%` escapes are kept literally and bytes that are not UTF-8 become U+FFFD. Never
/// fails.
pub fn parse_query_string(raw: &str) -> Vec<(String, String)> {
    let raw = raw.strip_prefix('?').unwrap_or(raw);
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

/// Decodes one query-string component: `+` → space, `%XX` → byte (invalid escapes kept),
/// non-UTF-8 results lossily converted.
pub fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex);
                let lo = bytes.get(i + 2).copied().and_then(hex);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed QIDO-RS query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QidoQuery {
    /// Attribute matching: (tag as `(group << 16) | element`, value as sent), in query order,
    /// at most one per tag. An empty value asks for the attribute without constraining it
    /// (see [`is_universal_match`]).
    pub filters: Vec<(u32, String)>,
    /// `includefield=all` was given.
    pub include_all: bool,
    /// Tags named by `includefield` (keywords or hex; unknown keywords ignored), in order,
    /// without duplicates.
    pub include_fields: Vec<u32>,
    /// `limit`, if given.
    pub limit: Option<usize>,
    /// `offset`, 0 when absent.
    pub offset: usize,
    /// `fuzzymatching=true` was given.
    pub fuzzy_matching: bool,
    /// The `accept` query parameter (PS3.18 §8.3.3.1, overrides the `Accept` header), if
    /// given; repeated ones are joined with `, `.
    pub accept: Option<String>,
    /// The `charset` query parameter (PS3.18 §8.3.3.2), if given.
    pub charset: Option<String>,
}

impl QidoQuery {
    /// Parses decoded query pairs; see [`parse_qido_query`].
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self, DicomWebError> {
        parse_qido_query(pairs)
    }

    /// Parses a raw query string: [`parse_query_string`] then [`parse_qido_query`].
    pub fn from_query_string(raw: &str) -> Result<Self, DicomWebError> {
        parse_qido_query(&parse_query_string(raw))
    }

    /// The matching value given for `tag`, if any.
    pub fn filter(&self, tag: u32) -> Option<&str> {
        self.filters
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the response should include `tag` because of `includefield` (or `all`).
    pub fn includes(&self, tag: u32) -> bool {
        self.include_all || self.include_fields.contains(&tag)
    }
}

/// Parses QIDO-RS query parameters (names and values already URL-decoded).
///
/// - `includefield` (may repeat; values comma-separated): `all`, keywords or 8-hex-digit tags.
///   Unknown keywords are ignored, as PS3.18 lets a server leave out attributes it does not
///   support.
/// - `limit`, `offset`: non-negative decimal integers.
/// - `fuzzymatching`: `true` or `false`.
/// - `accept`, `charset`: kept in [`QidoQuery::accept`] / [`QidoQuery::charset`].
/// - These reserved names are case-insensitive; every other name must be a DICOM keyword
///   (case-sensitive) or 8 hex digits and becomes a filter.
///
/// Errors ([`DicomWebError::InvalidQuery`], 400, naming the parameter): an unknown attribute,
/// a sequence path (`A.B`), the same attribute twice, an invalid or repeated `limit`,
/// `offset` or `fuzzymatching`.
pub fn parse_qido_query(pairs: &[(String, String)]) -> Result<QidoQuery, DicomWebError> {
    let err = |key: &str, reason: String| DicomWebError::InvalidQuery {
        key: shorten(key),
        reason,
    };
    let mut q = QidoQuery::default();
    let mut seen_offset = false;
    let mut seen_fuzzy = false;
    for (key, value) in pairs {
        match key.to_ascii_lowercase().as_str() {
            "includefield" => {
                for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if item.eq_ignore_ascii_case("all") {
                        q.include_all = true;
                    } else if let Some(tag) = parse_attribute_id(item) {
                        if !q.include_fields.contains(&tag) {
                            q.include_fields.push(tag);
                        }
                    }
                }
            }
            "limit" => {
                if q.limit.is_some() {
                    return Err(err(key, "given more than once".into()));
                }
                q.limit = Some(parse_count(value).map_err(|r| err(key, r))?);
            }
            "offset" => {
                if seen_offset {
                    return Err(err(key, "given more than once".into()));
                }
                seen_offset = true;
                q.offset = parse_count(value).map_err(|r| err(key, r))?;
            }
            "fuzzymatching" => {
                if seen_fuzzy {
                    return Err(err(key, "given more than once".into()));
                }
                seen_fuzzy = true;
                q.fuzzy_matching = if value.eq_ignore_ascii_case("true") {
                    true
                } else if value.eq_ignore_ascii_case("false") {
                    false
                } else {
                    return Err(err(
                        key,
                        format!("{:?} is neither \"true\" nor \"false\"", shorten(value)),
                    ));
                };
            }
            "accept" => {
                q.accept = Some(match q.accept.take() {
                    Some(prev) => format!("{prev}, {value}"),
                    None => value.clone(),
                });
            }
            "charset" => q.charset = Some(value.clone()),
            _ => {
                let Some(tag) = parse_attribute_id(key) else {
                    let reason = if key.contains('.') {
                        "matching on attributes inside sequences (A.B) is not supported".into()
                    } else {
                        "not a DICOM keyword (e.g. PatientName, case-sensitive) or 8-digit \
                         hexadecimal tag (e.g. 00100010), nor one of includefield, limit, \
                         offset, fuzzymatching"
                            .into()
                    };
                    return Err(err(key, reason));
                };
                if q.filters.iter().any(|(t, _)| *t == tag) {
                    return Err(err(
                        key,
                        format!(
                            "attribute {} given more than once; give several values as one \
                             list instead (UIDs separated by '\\' or ',')",
                            tag_hex(tag)
                        ),
                    ));
                }
                q.filters.push((tag, value.clone()));
            }
        }
    }
    Ok(q)
}

fn parse_count(value: &str) -> Result<usize, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{:?} is not a non-negative integer",
            shorten(value)
        ));
    }
    value
        .parse()
        .map_err(|_| format!("{:?} is too large", shorten(value)))
}

/// Whether a matching value is a universal match (PS3.4 C.2.2.2.3): empty (after removing
/// padding spaces) or only `*`. Such a filter selects every entity; the attribute is just
/// returned.
pub fn is_universal_match(value: &str) -> bool {
    value.trim_matches(' ').chars().all(|c| c == '*')
}

/// Converts a DICOM wildcard matching value (PS3.4 C.2.2.2.4: `*` any sequence, `?` one
/// character) to an SQL `LIKE` pattern: `*` → `%`, `?` → `_`, and literal `%`, `_` and `\`
/// escaped with `\`. Use it as `column LIKE ? ESCAPE '\'`. Returns `None` when the value has
/// no wildcard (use equality, or [`is_universal_match`] first for `*`).
///
/// ```
/// use voxide_dicomweb::qido::wildcard_to_sql_like;
/// assert_eq!(wildcard_to_sql_like("DOE^J*").as_deref(), Some("DOE^J%"));
/// assert_eq!(wildcard_to_sql_like("50%_?").as_deref(), Some("50\\%\\__"));
/// assert_eq!(wildcard_to_sql_like("DOE"), None);
/// ```
pub fn wildcard_to_sql_like(value: &str) -> Option<String> {
    if !value.contains(['*', '?']) {
        return None;
    }
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    Some(out)
}

/// Splits a UID list matching value (PS3.4 C.2.2.2.2) into UIDs: separated by `\` (the DICOM
/// value separator) or `,` (as PS3.18 query strings use; UIDs never contain either). Spaces
/// and NULs around UIDs are removed and empty items skipped.
pub fn split_uid_list(value: &str) -> Vec<&str> {
    value
        .split(['\\', ','])
        .map(|s| s.trim_matches([' ', '\0']))
        .filter(|s| !s.is_empty())
        .collect()
}

/// A calendar date from a DA value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, 0 to 9999.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month, 1 to 28–31.
    pub day: u8,
}

impl Date {
    /// Parses `YYYYMMDD` (or the ACR-NEMA form `YYYY.MM.DD`), checking that the date exists
    /// (leap years included). Surrounding spaces are ignored.
    pub fn parse(value: &str) -> Result<Date, DicomWebError> {
        parse_date(value.trim_matches(' ')).map_err(|reason| DicomWebError::InvalidDate {
            value: shorten(value),
            reason,
        })
    }

    /// The date as a DA value `YYYYMMDD` (sorts like the date, for text columns).
    pub fn to_da(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Date {
    /// Writes `YYYYMMDD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}{:02}{:02}", self.year, self.month, self.day)
    }
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_date(s: &str) -> Result<Date, String> {
    let b = s.as_bytes();
    let (y, m, d) = match b.len() {
        8 => (s.get(0..4), s.get(4..6), s.get(6..8)),
        10 if b.get(4) == Some(&b'.') && b.get(7) == Some(&b'.') => {
            (s.get(0..4), s.get(5..7), s.get(8..10))
        }
        _ => (None, None, None),
    };
    let (Some(year), Some(month), Some(day)) =
        (y.and_then(digits), m.and_then(digits), d.and_then(digits))
    else {
        return Err(format!("{:?} is not a date YYYYMMDD", shorten(s)));
    };
    if !(1..=12).contains(&month) {
        return Err(format!("month {month:02} of {s:?} does not exist"));
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=days).contains(&day) {
        return Err(format!("day {day:02} of {s:?} does not exist"));
    }
    // The three fields were checked above and fit their types.
    Ok(Date {
        year: u16::try_from(year).unwrap_or(0),
        month: u8::try_from(month).unwrap_or(0),
        day: u8::try_from(day).unwrap_or(0),
    })
}

/// Splits a range value on its single `-`: (start, end, whether it was a range).
fn split_range(s: &str) -> Result<(Option<&str>, Option<&str>), String> {
    let mut it = s.splitn(3, '-');
    let first = it.next().unwrap_or("");
    match (it.next(), it.next()) {
        (None, _) => Ok((Some(first), Some(first))),
        (Some(second), None) => {
            let start = (!first.is_empty()).then_some(first);
            let end = (!second.is_empty()).then_some(second);
            if start.is_none() && end.is_none() {
                return Err("a range needs a start, an end or both around '-'".into());
            }
            Ok((start, end))
        }
        (Some(_), Some(_)) => Err("a range has a single '-'".into()),
    }
}

/// A DA matching value (PS3.4 C.2.2.2.5): one date, or a range with an open or closed start
/// and end. Bounds are inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// First date matched, `None` for an open start (`-20201231`).
    pub start: Option<Date>,
    /// Last date matched, `None` for an open end (`20200101-`).
    pub end: Option<Date>,
}

impl DateRange {
    /// Parses `20200101` (that day only), `20200101-20201231`, `20200101-` or `-20201231`;
    /// the ACR-NEMA form `2020.01.01` is accepted for each date. Surrounding spaces are
    /// ignored. Errors (400): an impossible date, a malformed value, a lone `-`, a start after
    /// the end. Check [`is_universal_match`] first: an empty value is an error here.
    ///
    /// ```
    /// use voxide_dicomweb::qido::DateRange;
    /// let r = DateRange::parse("20200101-").unwrap();
    /// assert_eq!(r.start.unwrap().to_da(), "20200101");
    /// assert!(r.end.is_none());
    /// ```
    pub fn parse(value: &str) -> Result<DateRange, DicomWebError> {
        let err = |reason: String| DicomWebError::InvalidDate {
            value: shorten(value),
            reason,
        };
        let (start, end) = split_range(value.trim_matches(' ')).map_err(err)?;
        let start = start
            .map(|s| parse_date(s.trim_matches(' ')))
            .transpose()
            .map_err(err)?;
        let end = end
            .map(|s| parse_date(s.trim_matches(' ')))
            .transpose()
            .map_err(err)?;
        if let (Some(s), Some(e)) = (start, end) {
            if s > e {
                return Err(err(format!("the start {s} is after the end {e}")));
            }
        }
        Ok(DateRange { start, end })
    }

    /// Whether this is a single date rather than a range.
    pub fn is_single(&self) -> bool {
        self.start.is_some() && self.start == self.end
    }

    /// Whether `date` lies in the range (bounds inclusive).
    pub fn contains(&self, date: Date) -> bool {
        self.start.is_none_or(|s| s <= date) && self.end.is_none_or(|e| date <= e)
    }
}

/// A time of day from a TM value, with the precision it was given in (`10` means the whole
/// hour 10:00:00.000000–10:59:59.999999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Time {
    /// Hour, 0 to 23.
    pub hour: u8,
    /// Minute, 0 to 59, if given.
    pub minute: Option<u8>,
    /// Second, 0 to 60 (leap second), if given (only with a minute).
    pub second: Option<u8>,
    /// Fraction of a second, if given (only with a second): (microseconds, number of digits
    /// given, 1 to 6). `.5` is `(500_000, 1)`.
    pub fraction: Option<(u32, u8)>,
}

const MICROS_PER_SECOND: u64 = 1_000_000;

impl Time {
    /// Parses `HH`, `HHMM`, `HHMMSS` or `HHMMSS.F` to `HHMMSS.FFFFFF` (or the ACR-NEMA form
    /// `HH:MM[:SS[.F...]]`). Surrounding spaces are ignored.
    pub fn parse(value: &str) -> Result<Time, DicomWebError> {
        parse_time(value.trim_matches(' ')).map_err(|reason| DicomWebError::InvalidTime {
            value: shorten(value),
            reason,
        })
    }

    /// The first microsecond of the day the value denotes (`10` → 10:00:00.000000).
    pub fn first_micros(&self) -> u64 {
        let (frac, _) = self.fraction.unwrap_or((0, 6));
        (u64::from(self.hour) * 3600
            + u64::from(self.minute.unwrap_or(0)) * 60
            + u64::from(self.second.unwrap_or(0)))
            * MICROS_PER_SECOND
            + u64::from(frac)
    }

    /// The last microsecond of the day the value denotes (`10` → 10:59:59.999999,
    /// `101500.5` → 10:15:00.599999).
    pub fn last_micros(&self) -> u64 {
        let span = match (self.minute, self.second, self.fraction) {
            (None, _, _) => 3600 * MICROS_PER_SECOND,
            (Some(_), None, _) => 60 * MICROS_PER_SECOND,
            (Some(_), Some(_), None) => MICROS_PER_SECOND,
            (Some(_), Some(_), Some((_, digits))) => {
                10u64.pow(6u32.saturating_sub(u32::from(digits)))
            }
        };
        self.first_micros() + span - 1
    }
}

fn parse_time(s: &str) -> Result<Time, String> {
    let bad = || format!("{:?} is not a time HH[MM[SS[.FFFFFF]]]", shorten(s));
    let (main, frac) = match s.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (s, None),
    };
    // ACR-NEMA HH:MM:SS.
    let compact: String = if main.contains(':') {
        let fields: Vec<&str> = main.split(':').collect();
        if fields.len() > 3 || fields.iter().any(|f| f.len() != 2) {
            return Err(bad());
        }
        fields.concat()
    } else {
        main.to_string()
    };
    if !matches!(compact.len(), 2 | 4 | 6) || !compact.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let field = |range: std::ops::Range<usize>| {
        compact
            .get(range)
            .and_then(digits)
            .and_then(|v| u8::try_from(v).ok())
    };
    let hour = field(0..2).ok_or_else(bad)?;
    let minute = field(2..4);
    let second = field(4..6);
    if hour > 23 {
        return Err(format!("hour {hour:02} of {s:?} does not exist"));
    }
    if minute.is_some_and(|m| m > 59) {
        return Err(format!("minute of {s:?} does not exist"));
    }
    if second.is_some_and(|v| v > 60) {
        return Err(format!("second of {s:?} does not exist"));
    }
    let fraction = match frac {
        None => None,
        Some(f) => {
            if second.is_none() || f.is_empty() || f.len() > 6 {
                return Err(bad());
            }
            let v = digits(f).ok_or_else(bad)?;
            let scale = 10u32.pow(6u32.saturating_sub(f.len() as u32));
            Some((v * scale, f.len() as u8))
        }
    };
    Ok(Time {
        hour,
        minute,
        second,
        fraction,
    })
}

/// A TM matching value (PS3.4 C.2.2.2.5): one time or a range, bounds inclusive and widened
/// to the precision given (`10-11` is 10:00:00 to 11:59:59.999999).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Start, `None` for an open start (`-1200`).
    pub start: Option<Time>,
    /// End, `None` for an open end (`1200-`).
    pub end: Option<Time>,
}

/// The last microsecond a TM value can denote (23:59:60.999999).
pub const LAST_MICROS_OF_DAY: u64 = (24 * 3600 + 1) * MICROS_PER_SECOND - 1;

impl TimeRange {
    /// Parses `HHMMSS` (a single time), `HHMM-HHMMSS.FFF`, `HH-`, `-HHMM`, etc. Errors (400):
    /// an impossible time, a malformed value, a lone `-`, a start after the end (ranges over
    /// midnight are not defined by DICOM). Check [`is_universal_match`] first: an empty value
    /// is an error here.
    pub fn parse(value: &str) -> Result<TimeRange, DicomWebError> {
        let err = |reason: String| DicomWebError::InvalidTime {
            value: shorten(value),
            reason,
        };
        let (start, end) = split_range(value.trim_matches(' ')).map_err(err)?;
        let start = start
            .map(|s| parse_time(s.trim_matches(' ')))
            .transpose()
            .map_err(err)?;
        let end = end
            .map(|s| parse_time(s.trim_matches(' ')))
            .transpose()
            .map_err(err)?;
        if let (Some(s), Some(e)) = (start, end) {
            if s.first_micros() > e.last_micros() {
                return Err(err("the start is after the end".into()));
            }
        }
        Ok(TimeRange { start, end })
    }

    /// Inclusive bounds in microseconds since midnight: open ends become 0 and
    /// [`LAST_MICROS_OF_DAY`].
    pub fn bounds_micros(&self) -> (u64, u64) {
        (
            self.start.map_or(0, |t| t.first_micros()),
            self.end.map_or(LAST_MICROS_OF_DAY, |t| t.last_micros()),
        )
    }

    /// Whether a time (given as microseconds since midnight) lies in the range.
    pub fn contains_micros(&self, micros: u64) -> bool {
        let (lo, hi) = self.bounds_micros();
        (lo..=hi).contains(&micros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn query(p: &[(&str, &str)]) -> Result<QidoQuery, DicomWebError> {
        parse_qido_query(&pairs(p))
    }

    const PATIENT_NAME: u32 = 0x0010_0010;
    const STUDY_DATE: u32 = 0x0008_0020;
    const STUDY_UID: u32 = 0x0020_000D;
    const STUDY_DESCRIPTION: u32 = 0x0008_1030;

    #[test]
    fn keywords_and_tags() {
        assert_eq!(keyword_to_tag("PatientName"), Some(PATIENT_NAME));
        assert_eq!(keyword_to_tag("StudyInstanceUID"), Some(STUDY_UID));
        assert_eq!(keyword_to_tag("patientname"), None);
        assert_eq!(keyword_to_tag("NoSuchKeyword"), None);
        assert_eq!(keyword_to_tag(""), None);
        // Repeating group: no single tag.
        assert_eq!(keyword_to_tag("OverlayData"), None);
        assert_eq!(tag_to_keyword(STUDY_DATE), Some("StudyDate"));
        assert_eq!(tag_to_keyword(0x0009_1001), None);
        assert_eq!(parse_attribute_id("00100010"), Some(PATIENT_NAME));
        assert_eq!(parse_attribute_id("0020000d"), Some(STUDY_UID));
        assert_eq!(parse_attribute_id("0020000D"), Some(STUDY_UID));
        assert_eq!(parse_attribute_id("00091001"), Some(0x0009_1001));
        assert_eq!(parse_attribute_id("0010001"), None);
        assert_eq!(parse_attribute_id("0010,0010"), None);
        assert_eq!(parse_attribute_id("+0100010"), None);
        assert_eq!(tag_hex(STUDY_UID), "0020000D");
    }

    #[test]
    fn query_string_decoding() {
        assert_eq!(
            parse_query_string("?PatientName=DOE%5EJ*&&StudyDate=20200101-&x&a=b=c&n=J+D%20E"),
            pairs(&[
                ("PatientName", "DOE^J*"),
                ("StudyDate", "20200101-"),
                ("x", ""),
                ("a", "b=c"),
                ("n", "J D E"),
            ])
        );
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%C3%A9%2B"), "é+");
        assert_eq!(percent_decode("%ff"), "\u{FFFD}");
        assert_eq!(parse_query_string(""), vec![]);
    }

    #[test]
    fn full_query() {
        let q = QidoQuery::from_query_string(
            "PatientName=DOE*&StudyDate=20200101-&00080061=CT%5CMR&includefield=00081030,StudyDate\
             &includefield=NoSuchKeyword&includefield=00081030&limit=25&offset=50&fuzzymatching=true",
        )
        .unwrap();
        assert_eq!(
            q.filters,
            vec![
                (PATIENT_NAME, "DOE*".to_string()),
                (STUDY_DATE, "20200101-".to_string()),
                (0x0008_0061, "CT\\MR".to_string()),
            ]
        );
        assert_eq!(q.include_fields, vec![STUDY_DESCRIPTION, STUDY_DATE]);
        assert!(!q.include_all);
        assert_eq!(q.limit, Some(25));
        assert_eq!(q.offset, 50);
        assert!(q.fuzzy_matching);
        assert_eq!(q.filter(PATIENT_NAME), Some("DOE*"));
        assert_eq!(q.filter(STUDY_UID), None);
        assert!(q.includes(STUDY_DESCRIPTION));
        assert!(!q.includes(STUDY_UID));
        assert_eq!(
            QidoQuery::from_pairs(&parse_query_string("limit=25"))
                .unwrap()
                .limit,
            Some(25)
        );
    }

    #[test]
    fn defaults() {
        let q = query(&[]).unwrap();
        assert_eq!(q, QidoQuery::default());
        assert_eq!(
            (q.limit, q.offset, q.fuzzy_matching, q.include_all),
            (None, 0, false, false)
        );
    }

    #[test]
    fn includefield_all_and_unknowns() {
        let q = query(&[
            ("includefield", "all"),
            ("includefield", " , Bogus,PatientID "),
        ])
        .unwrap();
        assert!(q.include_all);
        assert_eq!(q.include_fields, vec![0x0010_0020]);
        assert!(q.includes(STUDY_UID));
        let q = query(&[(
            "INCLUDEFIELD",
            "ReferencedSeriesSequence.SeriesInstanceUID,ALL",
        )])
        .unwrap();
        assert!(q.include_all);
        assert!(q.include_fields.is_empty());
    }

    #[test]
    fn unknown_filters_are_errors() {
        let e = query(&[("PatientName", "x"), ("PatientNmae", "y")]).unwrap_err();
        assert!(matches!(&e, DicomWebError::InvalidQuery { key, .. } if key == "PatientNmae"));
        assert!(e.to_string().contains("\"PatientNmae\""), "{e}");
        assert_eq!(e.http_status(), 400);
        let e = query(&[("patientname", "x")]).unwrap_err();
        assert!(e.to_string().contains("case-sensitive"), "{e}");
        let e = query(&[("ReferencedSeriesSequence.Modality", "CT")]).unwrap_err();
        assert!(e.to_string().contains("sequences"), "{e}");
        let e = query(&[("PatientName", "A"), ("00100010", "B")]).unwrap_err();
        assert!(e.to_string().contains("more than once"), "{e}");
        // An empty filter value is a universal match, kept for the server.
        assert_eq!(
            query(&[("PatientName", "")]).unwrap().filters,
            vec![(PATIENT_NAME, String::new())]
        );
    }

    #[test]
    fn limit_offset_fuzzy() {
        let q = query(&[
            ("Limit", "0"),
            ("OFFSET", "007"),
            ("FuzzyMatching", "FALSE"),
        ])
        .unwrap();
        assert_eq!((q.limit, q.offset, q.fuzzy_matching), (Some(0), 7, false));
        for (k, v) in [
            ("limit", "-1"),
            ("limit", ""),
            ("limit", "abc"),
            ("limit", "+5"),
            ("limit", " 5"),
            ("limit", "1.5"),
            ("offset", "99999999999999999999999999"),
            ("offset", "-0"),
            ("fuzzymatching", "yes"),
            ("fuzzymatching", ""),
        ] {
            let e = query(&[(k, v)]).unwrap_err();
            assert!(
                matches!(&e, DicomWebError::InvalidQuery { key, .. } if key == k),
                "{k}={v}: {e}"
            );
        }
        assert!(query(&[("offset", "99999999999999999999999999")])
            .unwrap_err()
            .to_string()
            .contains("too large"));
        for k in ["limit", "offset", "fuzzymatching"] {
            let v = if k == "fuzzymatching" { "true" } else { "1" };
            let e = query(&[(k, v), (k, v)]).unwrap_err();
            assert!(e.to_string().contains("more than once"), "{k}: {e}");
        }
    }

    #[test]
    fn accept_and_charset_parameters() {
        let q = query(&[
            ("accept", "application/dicom+json"),
            ("accept", "*/*;q=0.1"),
            ("charset", "utf-8"),
        ])
        .unwrap();
        assert_eq!(
            q.accept.as_deref(),
            Some("application/dicom+json, */*;q=0.1")
        );
        assert_eq!(q.charset.as_deref(), Some("utf-8"));
        assert!(q.filters.is_empty());
    }

    fn date(y: u16, m: u8, d: u8) -> Date {
        Date {
            year: y,
            month: m,
            day: d,
        }
    }

    #[test]
    fn date_ranges() {
        let r = DateRange::parse("20200101").unwrap();
        assert_eq!(
            (r.start, r.end),
            (Some(date(2020, 1, 1)), Some(date(2020, 1, 1)))
        );
        assert!(r.is_single());
        let r = DateRange::parse("20200101-20201231").unwrap();
        assert_eq!(
            (r.start, r.end),
            (Some(date(2020, 1, 1)), Some(date(2020, 12, 31)))
        );
        assert!(!r.is_single());
        assert!(r.contains(date(2020, 6, 15)) && r.contains(date(2020, 12, 31)));
        assert!(!r.contains(date(2021, 1, 1)));
        let r = DateRange::parse("20200101-").unwrap();
        assert_eq!((r.start, r.end), (Some(date(2020, 1, 1)), None));
        assert!(r.contains(date(9999, 12, 31)) && !r.contains(date(2019, 12, 31)));
        let r = DateRange::parse("-20201231").unwrap();
        assert_eq!((r.start, r.end), (None, Some(date(2020, 12, 31))));
        let r = DateRange::parse(" 2020.01.01-2020.02.29 ").unwrap();
        assert_eq!(r.end.unwrap().to_da(), "20200229");
        assert_eq!(
            DateRange::parse("20200101-20200101").unwrap().start,
            Some(date(2020, 1, 1))
        );
        assert_eq!(Date::parse("20000229").unwrap(), date(2000, 2, 29));
        assert_eq!(date(2020, 3, 4).to_string(), "20200304");
    }

    #[test]
    fn invalid_dates() {
        for bad in [
            "",
            "-",
            "2020",
            "202001011",
            "2020-01-01",
            "20201301",
            "20200001",
            "20200100",
            "20200431",
            "20210229",
            "19000229",
            "2020010a",
            "20200101--20200102",
            "20201231-20200101",
            "2020/01/01",
            "+2020101",
            "２０２０0101",
        ] {
            let e = DateRange::parse(bad).expect_err(bad);
            assert!(matches!(e, DicomWebError::InvalidDate { .. }), "{bad}: {e}");
        }
        let e = DateRange::parse("20201231-20200101").unwrap_err();
        assert!(e.to_string().contains("after the end"), "{e}");
        assert!(Date::parse("20200230")
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
    }

    #[test]
    fn times() {
        let t = Time::parse("10").unwrap();
        assert_eq!(
            (t.hour, t.minute, t.second, t.fraction),
            (10, None, None, None)
        );
        assert_eq!(t.first_micros(), 36_000_000_000);
        assert_eq!(t.last_micros(), 39_599_999_999);
        let t = Time::parse("1015").unwrap();
        assert_eq!(
            (t.first_micros(), t.last_micros()),
            (36_900_000_000, 36_959_999_999)
        );
        let t = Time::parse("101530").unwrap();
        assert_eq!(t.last_micros() - t.first_micros(), 999_999);
        let t = Time::parse("101500.5").unwrap();
        assert_eq!(t.fraction, Some((500_000, 1)));
        assert_eq!(t.last_micros(), 36_900_599_999);
        let t = Time::parse("235960.123456").unwrap();
        assert_eq!(t.first_micros(), t.last_micros());
        assert_eq!(t.last_micros(), 86_400_123_456);
        assert_eq!(
            Time::parse("10:15:30.25").unwrap(),
            Time::parse("101530.25").unwrap()
        );
        assert_eq!(Time::parse("10:15").unwrap(), Time::parse("1015").unwrap());
    }

    #[test]
    fn time_ranges() {
        let r = TimeRange::parse("1000-1130").unwrap();
        assert_eq!(r.bounds_micros(), (36_000_000_000, 41_459_999_999));
        assert!(r.contains_micros(41_459_999_999) && !r.contains_micros(41_460_000_000));
        let r = TimeRange::parse("12-").unwrap();
        assert_eq!(r.bounds_micros(), (43_200_000_000, LAST_MICROS_OF_DAY));
        let r = TimeRange::parse("-0800").unwrap();
        assert_eq!(r.bounds_micros(), (0, 28_859_999_999));
        let r = TimeRange::parse("101530").unwrap();
        assert_eq!(r.start, r.end);
        // Same start and end at different precision.
        assert!(TimeRange::parse("10-1000").is_ok());
        for bad in [
            "",
            "-",
            "1",
            "24",
            "1060",
            "101061",
            "101",
            "10.5",
            "1015.5",
            "101530.",
            "101530.1234567",
            "101530.12a",
            "10:5",
            "10:15:30:00",
            "1200-1100",
            "10-11-12",
            "ab",
        ] {
            let e = TimeRange::parse(bad).expect_err(bad);
            assert!(matches!(e, DicomWebError::InvalidTime { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn wildcards() {
        assert_eq!(wildcard_to_sql_like("DOE*").as_deref(), Some("DOE%"));
        assert_eq!(wildcard_to_sql_like("D?E").as_deref(), Some("D_E"));
        assert_eq!(wildcard_to_sql_like("*").as_deref(), Some("%"));
        assert_eq!(
            wildcard_to_sql_like(r"100%_a\b*").as_deref(),
            Some(r"100\%\_a\\b%")
        );
        assert_eq!(wildcard_to_sql_like("Müller?").as_deref(), Some("Müller_"));
        assert_eq!(wildcard_to_sql_like("DOE^JOHN"), None);
        assert_eq!(wildcard_to_sql_like("50%"), None);
        assert_eq!(wildcard_to_sql_like(""), None);
    }

    #[test]
    fn universal_match() {
        for v in ["", "*", "**", "  ", " * "] {
            assert!(is_universal_match(v), "{v:?}");
        }
        for v in ["a*", "?", "*a", "\\"] {
            assert!(!is_universal_match(v), "{v:?}");
        }
    }

    #[test]
    fn uid_lists() {
        assert_eq!(split_uid_list("1.2.3"), vec!["1.2.3"]);
        assert_eq!(split_uid_list("1.2.3\\1.2.4"), vec!["1.2.3", "1.2.4"]);
        assert_eq!(
            split_uid_list("1.2.3,1.2.4\\\\ 1.2.5\0 "),
            vec!["1.2.3", "1.2.4", "1.2.5"]
        );
        assert!(split_uid_list("").is_empty());
        assert!(split_uid_list("\\").is_empty());
    }
}
