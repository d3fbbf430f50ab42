//! The one error type of the crate.

/// What was wrong with a request, worded for the HTTP client that sent it.
///
/// The `Display` text is meant to be sent back as the response body; [`Self::http_status`]
/// suggests the status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DicomWebError {
    /// A `Content-Type` (or other media type) value that does not follow RFC 9110 syntax.
    #[error("invalid media type {input:?}: {reason}")]
    InvalidMediaType {
        /// The header value as received (shortened when very long).
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A multipart boundary that is empty, too long or holds characters RFC 2046 forbids.
    #[error("invalid multipart boundary {boundary:?}: {reason}")]
    InvalidBoundary {
        /// The boundary as received (shortened when very long).
        boundary: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A multipart body that cannot be split into parts (other than by ending early).
    #[error("malformed multipart/related body: {0}")]
    MalformedMultipart(String),
    /// A multipart body that ends before its close delimiter `--boundary--`: the upload was cut
    /// short (or the client never finished the body).
    #[error(
        "multipart/related body is truncated: it ends before the close delimiter \
         \"--{boundary}--\" ({complete_parts} complete part(s) before the cut); \
         the upload was incomplete, send it again"
    )]
    Truncated {
        /// The boundary that was searched for (shortened when very long).
        boundary: String,
        /// How many parts were complete before the body ended.
        complete_parts: usize,
    },
    /// An `Accept` header that does not follow RFC 9110 syntax.
    #[error("invalid Accept header: {0}")]
    InvalidAccept(String),
    /// A QIDO-RS query parameter that is unknown or has an invalid value.
    #[error("invalid query parameter {key:?}: {reason}")]
    InvalidQuery {
        /// The parameter name as received.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A DA (date) or DA range matching value that is not `YYYYMMDD`, `YYYYMMDD-YYYYMMDD`,
    /// `YYYYMMDD-` or `-YYYYMMDD`.
    #[error("invalid date (DA) matching value {value:?}: {reason}")]
    InvalidDate {
        /// The value as received.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A TM (time) or TM range matching value that is not `HH[MM[SS[.F{1,6}]]]`, optionally
    /// as a range with `-`.
    #[error("invalid time (TM) matching value {value:?}: {reason}")]
    InvalidTime {
        /// The value as received.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl DicomWebError {
    /// The HTTP status code this error suggests: 415 (Unsupported Media Type) for a request
    /// `Content-Type` or multipart framing the server cannot read, 400 (Bad Request) for
    /// everything else. (406 Not Acceptable is the server's answer when
    /// [`crate::accept::negotiate`] finds no acceptable offer; it is not an error here.)
    pub fn http_status(&self) -> u16 {
        match self {
            DicomWebError::InvalidMediaType { .. } | DicomWebError::InvalidBoundary { .. } => 415,
            _ => 400,
        }
    }
}

/// Shortens user input quoted in error messages so a huge header cannot blow up a response.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
