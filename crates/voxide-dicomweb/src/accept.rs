//! `Accept` header parsing (RFC 9110 §12.5.1) and content negotiation for DICOMweb.
//!
//! DICOMweb clients ask for e.g. `multipart/related; type="application/dicom";
//! transfer-syntax=*` (dicomweb-client), `multipart/related; type=application/octet-stream;
//! transfer-syntax=*` (OHIF) or `application/dicom+json`. [`parse_accept`] reads the header,
//! [`negotiate`] picks which of the server's representations ([`Offer`]s) to send and returns
//! the media range that selected it, whose `transfer-syntax` parameter
//! ([`MediaRange::transfer_syntax`]) tells the server whether and how to transcode.

use crate::error::shorten;
use crate::multipart::MediaType;
use crate::syntax::{self, find_param, quote_if_needed, Cursor};
use crate::DicomWebError;

/// A representation the server can produce, e.g.
/// `MediaType::new("multipart/related").with_param("type", "application/dicom")`.
/// Only its essence and its `type` parameter take part in matching.
pub type Offer = MediaType;

/// One element of an `Accept` header: a media range with its parameters and weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    /// `type/subtype`, `type/*` or `*/*`, lowercased.
    pub essence: String,
    /// Parameters other than `q`, in order: (lowercased name, unquoted value), e.g.
    /// `("type", "application/dicom")`, `("transfer-syntax", "*")`.
    pub params: Vec<(String, String)>,
    /// The weight in thousandths: `q=0.5` is 500, no `q` is 1000, `q=0` (not acceptable) is 0.
    pub quality: u16,
}

impl MediaRange {
    /// `*/*` with weight 1: what a missing or empty `Accept` header means.
    pub fn any() -> Self {
        MediaRange {
            essence: "*/*".into(),
            params: Vec::new(),
            quality: 1000,
        }
    }

    /// The value of the first parameter called `name` (case-insensitive), if any.
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }

    /// The DICOMweb `transfer-syntax` parameter (a UID or `*`), if any. It is not a matching
    /// criterion: the server decides from it whether to transcode.
    pub fn transfer_syntax(&self) -> Option<&str> {
        self.param("transfer-syntax")
    }

    /// The weight as a number between 0 and 1.
    pub fn q(&self) -> f32 {
        f32::from(self.quality) / 1000.0
    }

    /// How specific the range is: 0 for `*/*`, 1 for `type/*`, 2 for `type/subtype`, plus 1
    /// when it has a `type` parameter.
    pub fn specificity(&self) -> u8 {
        let base = if self.essence == "*/*" {
            0
        } else if self.essence.ends_with("/*") {
            1
        } else {
            2
        };
        base + u8::from(self.param("type").is_some())
    }

    /// Whether this range covers `offer`: `*/*` covers everything, `type/*` every subtype of
    /// `type`, otherwise the essences must be equal (case-insensitive). When the range has a
    /// `type` parameter, the offer must have an equal one (case-insensitive). Other
    /// parameters (`transfer-syntax`, `charset`, ...) are not compared. The weight is not
    /// considered here.
    pub fn matches(&self, offer: &Offer) -> bool {
        let essence_ok = if self.essence == "*/*" {
            true
        } else if let Some(ty) = self.essence.strip_suffix("/*") {
            offer.type_().eq_ignore_ascii_case(ty)
        } else {
            offer.essence.eq_ignore_ascii_case(&self.essence)
        };
        essence_ok
            && match self.param("type") {
                None => true,
                Some(ty) => offer
                    .param("type")
                    .is_some_and(|o| o.eq_ignore_ascii_case(ty)),
            }
    }
}

impl std::fmt::Display for MediaRange {
    /// Writes the range back as `type/subtype; name=value[; q=0.5]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.essence)?;
        for (name, value) in &self.params {
            write!(f, "; {name}={}", quote_if_needed(value))?;
        }
        match self.quality {
            1000.. => {}
            0 => f.write_str("; q=0")?,
            q => {
                let s = format!("{q:03}");
                write!(f, "; q=0.{}", s.trim_end_matches('0'))?;
            }
        }
        Ok(())
    }
}

