//! `Content-Type` values and `multipart/related` bodies (RFC 9110, RFC 2046, RFC 2387).
//!
//! STOW-RS receives `multipart/related; type="application/dicom"; boundary=...` bodies; read
//! them with [`parse_content_type`], [`MediaType::related_boundary`] and [`parse_related`].
//! WADO-RS answers with such bodies; write them with [`RelatedWriter`] and announce them with
//! [`related_content_type`].

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use memchr::memmem;

use crate::error::shorten;
use crate::syntax::{self, find_param, quote, quote_if_needed, Cursor};
use crate::DicomWebError;

/// Longest boundary RFC 2046 allows.
pub const MAX_BOUNDARY_LEN: usize = 70;

/// A parsed media type such as `multipart/related; type="application/dicom"; boundary=abc`.
///
/// `essence` is `type/subtype` lowercased; parameter names are lowercased, values are kept as
/// sent (with quoted strings unquoted and unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// `type/subtype`, lowercased, e.g. `"multipart/related"`.
    pub essence: String,
    /// Parameters in order of appearance: (lowercased name, value).
    pub params: Vec<(String, String)>,
}

impl MediaType {
    /// A media type without parameters; `essence` (`type/subtype`) is lowercased, not checked.
    pub fn new(essence: &str) -> Self {
        MediaType {
            essence: essence.to_ascii_lowercase(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter (name lowercased), builder style:
    /// `MediaType::new("multipart/related").with_param("type", "application/dicom")`.
    pub fn with_param(mut self, name: &str, value: &str) -> Self {
        self.params
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// The value of the first parameter called `name` (case-insensitive), if any.
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }

    /// The top-level type, e.g. `"multipart"`.
    pub fn type_(&self) -> &str {
        self.essence.split('/').next().unwrap_or("")
    }

    /// The subtype, e.g. `"related"`.
    pub fn subtype(&self) -> &str {
        self.essence.split_once('/').map_or("", |(_, s)| s)
    }

    /// The `boundary` parameter, if any (not validated; see [`Self::related_boundary`]).
    pub fn boundary(&self) -> Option<&str> {
        self.param("boundary")
    }

    /// For a STOW-RS request: checks that this is `multipart/related` with a valid `boundary`
    /// parameter and returns the boundary. Errors (415) name what is missing.
    pub fn related_boundary(&self) -> Result<&str, DicomWebError> {
        if self.essence != "multipart/related" {
            return Err(DicomWebError::InvalidMediaType {
                input: shorten(&self.to_string()),
                reason: "expected multipart/related".into(),
            });
        }
        let boundary = self
            .boundary()
            .ok_or_else(|| DicomWebError::InvalidMediaType {
                input: shorten(&self.to_string()),
                reason: "multipart/related without a boundary parameter".into(),
            })?;
        validate_boundary(boundary)?;
        Ok(boundary)
    }
}

impl fmt::Display for MediaType {
    /// Writes `type/subtype; name=value`, quoting values that are not tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.essence)?;
        for (name, value) in &self.params {
            write!(f, "; {name}={}", quote_if_needed(value))?;
        }
        Ok(())
    }
}

/// Parses a `Content-Type` header value (RFC 9110 §8.3.1): `type/subtype` followed by
/// `; name=value` parameters, values either tokens or quoted strings (backslash escapes are
/// undone). Whitespace around `;` and `=` is tolerated, and so are unquoted values holding
/// `/` (`type=application/dicom`, as some clients send).
///
/// ```
/// let mt = voxide_dicomweb::multipart::parse_content_type(
///     "Multipart/Related; type=\"application/dicom\"; boundary = abc",
/// )
/// .unwrap();
/// assert_eq!(mt.essence, "multipart/related");
/// assert_eq!(mt.param("TYPE"), Some("application/dicom"));
/// assert_eq!(mt.boundary(), Some("abc"));
/// ```
pub fn parse_content_type(header: &str) -> Result<MediaType, DicomWebError> {
    let mut cur = Cursor::new(header);
    let raw =
        syntax::parse_media(&mut cur, false).map_err(|reason| DicomWebError::InvalidMediaType {
            input: shorten(header),
            reason,
        })?;
    Ok(MediaType {
        essence: format!("{}/{}", raw.type_, raw.subtype),
        params: raw.params,
    })
}

/// Checks a multipart boundary: 1 to 70 characters (RFC 2046 §5.1.1), printable ASCII, not
/// ending in a space. (RFC 2046 allows a narrower set of characters; any visible ASCII
/// character is accepted here for interoperability.)
pub fn validate_boundary(boundary: &str) -> Result<(), DicomWebError> {
    let err = |reason: &str| DicomWebError::InvalidBoundary {
        boundary: shorten(boundary),
        reason: reason.into(),
    };
    if boundary.is_empty() {
        return Err(err("the boundary is empty"));
    }
    if boundary.len() > MAX_BOUNDARY_LEN {
        return Err(err("the boundary is longer than 70 characters (RFC 2046)"));
    }
    if !boundary.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return Err(err(
            "the boundary may only hold printable ASCII characters (RFC 2046)",
        ));
    }
    if boundary.ends_with(' ') {
        return Err(err("the boundary must not end with a space (RFC 2046)"));
    }
    Ok(())
}

/// One body part of a multipart body, borrowing its bytes from the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// Headers in order: (lowercased name, value with surrounding whitespace removed). Folded
    /// continuation lines are joined with a space; bytes that are not UTF-8 are replaced by
    /// U+FFFD.
    pub headers: Vec<(String, String)>,
    /// The part body, byte for byte as sent (the CRLF before the next delimiter excluded).
    pub body: &'a [u8],
    /// Where [`Self::body`] lies in the input slice, to take a zero-copy slice of a shared
    /// buffer (e.g. `bytes.slice(part.body_range.clone())`).
    pub body_range: Range<usize>,
}

