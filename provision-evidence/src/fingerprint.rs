//! Fingerprints: the SHA-256 of an evidence row's canonical JSON, so the same
//! evidence is stored once however often it is collected.
//!
//! The fingerprint covers what the evidence *is* — its kind, system, subject and
//! data — and not when or by which run it was collected: collecting an unchanged
//! access listing again yields the same fingerprint, and the store records the new
//! sighting without a second copy. The hashed bytes are
//!
//! ```text
//! "provision-evidence-v1\n" || canonical_json({"data": .., "kind": .., "subject": .., "system": ..})
//! ```
//!
//! with object keys sorted by their bytes and no whitespace (the audit chain's
//! canonical form), so the fingerprint does not depend on field order.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"provision-evidence-v1\n";

/// Lowercase hex SHA-256 of an evidence row's canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(pub String);

impl Fingerprint {
    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The fingerprint of a fact of `kind` from `system` about `subject`.
pub fn fingerprint(kind: &str, system: &str, subject: Option<&str>, data: &Value) -> Fingerprint {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    let mut out = HashWriter(&mut hasher);
    // Keys in byte order: data, kind, subject, system.
    out.raw(b"{\"data\":");
    write_canonical(data, &mut out);
    out.raw(b",\"kind\":");
    write_string(kind, &mut out);
    out.raw(b",\"subject\":");
    match subject {
        Some(s) => write_string(s, &mut out),
        None => out.raw(b"null"),
    }
    out.raw(b",\"system\":");
    write_string(system, &mut out);
    out.raw(b"}");
    Fingerprint(hex::encode(hasher.finalize()))
}

/// Streams canonical JSON straight into the hasher (no intermediate buffer: an
/// access listing of a large group can be megabytes).
struct HashWriter<'a>(&'a mut Sha256);

impl HashWriter<'_> {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_string(s: &str, out: &mut HashWriter<'_>) {
    // Serialising a string into a hasher cannot fail.
    let _ = serde_json::to_writer(out, s);
}

/// JSON with object keys sorted by bytes and no whitespace.
fn write_canonical(value: &Value, out: &mut HashWriter<'_>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.raw(b"{");
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.raw(b",");
                }
                write_string(key, out);
                out.raw(b":");
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.raw(b"}");
        }
        Value::Array(items) => {
            out.raw(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.raw(b",");
                }
                write_canonical(item, out);
            }
            out.raw(b"]");
        }
        // Numbers, booleans and null cannot fail to serialise.
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_fingerprint() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[1,2],"x":"s"}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":"s","y":[1,2]},"b":1}"#).unwrap();
        assert_eq!(
            fingerprint("k", "okta", Some("sarah"), &a),
            fingerprint("k", "okta", Some("sarah"), &b)
        );
    }

    #[test]
    fn every_field_counts() {
        let d = json!({"mfa": true});
        let base = fingerprint("okta.mfa_enrollment", "okta", Some("sarah"), &d);
        assert_ne!(
            base,
            fingerprint("okta.mfa_enrollment", "okta", Some("tom"), &d)
        );
        assert_ne!(base, fingerprint("okta.mfa_enrollment", "okta", None, &d));
        assert_ne!(
            base,
            fingerprint("okta.mfa_enrollment", "google", Some("sarah"), &d)
        );
        assert_ne!(
            base,
            fingerprint("okta.password_policy", "okta", Some("sarah"), &d)
        );
        assert_ne!(
            base,
            fingerprint(
                "okta.mfa_enrollment",
                "okta",
                Some("sarah"),
                &json!({"mfa": false})
            )
        );
        assert_eq!(base.as_str().len(), 64);
    }

    #[test]
    fn matches_sha256_of_the_documented_bytes() {
        let d = json!({"b": 2, "a": 1});
        let expected = hex::encode(Sha256::digest(
            b"provision-evidence-v1\n{\"data\":{\"a\":1,\"b\":2},\"kind\":\"k\",\"subject\":null,\"system\":\"s\"}",
        ));
        assert_eq!(fingerprint("k", "s", None, &d).0, expected);
    }
}
