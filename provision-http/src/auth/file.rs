//! Credential files: read whole, trailing newline stripped (an editor or `echo` adds
//! one, and `SSWS token\n` is not a header a server accepts).

use std::path::{Path, PathBuf};

use secrecy::SecretString;

/// A credential file that cannot be read. Never carries the content.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the credential file {path}: {source}")]
pub struct CredentialFileError {
    /// The file.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// Reads a credential file (a token, a PEM key, a key file's JSON), its trailing
/// newline(s) stripped. Other whitespace is kept: it may be part of the secret.
pub fn read_secret_file(path: &Path) -> Result<SecretString, CredentialFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| CredentialFileError {
        path: path.to_owned(),
        source,
    })?;
    Ok(SecretString::from(strip_trailing_newline(text)))
}

/// `"token\r\n"` → `"token"` (in place, no copy of the secret).
pub fn strip_trailing_newline(mut text: String) -> String {
    let kept = text.trim_end_matches(['\n', '\r']).len();
    text.truncate(kept);
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn trailing_newlines_are_stripped_and_nothing_else() {
        assert_eq!(strip_trailing_newline("tok\n".into()), "tok");
        assert_eq!(strip_trailing_newline("tok\r\n\n".into()), "tok");
        assert_eq!(strip_trailing_newline(" tok ".into()), " tok ");
        assert_eq!(strip_trailing_newline("a\nb\n".into()), "a\nb");
    }

    #[test]
    fn a_file_is_read_and_a_missing_one_named() {
        let path = std::env::temp_dir().join(format!("provision-http-cred-{}", std::process::id()));
        std::fs::write(&path, "glpat-secret\n").unwrap();
        assert_eq!(
            read_secret_file(&path).unwrap().expose_secret(),
            "glpat-secret"
        );
        std::fs::remove_file(&path).unwrap();
        let e = read_secret_file(&path).unwrap_err();
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    }
}