/// Parses an `Accept` header value into its media ranges, in header order.
///
/// - A comma-separated list; empty elements are skipped, commas inside quoted strings do not
///   split. Whitespace around `,`, `;` and `=` is tolerated, and names and essences are
///   case-insensitive.
/// - Each element is `*/*`, `type/*` or `type/subtype`, with parameters (quoted or not);
///   `q` (0 to 1, at most three decimals) is taken out as [`MediaRange::quality`].
/// - A missing header (pass `""`) or one with no elements means `*/*`. Several `Accept` header
///   lines should be joined with `, ` first.
///
/// **Malformed input is an error, not skipped**: an element that is not a media range, a
/// malformed or repeated `q`, or `*/subtype` gives [`DicomWebError::InvalidAccept`] (400) naming
/// the element, so that a client learns why its request failed instead of silently getting
/// another representation or a 406.
pub fn parse_accept(header: &str) -> Result<Vec<MediaRange>, DicomWebError> {
    let mut cur = Cursor::new(header);
    let mut ranges = Vec::new();
    loop {
        while matches!(cur.peek(), Some(' ' | '\t' | ',')) {
            cur.bump();
        }
        if cur.peek().is_none() {
            break;
        }
        let start = cur.pos();
        let raw = syntax::parse_media(&mut cur, true).map_err(|reason| {
            let element = header.get(start..).unwrap_or("");
            let element = element.split(',').next().unwrap_or(element).trim();
            DicomWebError::InvalidAccept(format!("in {:?}: {reason}", shorten(element)))
        })?;
        let element = header.get(start..cur.pos()).unwrap_or("").trim();
        let err = |reason: String| {
            DicomWebError::InvalidAccept(format!("in {:?}: {reason}", shorten(element)))
        };
        if raw.type_ == "*" && raw.subtype != "*" {
            return Err(err(format!(
                "\"*/{}\" is not a media range; use \"*/*\" or \"type/*\"",
                raw.subtype
            )));
        }
        let mut quality = None;
        let mut params = Vec::with_capacity(raw.params.len());
        for (name, value) in raw.params {
            if name == "q" {
                if quality.is_some() {
                    return Err(err("\"q\" is given more than once".into()));
                }
                quality = Some(parse_qvalue(&value).ok_or_else(|| {
                    err(format!(
                        "q={value:?} is not a weight between 0 and 1 with at most three \
                         decimals"
                    ))
                })?);
            } else {
                params.push((name, value));
            }
        }
        ranges.push(MediaRange {
            essence: format!("{}/{}", raw.type_, raw.subtype),
            params,
            quality: quality.unwrap_or(1000),
        });
    }
    if ranges.is_empty() {
        ranges.push(MediaRange::any());
    }
    Ok(ranges)
}

