//! Signed notes, checkpoints and keys from untrusted text: each parses or is a typed error,
//! never a panic. A note that opens under the test key must really be signed by it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxide_ledger::note::{open, Checkpoint, SigningKey, VerifierKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = VerifierKey::parse(text);
    let _ = SigningKey::parse(text);
    let _ = Checkpoint::parse(text);
    let Ok(key) = SigningKey::from_seed("fuzz", [7; 32]) else {
        return;
    };
    let verifier = key.verifier();
    if let Ok(body) = open(text, std::slice::from_ref(&verifier)) {
        // Only a note this key signed opens; its signature is over exactly `body`.
        assert!(text.starts_with(&body));
    }
    let _ = Checkpoint::open(text, "fuzz", &[verifier]);
    if let Ok(signed) = key.sign(text) {
        assert_eq!(open(&signed, &[key.verifier()]).unwrap(), text);
    }
});
