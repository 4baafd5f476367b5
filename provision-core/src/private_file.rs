//! Files that hold HR data, audit records or plans are created readable by their
//! owner only (`0600` on Unix): the journal, the audit log, the store's database, the
//! SIEM's JSON lines, exports. A file that already exists keeps its permissions (an
//! operator who chose them knows why).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Opens `path` for appending, creating it `0600` when missing.
pub fn open_append(path: &Path) -> io::Result<File> {
    options().append(true).open(path)
}

/// Creates (or truncates) `path` for writing, `0600` when it is created.
pub fn create(path: &Path) -> io::Result<File> {
    options().write(true).truncate(true).open(path)
}

/// Creates `path` empty and `0600` when it is missing, so that whatever opens it next
/// (SQLite, which gives its `-wal` and `-shm` files the database's permissions) starts
/// from a private file. Does nothing to a file that exists.
pub fn ensure(path: &Path) -> io::Result<()> {
    match options().write(true).create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A folder removed when the test ends.
    struct Dir(std::path::PathBuf);
    impl Dir {
        fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_private_and_existing_ones_keep_their_mode() {
        let dir = std::env::temp_dir().join(format!("provision-private-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dir = Dir(dir);
        let appended = dir.path().join("audit.jsonl");
        open_append(&appended).unwrap();
        assert_eq!(mode(&appended), 0o600);
        let created = dir.path().join("export.csv");
        create(&created).unwrap();
        assert_eq!(mode(&created), 0o600);
        let db = dir.path().join("store.db");
        ensure(&db).unwrap();
        assert_eq!(mode(&db), 0o600);

        let shared = dir.path().join("shared.jsonl");
        std::fs::write(&shared, "").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
        open_append(&shared).unwrap();
        ensure(&shared).unwrap();
        assert_eq!(mode(&shared), 0o640);
    }
}