/// RFC 9110 `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_qvalue(s: &str) -> Option<u16> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (k, b) in frac.bytes().enumerate() {
        let scale = [100, 10, 1].get(k).copied().unwrap_or(0);
        thousandths += u16::from(b - b'0') * scale;
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Picks the offer to send.
///
/// For each offer, the most specific matching range decides its weight (RFC 9110: so
/// `image/*;q=0.5, image/jpeg;q=0` refuses JPEG); among equally specific matching ranges the
/// highest weight wins. An offer whose weight is 0 is not acceptable. The chosen offer has the
/// highest weight; ties go to the offer whose deciding range is more specific, then to the
/// earlier offer (so list offers in the server's order of preference).
///
/// Returns the index of the chosen offer and the range that selected it (read its
/// [`MediaRange::transfer_syntax`]), or `None` when nothing is acceptable (answer 406).
pub fn negotiate<'r>(
    accept: &'r [MediaRange],
    offers: &[Offer],
) -> Option<(usize, &'r MediaRange)> {
    let mut best: Option<(usize, &MediaRange)> = None;
    for (index, offer) in offers.iter().enumerate() {
        let mut deciding: Option<&MediaRange> = None;
        for range in accept.iter().filter(|r| r.matches(offer)) {
            let better = deciding.is_none_or(|d| {
                (range.specificity(), range.quality) > (d.specificity(), d.quality)
            });
            if better {
                deciding = Some(range);
            }
        }
        let Some(range) = deciding else { continue };
        if range.quality == 0 {
            continue;
        }
        let better = best.is_none_or(|(_, b)| {
            (range.quality, range.specificity()) > (b.quality, b.specificity())
        });
        if better {
            best = Some((index, range));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(s: &str) -> Vec<MediaRange> {
        parse_accept(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn related(ty: &str) -> Offer {
        MediaType::new("multipart/related").with_param("type", ty)
    }

    fn pick(header: &str, offers: &[Offer]) -> Option<(usize, Option<String>)> {
        let ranges = accept(header);
        negotiate(&ranges, offers).map(|(i, r)| (i, r.transfer_syntax().map(str::to_string)))
    }

    #[test]
    fn ohif_retrieve() {
        let r = accept("multipart/related; type=application/octet-stream; transfer-syntax=*");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].essence, "multipart/related");
        assert_eq!(r[0].param("type"), Some("application/octet-stream"));
        assert_eq!(r[0].transfer_syntax(), Some("*"));
        assert_eq!(r[0].quality, 1000);
        let offers = [
            related("application/dicom"),
            related("application/octet-stream"),
        ];
        let (i, range) = negotiate(&r, &offers).unwrap();
        assert_eq!(i, 1);
        assert_eq!(range.transfer_syntax(), Some("*"));
    }

    #[test]
    fn dicomweb_client_retrieve() {
        let offers = [
            related("application/octet-stream"),
            related("application/dicom"),
        ];
        assert_eq!(
            pick(
                "multipart/related; type=\"application/dicom\"; transfer-syntax=*",
                &offers
            ),
            Some((1, Some("*".into())))
        );
        assert_eq!(
            pick(
                "multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.1",
                &offers
            ),
            Some((1, Some("1.2.840.10008.1.2.1".into())))
        );
    }

    #[test]
    fn json_or_xml_metadata() {
        let header = "application/dicom+json, multipart/related; type=\"application/dicom+xml\"";
        let r = accept(header);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].param("type"), Some("application/dicom+xml"));
        let json = MediaType::new("application/dicom+json");
        let xml = related("application/dicom+xml");
        assert_eq!(pick(header, &[xml.clone(), json.clone()]), Some((0, None)));
        // Equal weights: the range with a `type` parameter is more specific.
        assert_eq!(pick(header, &[json.clone(), xml]), Some((1, None)));
        assert_eq!(pick(header, std::slice::from_ref(&json)), Some((0, None)));
        // A related range with another type does not cover the XML offer.
        assert_eq!(
            pick(
                "multipart/related; type=\"application/dicom\"",
                &[related("application/dicom+xml")]
            ),
            None
        );
        // A range with a type parameter does not cover an offer without one.
        assert_eq!(
            pick(
                "multipart/related; type=\"application/dicom\"",
                &[MediaType::new("multipart/related")]
            ),
            None
        );
        // A range without a type parameter covers every type.
        assert_eq!(
            pick("multipart/related", &[related("application/dicom+xml")]),
            Some((0, None))
        );
    }

    #[test]
    fn weights_and_wildcards() {
        let png = MediaType::new("image/png");
        let jpeg = MediaType::new("image/jpeg");
        assert_eq!(
            pick("*/*;q=0.1, image/png", &[jpeg.clone(), png.clone()]),
            Some((1, None))
        );
        assert_eq!(
            pick("*/*;q=0.1, image/png", std::slice::from_ref(&jpeg)),
            Some((0, None))
        );
        let r = accept("*/*;q=0.1, image/png");
        assert_eq!(
            negotiate(&r, std::slice::from_ref(&jpeg))
                .unwrap()
                .1
                .quality,
            100
        );
        assert_eq!(pick("image/jpeg;q=0", std::slice::from_ref(&jpeg)), None);
        assert_eq!(
            pick(
                "image/jpeg;q=0, image/png;q=0.001",
                &[jpeg.clone(), png.clone()]
            ),
            Some((1, None))
        );
        // The most specific range decides, even with a lower weight.
        assert_eq!(
            pick(
                "image/*;q=0.5, image/jpeg;q=0",
                &[jpeg.clone(), png.clone()]
            ),
            Some((1, None))
        );
        assert_eq!(
            pick("*/*, image/jpeg;q=0.2", &[jpeg.clone(), png.clone()]),
            Some((1, None))
        );
        // Equal weights: the more specific range, then offer order.
        assert_eq!(
            pick("image/*, image/png", &[jpeg.clone(), png.clone()]),
            Some((1, None))
        );
        assert_eq!(
            pick("image/*", &[jpeg.clone(), png.clone()]),
            Some((0, None))
        );
        assert_eq!(
            pick("image/*", &[png.clone(), jpeg.clone()]),
            Some((0, None))
        );
        // No match at all.
        assert_eq!(pick("text/html", std::slice::from_ref(&jpeg)), None);
        assert_eq!(negotiate(&accept("*/*"), &[]), None);
    }

    #[test]
    fn missing_or_empty_header_is_anything() {
        for h in ["", "   ", " , ,,"] {
            assert_eq!(accept(h), vec![MediaRange::any()]);
        }
        assert_eq!(
            pick("", &[MediaType::new("application/dicom+json")]),
            Some((0, None))
        );
    }

    #[test]
    fn whitespace_and_casing() {
        let r = accept(
            " Multipart/Related ;Type=\"Application/DICOM\" ; Transfer-Syntax = * ;Q=0.9 ,\tAPPLICATION/DICOM+JSON;q=0.5 , ",
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].essence, "multipart/related");
        assert_eq!(r[0].param("type"), Some("Application/DICOM"));
        assert_eq!(r[0].transfer_syntax(), Some("*"));
        assert_eq!(r[0].quality, 900);
        assert_eq!(r[1].essence, "application/dicom+json");
        assert_eq!(r[1].quality, 500);
        let offers = [
            MediaType::new("application/dicom+json"),
            related("application/dicom"),
        ];
        let (i, range) = negotiate(&r, &offers).unwrap();
        assert_eq!((i, range.quality), (1, 900));
    }

    #[test]
    fn commas_inside_quotes_do_not_split() {
        let r = accept("a/b; x=\"1, 2\"; y=\"\\\"\", c/d");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].param("x"), Some("1, 2"));
        assert_eq!(r[0].param("y"), Some("\""));
        assert_eq!(r[1].essence, "c/d");
    }

    #[test]
    fn q_values() {
        let q = |s: &str| accept(&format!("a/b;q={s}"))[0].quality;
        assert_eq!(q("1"), 1000);
        assert_eq!(q("1."), 1000);
        assert_eq!(q("1.000"), 1000);
        assert_eq!(q("0"), 0);
        assert_eq!(q("0.5"), 500);
        assert_eq!(q("0.05"), 50);
        assert_eq!(q("0.125"), 125);
        assert_eq!(q("\"0.3\""), 300);
        assert!((accept("a/b;q=0.25")[0].q() - 0.25).abs() < 1e-6);
        for bad in ["1.001", "0.1234", "2", "-0.5", ".5", "abc", "01", "0.5x"] {
            let e = parse_accept(&format!("a/b;q={bad}, c/d")).unwrap_err();
            assert!(matches!(e, DicomWebError::InvalidAccept(_)), "{bad}: {e}");
            assert!(e.to_string().contains("q="), "{bad}: {e}");
        }
        assert!(parse_accept("a/b;q=0,5").is_err());
        let e = parse_accept("a/b;q=0.5;q=1").unwrap_err();
        assert!(e.to_string().contains("more than once"), "{e}");
    }

    #[test]
    fn malformed_entries_are_errors() {
        for bad in [
            "text",
            "*/json",
            "a/b, text",
            "a/b; x",
            "a/b; x=\"open",
            "a/b junk",
            "/b",
            "a/b;q=",
        ] {
            let e = parse_accept(bad).expect_err(bad);
            assert!(matches!(e, DicomWebError::InvalidAccept(_)), "{bad}: {e}");
            assert_eq!(e.http_status(), 400);
        }
        let e = parse_accept("application/dicom+json, */json").unwrap_err();
        assert!(e.to_string().contains("*/json"), "{e}");
    }

    #[test]
    fn parameters_kept_and_specificity() {
        let r = accept("*/*, image/*, image/png, multipart/related;type=a/b;charset=utf-8");
        assert_eq!(
            r.iter().map(MediaRange::specificity).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert_eq!(r[3].param("charset"), Some("utf-8"));
        // Only `type` is a matching criterion.
        assert!(r[3].matches(&related("A/B")));
    }

    #[test]
    fn display_round_trips() {
        for h in [
            "multipart/related; type=\"application/dicom\"; transfer-syntax=*; q=0.5",
            "*/*; q=0",
            "image/png; q=0.125",
            "text/plain; x=\"a, b\"",
        ] {
            let r = accept(h);
            assert_eq!(r[0].to_string(), h);
            assert_eq!(accept(&r[0].to_string()), r);
        }
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let alphabet = [
            'a', '/', '*', ';', '=', '"', '\\', ',', ' ', 'q', '0', '.', '1', 'é',
        ];
        let mut seed: u64 = 3;
        for _ in 0..20_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 59) as usize + 1;
            let s: String = (0..len)
                .map(|k| {
                    let x = seed.rotate_left(5 * k as u32) >> 40;
                    alphabet[x as usize % alphabet.len()]
                })
                .collect();
            if let Ok(r) = parse_accept(&s) {
                let _ = negotiate(&r, &[related("a/a"), MediaType::new("a/a")]);
            }
        }
    }
}
