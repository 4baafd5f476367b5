//! The hash chain (documented with [`crate::audit`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{AuditError, AuditEvent, AuditRecord};

/// The `prev_hash` of the first record: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separation prefix of the hashed bytes (bumped if the format ever changes).
const HASH_DOMAIN: &[u8] = b"provision-audit-v1\n";

/// The hash of a record with this seq, previous hash and event (lowercase hex SHA-256
/// over the canonical serialisation described in the [module docs](crate::audit)).
pub fn record_hash(seq: u64, prev_hash: &str, event: &AuditEvent) -> Result<String, AuditError> {
    let event = serde_json::to_value(event)
        .map_err(|e| AuditError::Storage(format!("cannot serialise audit event: {e}")))?;
    let mut body = serde_json::Map::new();
    body.insert("event".to_owned(), event);
    body.insert("prev_hash".to_owned(), Value::String(prev_hash.to_owned()));
    body.insert("seq".to_owned(), Value::from(seq));
    let mut bytes = Vec::with_capacity(512);
    bytes.extend_from_slice(HASH_DOMAIN);
    write_canonical(&Value::Object(body), &mut bytes)
        .map_err(|e| AuditError::Storage(format!("cannot serialise audit event: {e}")))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// JSON with object keys sorted by bytes and no whitespace.
fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key)?;
                out.push(b':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out)?;
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}

/// The end of a chain: the next seq to assign and the hash to chain it to.
///
/// Every audit log implementation keeps one and calls [`ChainHead::seal`] inside
/// its append critical section (a mutex, a database transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    next_seq: u64,
    last_hash: String,
}

impl Default for ChainHead {
    fn default() -> Self {
        Self::genesis()
    }
}

impl ChainHead {
    /// The head of an empty log.
    pub fn genesis() -> Self {
        Self {
            next_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
        }
    }

    /// The head after `last` (continuing an existing log).
    pub fn after(last: &AuditRecord) -> Self {
        Self {
            next_seq: last.seq.saturating_add(1),
            last_hash: last.hash.clone(),
        }
    }

    /// The head after a record known only by its seq and hash (a database's last row).
    pub fn after_seq(last_seq: u64, last_hash: impl Into<String>) -> Self {
        Self {
            next_seq: last_seq.saturating_add(1),
            last_hash: last_hash.into(),
        }
    }

    /// The head after the last record of `records`, or genesis when there is none.
    pub fn after_last(records: &[AuditRecord]) -> Self {
        records.last().map_or_else(Self::genesis, Self::after)
    }

    /// The seq the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The hash the next record chains to.
    pub fn last_hash(&self) -> &str {
        &self.last_hash
    }

    /// Builds the next record without advancing the head (for stores that must first
    /// persist it, then [`advance`](Self::advance)).
    pub fn next_record(&self, event: AuditEvent) -> Result<AuditRecord, AuditError> {
        let hash = record_hash(self.next_seq, &self.last_hash, &event)?;
        Ok(AuditRecord {
            seq: self.next_seq,
            event,
            prev_hash: self.last_hash.clone(),
            hash,
        })
    }

    /// Moves the head past `record` (which must be the one [`next_record`](Self::next_record) built).
    pub fn advance(&mut self, record: &AuditRecord) {
        *self = Self::after(record);
    }

    /// Builds the next record and advances the head (for in-memory logs).
    pub fn seal(&mut self, event: AuditEvent) -> Result<AuditRecord, AuditError> {
        let record = self.next_record(event)?;
        self.advance(&record);
        Ok(record)
    }
}

/// A position in the log known outside it: the seq and hash of a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Anchor {
    /// The record's seq.
    pub seq: u64,
    /// The record's hash.
    pub hash: String,
}

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq {} hash {}", self.seq, self.hash)
    }
}

impl std::str::FromStr for Anchor {
    type Err = String;

    /// `SEQ:HASH`, as `provision audit verify` prints the head and as a SIEM or an
    /// evidence bundle keeps it: a seq and a 64-character lowercase hex SHA-256.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (seq, hash) = text
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("`{text}` is not SEQ:HASH"))?;
        let seq = seq
            .parse::<u64>()
            .map_err(|_| format!("`{seq}` is not a record seq (a whole number)"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("`{hash}` is not a SHA-256 in hex (64 characters)"));
        }
        Ok(Anchor {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

/// What a successful [`verify`] established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChain {
    /// How many records were checked.
    pub records: u64,
    /// The last record's position and hash (`None` for an empty log). Keep it
    /// outside the log to detect later truncation with [`verify_with_anchor`].
    pub head: Option<Anchor>,
}

impl VerifiedChain {
    /// The anchor to keep outside the log (same as `head`).
    pub fn anchor(&self) -> Option<&Anchor> {
        self.head.as_ref()
    }
}

/// The first thing wrong with a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The record at this position has the wrong seq: a record before it was removed
    /// (`found > expected`), or records were inserted or reordered.
    #[error(
        "audit record at position {position} has seq {found}, expected {expected} \
         (a record was removed, inserted or moved)"
    )]
    UnexpectedSeq {
        /// Position in the list checked, from 0.
        position: u64,
        /// The seq that should be there.
        expected: u64,
        /// The seq that is there.
        found: u64,
    },
    /// The record does not chain to its predecessor.
    #[error(
        "audit record seq {seq}: prev_hash {found} does not match the previous record's hash \
         {expected} (the chain was cut or re-stitched)"
    )]
    BrokenLink {
        /// The record's seq.
        seq: u64,
        /// The previous record's hash.
        expected: String,
        /// The prev_hash the record carries.
        found: String,
    },
    /// The record's content does not match its hash.
    #[error(
        "audit record seq {seq}: content does not match its hash (stored {stored}, computed \
         {computed}): the record was altered"
    )]
    Altered {
        /// The record's seq.
        seq: u64,
        /// The hash stored with the record.
        stored: String,
        /// The hash its content has.
        computed: String,
    },
    /// The log ends before the anchor: records at the end were removed.
    #[error(
        "audit log ends at {len} records but the anchor names seq {anchor_seq}: records were removed from the end"
    )]
    Truncated {
        /// How many records the log has.
        len: u64,
        /// The anchor's seq.
        anchor_seq: u64,
    },
    /// The record at the anchor's seq has another hash: the log was rewritten.
    #[error(
        "audit record seq {seq} has hash {found} but the anchor says {expected}: the log was rewritten"
    )]
    AnchorMismatch {
        /// The anchor's seq.
        seq: u64,
        /// The anchor's hash.
        expected: String,
        /// The hash in the log.
        found: String,
    },
    /// The record could not be hashed.
    #[error("audit record seq {seq}: cannot hash: {message}")]
    Unhashable {
        /// The record's seq.
        seq: u64,
        /// Why.
        message: String,
    },
}