impl Part<'_> {
    /// The value of the first header called `name` (case-insensitive), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_param(&self.headers, name)
    }

    /// The part's `Content-Type` header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// The part's `Content-Type` parsed; `None` when the header is absent.
    pub fn media_type(&self) -> Option<Result<MediaType, DicomWebError>> {
        self.content_type().map(parse_content_type)
    }

    /// The part's `Content-Location` header, if any.
    pub fn content_location(&self) -> Option<&str> {
        self.header("content-location")
    }

    /// The part's `Content-Transfer-Encoding` header, if any (DICOMweb parts are `binary`;
    /// anything else is for the server to reject).
    pub fn content_transfer_encoding(&self) -> Option<&str> {
        self.header("content-transfer-encoding")
    }
}

/// What follows a `--boundary` occurrence.
enum After {
    /// A delimiter line; the next part starts at this index.
    Line(usize),
    /// The close delimiter `--boundary--`.
    Close,
    /// The body ends inside what could still become a delimiter.
    Incomplete,
    /// Not a delimiter (e.g. `--boundaryX`): the bytes belong to a part body.
    NotDelimiter,
}

/// Classifies the bytes from `i`, right after a `--boundary` occurrence: `--` closes; optional
/// transport padding (spaces, tabs) then CRLF or bare LF ends a delimiter line.
fn after_delimiter(body: &[u8], i: usize) -> After {
    let rest = body.get(i..).unwrap_or(&[]);
    if rest.starts_with(b"--") {
        return After::Close;
    }
    if rest == b"-" {
        return After::Incomplete;
    }
    let pad = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    match (rest.get(pad), rest.get(pad + 1)) {
        (None, _) | (Some(b'\r'), None) => After::Incomplete,
        (Some(b'\n'), _) => After::Line(i + pad + 1),
        (Some(b'\r'), Some(b'\n')) => After::Line(i + pad + 2),
        _ => After::NotDelimiter,
    }
}

/// A delimiter found by [`find_delimiter`].
enum Found {
    /// Delimiter (`\n` at `nl`) whose line ends before `next`.
    Line { nl: usize, next: usize },
    /// Close delimiter with its `\n` at `nl`.
    Close { nl: usize },
    /// The body ends inside what could still become a delimiter.
    Incomplete,
    /// No delimiter before the end of the body.
    Missing,
}

/// Finds the next `\n--boundary` at or after `from` that really is a delimiter.
fn find_delimiter(body: &[u8], from: usize, finder: &memmem::Finder<'_>) -> Found {
    let mut from = from;
    loop {
        let Some(rel) = body.get(from..).and_then(|hay| finder.find(hay)) else {
            return Found::Missing;
        };
        let nl = from + rel;
        match after_delimiter(body, nl + finder.needle().len()) {
            After::Line(next) => return Found::Line { nl, next },
            After::Close => return Found::Close { nl },
            After::Incomplete => return Found::Incomplete,
            After::NotDelimiter => from = nl + 1,
        }
    }
}

