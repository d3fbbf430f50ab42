//! Feeds arbitrary bytes to the DICOMweb multipart pieces: the first line is a `Content-Type`
//! (and `Accept`) header, the rest a `multipart/related` body split with the header's boundary
//! (or `b` when it has none). Besides panics, it checks that part bodies are the bytes their
//! range names, and that writing the parts back with `RelatedWriter` and parsing again gives
//! the same bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxide_dicomweb::accept::parse_accept;
use voxide_dicomweb::multipart::{parse_content_type, parse_related, RelatedWriter};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (first, body) = data.split_at(split);
    let body = body.get(1..).unwrap_or(&[]);
    let header = String::from_utf8_lossy(first);
    let _ = parse_accept(&header);
    let boundary = match parse_content_type(&header) {
        Ok(mt) => {
            let _ = mt.related_boundary();
            mt.boundary().unwrap_or("b").to_string()
        }
        Err(_) => "b".to_string(),
    };
    let Ok(parts) = parse_related(body, &boundary) else {
        return;
    };
    for p in &parts {
        assert_eq!(&body[p.body_range.clone()], p.body);
        let _ = p.media_type();
    }
    let mut w = RelatedWriter::new(boundary.clone()).expect("parse_related accepted it");
    let mut out = Vec::new();
    for p in &parts {
        out.extend(w.part("application/octet-stream", &[], p.body));
    }
    out.extend(w.close());
    let again = parse_related(&out, &boundary).expect("writer output parses");
    assert_eq!(again.len(), parts.len());
    for (a, b) in again.iter().zip(&parts) {
        assert_eq!(a.body, b.body);
    }
});