impl ChainError {
    /// The seq of the first bad record (for truncation, the first missing seq).
    pub fn seq(&self) -> u64 {
        match self {
            ChainError::UnexpectedSeq { expected, .. } => *expected,
            ChainError::BrokenLink { seq, .. }
            | ChainError::Altered { seq, .. }
            | ChainError::AnchorMismatch { seq, .. }
            | ChainError::Unhashable { seq, .. } => *seq,
            ChainError::Truncated { len, .. } => *len,
        }
    }
}

/// Checks a log record by record, without holding it in memory (for stores that
/// stream rows). [`verify`] and [`verify_with_anchor`] are this over a slice.
///
/// ```
/// use provision_core::audit::ChainVerifier;
/// # fn demo(records: Vec<provision_core::audit::AuditRecord>) -> Result<(), provision_core::audit::ChainError> {
/// let mut verifier = ChainVerifier::new();
/// for record in &records {
///     verifier.push(record)?;
/// }
/// let verified = verifier.finish()?;
/// println!("{} records verified", verified.records);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ChainVerifier {
    count: u64,
    last: Option<Anchor>,
    anchor: Option<Anchor>,
    hash_at_anchor: Option<String>,
}

impl ChainVerifier {
    /// A verifier for a log read from seq 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// A verifier that, at [`finish`](Self::finish), also checks `anchor`.
    pub fn with_anchor(anchor: Anchor) -> Self {
        Self {
            anchor: Some(anchor),
            ..Self::default()
        }
    }

    /// Checks the next record; the first error names the first bad seq.
    pub fn push(&mut self, record: &AuditRecord) -> Result<(), ChainError> {
        let expected = self.count;
        if record.seq != expected {
            return Err(ChainError::UnexpectedSeq {
                position: expected,
                expected,
                found: record.seq,
            });
        }
        let prev_hash = self.last.as_ref().map_or(GENESIS_HASH, |a| a.hash.as_str());
        if record.prev_hash != prev_hash {
            return Err(ChainError::BrokenLink {
                seq: record.seq,
                expected: prev_hash.to_owned(),
                found: record.prev_hash.clone(),
            });
        }
        let computed = record_hash(record.seq, &record.prev_hash, &record.event).map_err(|e| {
            ChainError::Unhashable {
                seq: record.seq,
                message: e.to_string(),
            }
        })?;
        if computed != record.hash {
            return Err(ChainError::Altered {
                seq: record.seq,
                stored: record.hash.clone(),
                computed,
            });
        }
        if self.anchor.as_ref().is_some_and(|a| a.seq == record.seq) {
            self.hash_at_anchor = Some(record.hash.clone());
        }
        self.count += 1;
        self.last = Some(Anchor {
            seq: record.seq,
            hash: record.hash.clone(),
        });
        Ok(())
    }

    /// Ends the check (and checks the anchor, if any).
    pub fn finish(self) -> Result<VerifiedChain, ChainError> {
        if let Some(anchor) = self.anchor {
            match self.hash_at_anchor {
                None => {
                    return Err(ChainError::Truncated {
                        len: self.count,
                        anchor_seq: anchor.seq,
                    });
                }
                Some(found) if found != anchor.hash => {
                    return Err(ChainError::AnchorMismatch {
                        seq: anchor.seq,
                        expected: anchor.hash,
                        found,
                    });
                }
                Some(_) => {}
            }
        }
        Ok(VerifiedChain {
            records: self.count,
            head: self.last,
        })
    }
}

/// Checks a whole log, from seq 0, in order. See the [module docs](crate::audit) for what
/// it detects; to also detect truncation or a rewritten tail, use
/// [`verify_with_anchor`].
pub fn verify(records: &[AuditRecord]) -> Result<VerifiedChain, ChainError> {
    let mut verifier = ChainVerifier::new();
    for record in records {
        verifier.push(record)?;
    }
    verifier.finish()
}

/// [`verify`], then checks that the record at `anchor.seq` still has `anchor.hash`:
/// detects records removed from the end and a tail rewritten with fresh hashes.
pub fn verify_with_anchor(
    records: &[AuditRecord],
    anchor: &Anchor,
) -> Result<VerifiedChain, ChainError> {
    let mut verifier = ChainVerifier::with_anchor(anchor.clone());
    for record in records {
        verifier.push(record)?;
    }
    verifier.finish()
}