/// Splits a `multipart/related` body (RFC 2046 §5.1, RFC 2387) into its parts.
///
/// - A preamble before the first delimiter and an epilogue after the close delimiter
///   `--boundary--` are ignored.
/// - Delimiter lines may carry transport padding (spaces, tabs) before their line break, and
///   line breaks may be CRLF or bare LF. The line break before a delimiter belongs to the
///   delimiter, so part bodies are returned byte for byte as sent (with bare-LF framing, a
///   body's own final CR is indistinguishable from framing and is dropped).
/// - `--boundary` inside a body is taken for a delimiter only when it starts a line and is
///   followed by `--`, or by optional padding and a line break.
/// - Part headers are `Name: value` lines ended by a blank line; header names are matched
///   case-insensitively ([`Part::header`]). A part without headers (blank line right after the
///   delimiter) is allowed, as is a part of headers only with no blank line and no body.
/// - A body without any part (`--boundary--` alone) gives an empty list.
///
/// Errors: [`DicomWebError::InvalidBoundary`] for an empty, too long (> 70) or non-ASCII
/// boundary; [`DicomWebError::Truncated`] when the body ends before the close delimiter
/// (incomplete upload, including an empty body); [`DicomWebError::MalformedMultipart`] when no
/// opening delimiter is found (wrong boundary) or a part's headers are not ended by a blank
/// line.
///
/// The search uses `memchr::memmem`, so it runs at memory speed on large uploads; it never
/// copies part bodies.
pub fn parse_related<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, DicomWebError> {
    validate_boundary(boundary)?;
    let needle = format!("\n--{boundary}");
    let finder = memmem::Finder::new(needle.as_bytes());
    let dash_boundary = needle.as_bytes().get(1..).unwrap_or(&[]);
    let truncated = |complete_parts| DicomWebError::Truncated {
        boundary: shorten(boundary),
        complete_parts,
    };

    // The opening delimiter: at the very start, or after the preamble on a line of its own.
    let opening = if body.starts_with(dash_boundary) {
        match after_delimiter(body, dash_boundary.len()) {
            After::Line(next) => Found::Line { nl: 0, next },
            After::Close => Found::Close { nl: 0 },
            After::Incomplete => Found::Incomplete,
            After::NotDelimiter => find_delimiter(body, 0, &finder),
        }
    } else {
        find_delimiter(body, 0, &finder)
    };
    let mut start = match opening {
        Found::Line { next, .. } => next,
        Found::Close { .. } => return Ok(Vec::new()),
        Found::Incomplete => return Err(truncated(0)),
        Found::Missing => {
            // An empty body, or one cut inside the opening delimiter, is an incomplete upload.
            if dash_boundary.starts_with(body.trim_ascii_start()) {
                return Err(truncated(0));
            }
            return Err(DicomWebError::MalformedMultipart(format!(
                "no opening delimiter \"--{}\" found; does the boundary parameter of the \
                 Content-Type header match the body?",
                shorten(boundary)
            )));
        }
    };

    let mut parts = Vec::new();
    loop {
        // The line break ending the previous delimiter line may also open the next
        // delimiter: that is an empty part.
        let from = start.saturating_sub(1);
        let (nl, next) = match find_delimiter(body, from, &finder) {
            Found::Line { nl, next } => (nl, Some(next)),
            Found::Close { nl } => (nl, None),
            Found::Incomplete | Found::Missing => return Err(truncated(parts.len())),
        };
        let mut end = nl.max(start);
        if end > start && body.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        parts.push(parse_part(body, start..end, parts.len() + 1)?);
        match next {
            Some(next) => start = next,
            None => return Ok(parts),
        }
    }
}

/// Parses the headers of the part occupying `range` of `body`; `number` (1-based) is for
/// error messages.
fn parse_part(body: &[u8], range: Range<usize>, number: usize) -> Result<Part<'_>, DicomWebError> {
    let content = body.get(range.clone()).unwrap_or(&[]);
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    loop {
        let rest = content.get(i..).unwrap_or(&[]);
        if rest.is_empty() {
            // Headers only (or nothing at all): the part has no body.
            let at = range.end;
            return Ok(Part {
                headers,
                body: &[],
                body_range: at..at,
            });
        }
        let Some(len) = memchr::memchr(b'\n', rest) else {
            return Err(no_blank_line(number, rest));
        };
        let raw_line = rest.get(..len).unwrap_or(&[]);
        let line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        i += len + 1;
        if line.is_empty() {
            let start = (range.start + i).min(range.end);
            return Ok(Part {
                headers,
                body: body.get(start..range.end).unwrap_or(&[]),
                body_range: start..range.end,
            });
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some((_, value)) = headers.last_mut() {
                // Obsolete line folding (RFC 5322 §2.2.3): a continuation of the last header.
                let more = String::from_utf8_lossy(line.trim_ascii());
                if !more.is_empty() {
                    if !value.is_empty() {
                        value.push(' ');
                    }
                    value.push_str(&more);
                }
                continue;
            }
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            return Err(no_blank_line(number, line));
        };
        // Whitespace before the colon is not allowed by RFC 9110 but tolerated.
        let name = line.get(..colon).unwrap_or(&[]).trim_ascii_end();
        let value = line.get(colon + 1..).unwrap_or(&[]);
        if name.is_empty()
            || !name
                .iter()
                .all(|&b| b.is_ascii() && syntax::is_tchar(b as char))
        {
            return Err(no_blank_line(number, line));
        }
        headers.push((
            String::from_utf8_lossy(name).to_ascii_lowercase(),
            String::from_utf8_lossy(value.trim_ascii()).into_owned(),
        ));
    }
}

fn no_blank_line(number: usize, line: &[u8]) -> DicomWebError {
    let shown = line.get(..60).unwrap_or(line);
    DicomWebError::MalformedMultipart(format!(
        "part {number}: expected a \"Name: value\" header line or the blank line that ends \
         the headers, found {:?}; part headers must be followed by a blank line (CRLF CRLF)",
        String::from_utf8_lossy(shown)
    ))
}

