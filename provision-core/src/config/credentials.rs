//! Credentials and settings in `provision.yaml`: a credential is a reference
//! (`{env: VAR}` or `{file: path}`) resolved when the adapter is built, and a setting
//! whose name reads like a secret is refused, so no secret is ever written in the
//! file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::secret::SecretString;
use crate::yaml::{Node, Reader, Value};

use super::CredentialRef;

/// Why a credential could not be read. Names the variable or path, never the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The environment variable is not set.
    #[error("credential environment variable `{name}` is not set")]
    EnvMissing {
        /// The variable.
        name: String,
    },
    /// The environment variable does not hold valid UTF-8.
    #[error("credential environment variable `{name}` is not valid UTF-8")]
    EnvNotUnicode {
        /// The variable.
        name: String,
    },
    /// The file could not be read.
    #[error("cannot read credential file {}: {source}", path.display())]
    File {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The variable or file is empty.
    #[error("credential {source_name} is empty")]
    Empty {
        /// `environment variable X` or `file P`.
        source_name: String,
    },
}

/// Reads a credential from its environment variable or file. A file's trailing
/// line break is removed. Errors name the variable or path, never the value.
pub fn resolve_credential(reference: &CredentialRef) -> Result<SecretString, CredentialError> {
    let (value, source_name) = match reference {
        CredentialRef::Env { env } => match std::env::var(env) {
            Ok(v) => (v, format!("environment variable `{env}`")),
            Err(std::env::VarError::NotPresent) => {
                return Err(CredentialError::EnvMissing { name: env.clone() });
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(CredentialError::EnvNotUnicode { name: env.clone() });
            }
        },
        CredentialRef::File { file } => match std::fs::read_to_string(file) {
            Ok(mut v) => {
                let trimmed = v.trim_end_matches(['\n', '\r']).len();
                v.truncate(trimmed);
                (v, format!("file {}", file.display()))
            }
            Err(source) => {
                return Err(CredentialError::File {
                    path: file.clone(),
                    source,
                });
            }
        },
    };
    if value.trim().is_empty() {
        return Err(CredentialError::Empty { source_name });
    }
    Ok(SecretString::from(value))
}

/// Words that, as a part of a setting's name, mark it as holding a secret.
const SECRET_WORDS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "apikey",
    "credential",
    "credentials",
];

/// Two-word names that hold a secret although neither word alone does: a private
/// key, an API key, an access key, a signing key.
const SECRET_PAIRS: &[(&str, &str)] = &[
    ("private", "key"),
    ("api", "key"),
    ("access", "key"),
    ("secret", "key"),
    ("signing", "key"),
    ("client", "key"),
    ("encryption", "key"),
    ("master", "key"),
    ("ssh", "key"),
];

/// True for a setting name that reads like it holds a secret.
///
/// The rule: the name is split into words (at `_`, `-`, `.` and lower-to-upper case
/// changes: `clientSecret` is `client secret`); it is secret-looking when a word is, or
/// ends in, `token`, `secret`, `password`, `passwd`, `passphrase`, `apikey` or
/// `credential(s)` (`api_token`, `clientSecret`, `db_password`, `refreshtoken`), or
/// when two adjacent words are a kind of secret key: `private key`, `api key`,
/// `access key`, `secret key`, `signing key`, `client key`, `encryption key`, `master
/// key`. A name that merely mentions a key (`public_key`, `key_id`, `keyspace`,
/// `primary_key_column`) is an ordinary setting.
fn looks_secret(name: &str) -> bool {
    let words = split_words(name);
    if words == ["key"] {
        return true;
    }
    words.iter().any(|w| {
        SECRET_WORDS
            .iter()
            .any(|secret| w == secret || w.ends_with(secret))
    }) || words.windows(2).any(|pair| {
        SECRET_PAIRS
            .iter()
            .any(|(first, second)| pair[0] == *first && pair[1] == *second)
    }) || words.iter().any(|w| {
        // `privatekey`, `apikey`, `accesskey` written as one word.
        SECRET_PAIRS
            .iter()
            .any(|(first, second)| *w == format!("{first}{second}"))
    })
}

/// A name's words, lower case: `clientSecret` and `client_secret` are both
/// `["client", "secret"]`.
fn split_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

const USE_A_REFERENCE: &str =
    "write `{env: VARIABLE_NAME}` or `{file: /path/to/secret}` under `credentials:` instead";

pub(super) fn read_credentials(
    r: &mut Reader,
    node: &Node,
    path: &str,
) -> BTreeMap<String, CredentialRef> {
    let mut out = BTreeMap::new();
    let Some(mut f) = r.fields(node, path) else {
        return out;
    };
    for (name, _, value) in f.all() {
        let field = f.path_of(&name);
        match &value.value {
            Value::Map(_) => {
                let Some(mut cf) = r.fields(value, &field) else {
                    continue;
                };
                let env = cf.get("env");
                let file = cf.get("file");
                let reference = match (env, file) {
                    (Some(e), None) => r
                        .nonempty_text(e, &format!("{field}.env"))
                        .map(|env| CredentialRef::Env { env }),
                    (None, Some(p)) => r
                        .nonempty_text(p, &format!("{field}.file"))
                        .map(|p| CredentialRef::File { file: PathBuf::from(p) }),
                    _ => {
                        r.error(
                            value,
                            &field,
                            "expected exactly one of `env` (an environment variable's name) or `file` (a path)",
                        );
                        None
                    }
                };
                cf.finish(r, &["env", "file"]);
                if let Some(reference) = reference {
                    out.insert(name, reference);
                }
            }
            // Never echo the value: it may be the secret itself.
            _ => r.error(
                value,
                &field,
                format!(
                    "credential `{name}` is written inline ({}); secrets are never written in the configuration: {USE_A_REFERENCE}",
                    value.value.describe()
                ),
            ),
        }
    }
    out
}

pub(super) fn read_settings(r: &mut Reader, node: &Node, path: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(mut f) = r.fields(node, path) else {
        return out;
    };
    for (name, _, value) in f.all() {
        let field = f.path_of(&name);
        if looks_secret(&name) {
            r.error(
                value,
                &field,
                format!(
                    "setting `{name}` looks like a secret and holds a literal value; secrets are never written in the configuration: {USE_A_REFERENCE}"
                ),
            );
            continue;
        }
        if let Some(v) = r.text(value, &field) {
            out.insert(name, v);
        }
    }
    out
}
