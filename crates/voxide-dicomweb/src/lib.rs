//! # voxide-dicomweb
//!
//! The DICOMweb (DICOM PS3.18) protocol pieces that need no IO, for the HTTP server to build on:
//!
//! - [`multipart`]: `Content-Type` parsing ([`multipart::parse_content_type`]),
//!   `multipart/related` bodies (RFC 2046 / RFC 2387) read from a byte slice
//!   ([`multipart::parse_related`], for STOW-RS) and written part by part for streaming
//!   ([`multipart::RelatedWriter`], for WADO-RS).
//! - [`accept`]: `Accept` header parsing (RFC 9110 §12.5.1) and content negotiation against the
//!   representations the server can produce, keeping the DICOM `transfer-syntax` parameter for
//!   the caller.
//! - [`qido`]: QIDO-RS query parameters (attribute filters, `includefield`, `limit`, `offset`,
//!   `fuzzymatching`), DICOM keyword ↔ tag lookup, DA/TM range values, wildcard → SQL `LIKE`
//!   conversion and UID lists.
//!
//! Nothing here reads files or sockets, and no function panics on any input: malformed input is
//! a [`DicomWebError`], whose message is written for the HTTP client (it is meant to become the
//! body of a 400, 406 or 415 response; [`DicomWebError::http_status`] suggests which).

#![warn(missing_docs)]

pub mod accept;
mod error;
pub mod multipart;
pub mod qido;
mod syntax;

pub use error::DicomWebError;