/// Writes a `multipart/related` body piece by piece, so that a server can stream parts
/// without holding them all in memory.
///
/// The body is: for each part, [`Self::part_header`] then the part bytes; finally
/// [`Self::close`]. The first bytes are `--boundary\r\n` (no preamble, no leading CRLF, which
/// some viewers such as OHIF require), header lines end in CRLF, and the CRLF that must precede
/// every later delimiter is written at the start of the next header or of the close delimiter.
///
/// ```
/// use voxide_dicomweb::multipart::{parse_related, RelatedWriter};
/// let mut w = RelatedWriter::new("b1").unwrap();
/// let mut body = w.part_header("application/dicom", &[]);
/// body.extend_from_slice(b"DICM...");
/// body.extend(w.close());
/// assert!(body.starts_with(b"--b1\r\nContent-Type: application/dicom\r\n\r\n"));
/// assert_eq!(parse_related(&body, "b1").unwrap()[0].body, b"DICM...");
/// ```
#[derive(Debug, Clone)]
pub struct RelatedWriter {
    boundary: String,
    parts: usize,
}

impl RelatedWriter {
    /// A writer for `boundary`, which is checked as [`validate_boundary`] does.
    pub fn new(boundary: impl Into<String>) -> Result<Self, DicomWebError> {
        let boundary = boundary.into();
        validate_boundary(&boundary)?;
        Ok(RelatedWriter { boundary, parts: 0 })
    }

    /// A writer with a fresh boundary from [`new_boundary`].
    pub fn with_new_boundary() -> Self {
        RelatedWriter {
            boundary: new_boundary(),
            parts: 0,
        }
    }

    /// The boundary, for the response's `Content-Type` ([`Self::content_type`]).
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// How many part headers have been written.
    pub fn parts_written(&self) -> usize {
        self.parts
    }

    /// The `Content-Type` header value announcing this body; see [`related_content_type`].
    pub fn content_type(&self, type_param: &str, transfer_syntax: Option<&str>) -> String {
        related_content_type(&self.boundary, type_param, transfer_syntax)
    }

