//! Keyed, reproducible replacements: UIDs, identifiers and per-patient date offsets.
//!
//! Every replacement is an HMAC-SHA-256 of the original under the deployment's secret key, with a
//! domain label so that a UID, an identifier and a date offset of the same text never coincide.
//! The same input and key give the same output in every run, so the series and studies of one
//! patient stay linked across exports; without the key the originals cannot be recovered or
//! confirmed by guessing.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use voxide_dicom::{civil_from_days, days_from_civil};

/// The secret key of a de-identification deployment.
#[derive(Clone)]
pub struct DeidKey(Vec<u8>);

impl std::fmt::Debug for DeidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeidKey(..)")
    }
}

/// Smallest key accepted, in bytes: shorter keys could be found by brute force.
pub const MIN_KEY_BYTES: usize = 16;

impl DeidKey {
    /// A key from raw bytes; at least [`MIN_KEY_BYTES`].
    pub fn new(bytes: &[u8]) -> Result<DeidKey, crate::DeidError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(crate::DeidError::Key(format!(
                "the key has {} bytes; at least {MIN_KEY_BYTES} are needed",
                bytes.len()
            )));
        }
        Ok(DeidKey(bytes.to_vec()))
    }

    /// A key from its text form: hexadecimal digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<DeidKey, crate::DeidError> {
        let bytes = hex::decode(text.trim())
            .map_err(|e| crate::DeidError::Key(format!("the key is not hexadecimal ({e})")))?;
        DeidKey::new(&bytes)
    }

    fn mac(&self, domain: &str, value: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The replacement of a UID: `2.25.` and a 128-bit number in UUID version 8 layout (RFC
    /// 9562), as PS3.5 B.2 allows for UIDs derived from UUIDs.
    pub fn uid(&self, original: &str) -> String {
        let digest = self.mac("uid", original.trim_end_matches(['\0', ' ']));
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        bytes[6] = (bytes[6] & 0x0F) | 0x80; // version 8
        bytes[8] = (bytes[8] & 0x3F) | 0x80; // RFC 9562 variant
        format!("2.25.{}", u128::from_be_bytes(bytes))
    }

    /// A pseudonym of an identifier: `VX` and hexadecimal digits, `len` characters in all.
    pub fn identifier(&self, original: &str, len: usize) -> String {
        let digest = hex::encode(self.mac("id", original.trim()));
        let len = len.clamp(4, 2 + digest.len());
        format!("VX{}", &digest[..len - 2]).to_uppercase()
    }

    /// The number of days a patient's dates move: between 1 and 10 years back, fixed for the
    /// patient (keyed by Patient ID) so intervals between their studies are kept.
    pub fn date_offset_days(&self, patient_id: &str) -> i64 {
        let digest = self.mac("date-offset", patient_id.trim());
        let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        -(365 + (n % (3653 - 365)) as i64)
    }
}

/// Shifts the date at the start of `value` (`YYYY`, `YYYYMM` or `YYYYMMDD`, then anything: a
/// DT's time and offset) by `days`, keeping its precision. `None` when it is not a date.
pub fn shift_date(value: &str, days: i64) -> Option<String> {
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let precision = match digits {
        4 | 6 => digits,
        d if d >= 8 => 8,
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| value[r].parse::<i64>().ok();
    let y = num(0..4)?;
    let m = if precision >= 6 { num(4..6)? } else { 7 };
    let d = if precision >= 8 { num(6..8)? } else { 15 };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let (y, m, d) = civil_from_days(days_from_civil(y, m, d) + days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    let date = format!("{y:04}{m:02}{d:02}");
    Some(format!("{}{}", &date[..precision], &value[precision..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_shift_across_months_and_leap_years() {
        assert_eq!(shift_date("20240301", -1).as_deref(), Some("20240229"));
        assert_eq!(shift_date("20230301", -1).as_deref(), Some("20230228"));
        assert_eq!(shift_date("20000101", -365).as_deref(), Some("19990101"));
        assert_eq!(
            shift_date("20100615123000.5+0100", -10).as_deref(),
            Some("20100605123000.5+0100")
        );
        assert_eq!(shift_date("201006", -31).as_deref(), Some("201005"));
        assert_eq!(shift_date("2010", -400).as_deref(), Some("2009"));
        assert_eq!(shift_date("20101301", 1), None);
        assert_eq!(shift_date("abc", 1), None);
    }

    #[test]
    fn replacements_are_keyed_and_reproducible() {
        let a = DeidKey::new(&[1; 32]).unwrap();
        let b = DeidKey::new(&[2; 32]).unwrap();
        let uid = "1.2.826.0.1.3680043.2.1125.1.1";
        assert_eq!(a.uid(uid), a.uid(uid));
        assert_ne!(a.uid(uid), b.uid(uid));
        assert_ne!(a.uid(uid), a.uid("1.2.3"));
        assert!(a.uid(uid).starts_with("2.25.") && a.uid(uid).len() <= 64);
        assert_eq!(a.identifier("PAT1", 16).len(), 16);
        let offset = a.date_offset_days("PAT1");
        assert!((-3652..=-365).contains(&offset), "{offset}");
        assert_eq!(offset, a.date_offset_days("PAT1"));
        assert!(DeidKey::new(&[0; 8]).is_err());
        assert!(DeidKey::from_hex("zz").is_err());
    }
}