    /// The delimiter and headers that open the next part: `[CRLF]--boundary CRLF`,
    /// `Content-Type: {content_type} CRLF`, one `{name}: {value} CRLF` per `extra` header
    /// (e.g. `("Content-Location", url)`), then the blank line. The part body goes right after.
    /// CR and LF inside names or values are replaced by spaces so they cannot break framing.
    pub fn part_header(&mut self, content_type: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.boundary.len() + content_type.len());
        if self.parts > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--");
        out.extend_from_slice(self.boundary.as_bytes());
        out.extend_from_slice(b"\r\n");
        push_header(&mut out, "Content-Type", content_type);
        for (name, value) in extra {
            push_header(&mut out, name, value);
        }
        out.extend_from_slice(b"\r\n");
        self.parts += 1;
        out
    }

    /// A whole part (header and body) in one buffer, for small parts such as JSON.
    pub fn part(&mut self, content_type: &str, extra: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut out = self.part_header(content_type, extra);
        out.extend_from_slice(body);
        out
    }

    /// The close delimiter `[CRLF]--boundary--CRLF` that ends the body.
    pub fn close(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.boundary.len());
        if self.parts > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--");
        out.extend_from_slice(self.boundary.as_bytes());
        out.extend_from_slice(b"--\r\n");
        out
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    let clean = |s: &str| s.replace(['\r', '\n'], " ");
    out.extend_from_slice(clean(name).as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(clean(value).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A fresh boundary such as `voxide-3f9c0e6a1b2d4c5e8f7a6b5c4d3e2f10` (39 characters, letters,
/// digits and `-` only, so it never needs quoting). Unique per process (a counter) and
/// unpredictable across processes (the counter and the clock hashed with std's randomly keyed
/// `RandomState`); not a cryptographic secret, which a boundary need not be.
pub fn new_boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let state = std::collections::hash_map::RandomState::new();
    let mut h = state.build_hasher();
    h.write_u64(n);
    h.write_u128(nanos);
    let a = h.finish();
    let mut h = state.build_hasher();
    h.write_u64(a);
    h.write_u64(n.rotate_left(32));
    let b = h.finish();
    format!("voxide-{a:016x}{b:016x}")
}

/// The `Content-Type` of a DICOMweb multipart response:
/// `multipart/related; type="{type_param}"[; transfer-syntax={ts}]; boundary={boundary}`.
/// `type` is always quoted (it holds a `/`); `transfer-syntax` and `boundary` are quoted only
/// when they are not tokens.
///
/// ```
/// assert_eq!(
///     voxide_dicomweb::multipart::related_content_type("b1", "application/dicom", Some("1.2.840.10008.1.2.1")),
///     "multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.1; boundary=b1"
/// );
/// ```
pub fn related_content_type(
    boundary: &str,
    type_param: &str,
    transfer_syntax: Option<&str>,
) -> String {
    let mut out = format!("multipart/related; type={}", quote(type_param));
    if let Some(ts) = transfer_syntax {
        out.push_str("; transfer-syntax=");
        out.push_str(&quote_if_needed(ts));
    }
    out.push_str("; boundary=");
    out.push_str(&quote_if_needed(boundary));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(s: &str) -> MediaType {
        parse_content_type(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn content_type_basic_and_case() {
        let mt = ct("Multipart/Related; Type=\"application/dicom\"; BOUNDARY=Abc123");
        assert_eq!(mt.essence, "multipart/related");
        assert_eq!(mt.type_(), "multipart");
        assert_eq!(mt.subtype(), "related");
        assert_eq!(
            mt.params,
            vec![
                ("type".to_string(), "application/dicom".to_string()),
                ("boundary".to_string(), "Abc123".to_string())
            ]
        );
        assert_eq!(mt.param("TYPE"), Some("application/dicom"));
        // Values keep their case.
        assert_eq!(mt.boundary(), Some("Abc123"));
        assert_eq!(mt.param("charset"), None);
    }

    #[test]
    fn content_type_whitespace_and_empty_params() {
        let mt = ct("  multipart/related ;type = application/dicom ;\tboundary =\t\"x y\" ;; ");
        assert_eq!(mt.param("type"), Some("application/dicom"));
        assert_eq!(mt.boundary(), Some("x y"));
        assert_eq!(mt.params.len(), 2);
        assert_eq!(ct("application/dicom;").params, vec![]);
    }

    #[test]
    fn content_type_quoted_string_escapes() {
        let mt = ct(r#"text/plain; a="q\"uo\\te;d, x"; b=tok"#);
        assert_eq!(mt.param("a"), Some(r#"q"uo\te;d, x"#));
        assert_eq!(mt.param("b"), Some("tok"));
        assert_eq!(ct(r#"a/b; e="""#).param("e"), Some(""));
    }

    #[test]
    fn content_type_errors() {
        for bad in [
            "",
            "   ",
            "multipart",
            "multipart/",
            "/related",
            "multipart related",
            "multipart/related; boundary",
            "multipart/related; boundary=",
            "multipart/related; boundary=\"abc",
            "multipart/related; boundary=\"abc\\",
            "multipart/related; boundary=a b",
            "multipart/related; =x",
            "multipart/related, text/plain",
            "mültipart/related",
        ] {
            let e = parse_content_type(bad).expect_err(bad);
            assert!(
                matches!(e, DicomWebError::InvalidMediaType { .. }),
                "{bad:?}: {e}"
            );
            assert_eq!(e.http_status(), 415);
        }
        let e = parse_content_type("multipart/related; boundary=\"abc").unwrap_err();
        assert!(e.to_string().contains("unterminated quoted string"), "{e}");
    }

    #[test]
    fn media_type_display_round_trips() {
        let mt = MediaType::new("Multipart/Related")
            .with_param("type", "application/dicom")
            .with_param("boundary", "abc")
            .with_param("x", "a\"b");
        let s = mt.to_string();
        assert_eq!(
            s,
            r#"multipart/related; type="application/dicom"; boundary=abc; x="a\"b""#
        );
        assert_eq!(ct(&s), mt);
    }

    #[test]
    fn related_boundary_checks() {
        let mt = ct("multipart/related; type=\"application/dicom\"; boundary=\"b-1\"");
        assert_eq!(mt.related_boundary(), Ok("b-1"));
        let e = ct("application/dicom").related_boundary().unwrap_err();
        assert!(e.to_string().contains("expected multipart/related"), "{e}");
        let e = ct("multipart/related; type=application/dicom")
            .related_boundary()
            .unwrap_err();
        assert!(e.to_string().contains("without a boundary"), "{e}");
        let long = format!("multipart/related; boundary={}", "a".repeat(71));
        assert!(matches!(
            ct(&long).related_boundary(),
            Err(DicomWebError::InvalidBoundary { .. })
        ));
    }

    #[test]
    fn boundary_validation() {
        assert!(validate_boundary(&"a".repeat(70)).is_ok());
        assert!(validate_boundary("'()+_,-./:=? x").is_ok());
        for bad in ["", "a ", "a\r\nb", "é", "a\tb"] {
            assert!(matches!(
                validate_boundary(bad),
                Err(DicomWebError::InvalidBoundary { .. })
            ));
        }
        let long = "a".repeat(71);
        let e = parse_related(b"--x--", &long).unwrap_err();
        assert!(e.to_string().contains("longer than 70"), "{e}");
        let e = parse_related(b"----", "").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        assert!(RelatedWriter::new("").is_err());
        assert!(RelatedWriter::new(long).is_err());
    }

    const TWO_PARTS: &[u8] = b"--XyZ\r\n\
Content-Type: application/dicom\r\n\
content-location: /studies/1\r\n\
\r\n\
DICM\x00\x01\r\n\r\n--XyZ is not here\r\n--XyZz\r\n\r\n--XyZ\r\n\
CONTENT-TYPE: application/dicom+json\r\n\
\r\n\
[{}]\r\n\
--XyZ--\r\n";

    #[test]
    fn parses_two_parts_byte_exact() {
        let parts = parse_related(TWO_PARTS, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].content_type(), Some("application/dicom"));
        assert_eq!(parts[0].header("Content-Location"), Some("/studies/1"));
        assert_eq!(parts[0].content_location(), Some("/studies/1"));
        assert_eq!(parts[0].headers[0].0, "content-type");
        assert_eq!(
            parts[0].body,
            b"DICM\x00\x01\r\n\r\n--XyZ is not here\r\n--XyZz\r\n"
        );
        assert_eq!(&TWO_PARTS[parts[0].body_range.clone()], parts[0].body);
        assert_eq!(parts[1].content_type(), Some("application/dicom+json"));
        assert_eq!(parts[1].body, b"[{}]");
        assert_eq!(&TWO_PARTS[parts[1].body_range.clone()], b"[{}]");
        let mt = parts[1].media_type().unwrap().unwrap();
        assert_eq!(mt.essence, "application/dicom+json");
        assert_eq!(parts[1].content_transfer_encoding(), None);
    }

    #[test]
    fn preamble_epilogue_and_padding() {
        let body = b"This is a preamble\r\nwith --b inside\r\n--b \t \r\n\
Content-Type: a/b\r\nContent-Transfer-Encoding: binary\r\n\r\nbody\r\n--b\t\r\n\r\nsecond\r\n--b--  \r\nepilogue --b\r\n junk";
        let parts = parse_related(body, "b").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, b"body");
        assert_eq!(parts[0].content_transfer_encoding(), Some("binary"));
        // A part without headers.
        assert!(parts[1].headers.is_empty());
        assert_eq!(parts[1].content_type(), None);
        assert_eq!(parts[1].body, b"second");
    }

    #[test]
    fn bare_lf_framing() {
        let body = b"--b\nContent-Type: a/b\n\nline1\r\nline2\n--b\ncontent-type: c/d\n\n\n--b--";
        let parts = parse_related(body, "b").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, b"line1\r\nline2");
        assert_eq!(parts[1].content_type(), Some("c/d"));
        assert_eq!(parts[1].body, b"");
    }

    #[test]
    fn body_keeps_its_own_trailing_line_breaks() {
        let body = b"--b\r\nContent-Type: a/b\r\n\r\nabc\r\n\r\n--b\r\nContent-Type: a/b\r\n\r\n\r\r\n--b--";
        let parts = parse_related(body, "b").unwrap();
        assert_eq!(parts[0].body, b"abc\r\n");
        assert_eq!(parts[1].body, b"\r");
    }

    #[test]
    fn empty_bodies_and_header_only_parts() {
        // Empty body after the blank line.
        let p = parse_related(b"--b\r\nContent-Type: a/b\r\n\r\n\r\n--b--", "b").unwrap();
        assert_eq!(p[0].body, b"");
        // Headers only, no blank line and no body (allowed by RFC 2046).
        let p = parse_related(b"--b\r\nContent-Type: a/b\r\n\r\n--b--", "b").unwrap();
        assert_eq!(p[0].content_type(), Some("a/b"));
        assert_eq!(p[0].body, b"");
        // Nothing at all between two delimiters.
        let p = parse_related(b"--b\r\n--b\r\n\r\nx\r\n--b--", "b").unwrap();
        assert_eq!(p.len(), 2);
        assert!(p[0].headers.is_empty() && p[0].body.is_empty());
        assert_eq!(p[1].body, b"x");
        // No parts.
        assert_eq!(parse_related(b"--b--\r\n", "b").unwrap(), vec![]);
        assert_eq!(parse_related(b"preamble\r\n--b--", "b").unwrap(), vec![]);
    }

    #[test]
    fn folded_and_spaced_headers() {
        let body = b"--b\r\nContent-Type: multipart/related;\r\n\ttype=\"a/b\"\r\nX-Y : z \r\n\r\nq\r\n--b--";
        let p = parse_related(body, "b").unwrap();
        assert_eq!(p[0].content_type(), Some("multipart/related; type=\"a/b\""));
        assert_eq!(p[0].header("x-y"), Some("z"));
    }

    #[test]
    fn truncated_uploads() {
        let cases: &[(&[u8], usize)] = &[
            (b"", 0),
            (b"  ", 0),
            (b"--bou", 0),
            (b"--boundary", 0),
            (b"--boundary\r", 0),
            (b"--boundary\r\nContent-Type: a/b\r\n\r\nDICM....", 0),
            (b"--boundary\r\nContent-Type: a/b\r\n\r\nDICM\r\n--boundary", 0),
            (b"--boundary\r\nContent-Type: a/b\r\n\r\nDICM\r\n--boundary-", 0),
            (b"--boundary\r\nContent-Type: a/b\r\n\r\nDICM\r\n--boundary  ", 0),
            (b"--boundary\r\nContent-Type: a/b\r\n\r\nDICM\r\n--boundary\r\nContent-Ty", 1),
            (b"--boundary\r\nContent-Type: a/b\r\n\r\nDICM\r\n--boundary\r\nContent-Type: a/b\r\n\r\nxx", 1),
            (b"--boundary\r\nContent-Type: a/b\r\n\r\nDICM\r\n--boundary\r\n", 1),
            (b"--boundary\r\n\r\nx\r\n--boundary\r\n\r\ny\r\n--boundary\r\n\r\nz", 2),
            // Header-looking garbage cut before any blank line is reported as truncated.
            (b"--boundary\r\nContent-Type", 0),
        ];
        for (body, complete) in cases {
            match parse_related(body, "boundary") {
                Err(DicomWebError::Truncated {
                    complete_parts,
                    boundary,
                }) => {
                    assert_eq!(
                        complete_parts,
                        *complete,
                        "{:?}",
                        String::from_utf8_lossy(body)
                    );
                    assert_eq!(boundary, "boundary");
                }
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
        let e = parse_related(b"--b\r\n\r\nx", "b").unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        assert_eq!(e.http_status(), 400);
    }

    #[test]
    fn every_cut_of_a_valid_body_is_truncated() {
        let mut w = RelatedWriter::new("cut").unwrap();
        let mut body = w.part(
            "application/dicom",
            &[("Content-Location", "x")],
            b"\r\n--cu\r\n-",
        );
        body.extend(w.part("application/dicom", &[], b""));
        body.extend(w.close());
        let close_end = body.len() - 2; // after "--cut--"
        for cut in 0..close_end {
            let e = parse_related(&body[..cut], "cut").unwrap_err();
            assert!(
                matches!(e, DicomWebError::Truncated { .. }),
                "cut {cut}: {e}"
            );
        }
        for cut in close_end..=body.len() {
            assert_eq!(parse_related(&body[..cut], "cut").unwrap().len(), 2);
        }
    }

    #[test]
    fn headers_without_blank_line() {
        let body = b"--b\r\nContent-Type: a/b\r\nDICM\x00\x00\x00binary\r\n--b--";
        let e = parse_related(body, "b").unwrap_err();
        assert!(matches!(e, DicomWebError::MalformedMultipart(_)), "{e}");
        assert!(e.to_string().contains("blank line"), "{e}");
        assert!(e.to_string().contains("part 1"), "{e}");
        // Last header line not ended by a line break.
        let e = parse_related(b"--b\r\nContent-Type: a/b\r\n--b--", "b").unwrap_err();
        assert!(matches!(e, DicomWebError::MalformedMultipart(_)), "{e}");
        // A second part with a header line that has no colon.
        let e = parse_related(
            b"--b\r\n\r\nx\r\n--b\r\nnot a header\r\n\r\ny\r\n--b--",
            "b",
        )
        .unwrap_err();
        assert!(e.to_string().contains("part 2"), "{e}");
    }

    #[test]
    fn wrong_boundary() {
        let e = parse_related(TWO_PARTS, "other").unwrap_err();
        assert!(matches!(e, DicomWebError::MalformedMultipart(_)), "{e}");
        assert!(e.to_string().contains("boundary parameter"), "{e}");
        // A boundary that is only a prefix of the real one.
        assert!(matches!(
            parse_related(TWO_PARTS, "Xy"),
            Err(DicomWebError::MalformedMultipart(_))
        ));
        // Boundaries are case-sensitive.
        assert!(parse_related(TWO_PARTS, "xyz").is_err());
    }

    #[test]
    fn large_body_and_near_miss_delimiters() {
        // 100 MB of binary data with line breaks and dashes.
        let mut data = vec![0u8; 100 << 20];
        for (i, b) in data.iter_mut().enumerate() {
            *b = match i % 997 {
                0 => b'\r',
                1 => b'\n',
                2 | 3 => b'-',
                _ => (i % 251) as u8,
            };
        }
        let boundary = new_boundary();
        let mut w = RelatedWriter::new(boundary.clone()).unwrap();
        let mut body = w.part_header("application/dicom", &[]);
        let offset = body.len();
        body.extend_from_slice(&data);
        body.extend(w.close());
        let t = std::time::Instant::now();
        let parts = parse_related(&body, &boundary).unwrap();
        let took = t.elapsed();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].body_range, offset..offset + data.len());
        assert!(parts[0].body == &data[..]);
        eprintln!("100 MB parsed in {took:?}");

        // Many lines that start like a delimiter but are not one.
        let mut body = b"--b\r\n\r\n".to_vec();
        for _ in 0..200_000 {
            body.extend_from_slice(b"\r\n--bX\n--b-x\r\n--b \tx");
        }
        let len = body.len();
        body.extend_from_slice(b"\r\n--b--");
        let parts = parse_related(&body, "b").unwrap();
        assert_eq!(parts[0].body_range, 7..len);
    }

    /// A small deterministic generator, enough to throw odd inputs at the parser.
    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let alphabet: &[u8] = b"-b\r\n :xC\t\"\xff";
        let mut seed = 7;
        for _ in 0..20_000 {
            let len = (lcg(&mut seed) % 40) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| alphabet[(lcg(&mut seed) as usize) % alphabet.len()])
                .collect();
            if let Ok(parts) = parse_related(&input, "b") {
                // Bodies are the bytes their range names, and survive a write/parse round trip.
                let mut w = RelatedWriter::new("b").unwrap();
                let mut out = Vec::new();
                for p in &parts {
                    assert_eq!(&input[p.body_range.clone()], p.body);
                    out.extend(w.part("a/b", &[], p.body));
                }
                out.extend(w.close());
                let again = parse_related(&out, "b").unwrap();
                let bodies =
                    |ps: &[Part<'_>]| ps.iter().map(|p| p.body.to_vec()).collect::<Vec<_>>();
                assert_eq!(bodies(&again), bodies(&parts), "{input:?}");
            }
            let text = String::from_utf8_lossy(&input);
            let _ = parse_content_type(&text);
            let _ = parse_content_type(&format!("a/b; {text}"));
        }
    }

    #[test]
    fn writer_layout() {
        let mut w = RelatedWriter::new("B0und").unwrap();
        assert_eq!(w.boundary(), "B0und");
        let h1 = w.part_header("application/dicom", &[("Content-Location", "/a/b")]);
        assert_eq!(
            h1,
            b"--B0und\r\nContent-Type: application/dicom\r\nContent-Location: /a/b\r\n\r\n"
        );
        let h2 = w.part_header("application/dicom", &[]);
        assert_eq!(
            h2,
            b"\r\n--B0und\r\nContent-Type: application/dicom\r\n\r\n"
        );
        assert_eq!(w.parts_written(), 2);
        assert_eq!(w.close(), b"\r\n--B0und--\r\n");
        // No parts at all.
        assert_eq!(RelatedWriter::new("x").unwrap().close(), b"--x--\r\n");
    }

    #[test]
    fn writer_sanitizes_line_breaks() {
        let mut w = RelatedWriter::new("b").unwrap();
        let h = w.part_header("a/b\r\nX-Evil: 1", &[("Content-Location", "u\nv")]);
        assert_eq!(
            h,
            b"--b\r\nContent-Type: a/b  X-Evil: 1\r\nContent-Location: u v\r\n\r\n"
        );
    }

    #[test]
    fn writer_round_trips() {
        let bodies: [&[u8]; 4] = [b"DICM\r\n--x\r\n", b"", b"\r\n", b"{\"a\":1}"];
        let mut w = RelatedWriter::with_new_boundary();
        let mut body = Vec::new();
        for (i, b) in bodies.iter().enumerate() {
            let loc = format!("/instances/{i}");
            body.extend(w.part("application/dicom", &[("Content-Location", &loc)], b));
        }
        body.extend(w.close());
        let ct = parse_content_type(&w.content_type("application/dicom", None)).unwrap();
        let boundary = ct.related_boundary().unwrap();
        let parts = parse_related(&body, boundary).unwrap();
        assert_eq!(parts.len(), 4);
        for (i, (p, b)) in parts.iter().zip(bodies).enumerate() {
            assert_eq!(p.body, b);
            assert_eq!(
                p.content_location(),
                Some(format!("/instances/{i}").as_str())
            );
        }
    }

    #[test]
    fn new_boundaries_are_valid_and_distinct() {
        let a: Vec<String> = (0..1000).map(|_| new_boundary()).collect();
        let set: std::collections::HashSet<&String> = a.iter().collect();
        assert_eq!(set.len(), a.len());
        for b in &a {
            validate_boundary(b).unwrap();
            assert!(b.len() <= MAX_BOUNDARY_LEN);
            assert!(syntax::is_token(b));
        }
    }

    #[test]
    fn related_content_types() {
        assert_eq!(
            related_content_type("abc", "application/dicom", None),
            "multipart/related; type=\"application/dicom\"; boundary=abc"
        );
        assert_eq!(
            related_content_type(
                "a b:c",
                "application/octet-stream",
                Some("1.2.840.10008.1.2.4.50")
            ),
            "multipart/related; type=\"application/octet-stream\"; \
             transfer-syntax=1.2.840.10008.1.2.4.50; boundary=\"a b:c\""
        );
        let mt = ct(&related_content_type(
            "a b:c",
            "application/dicom",
            Some("*"),
        ));
        assert_eq!(mt.param("type"), Some("application/dicom"));
        assert_eq!(mt.param("transfer-syntax"), Some("*"));
        assert_eq!(mt.related_boundary(), Ok("a b:c"));
    }
}
