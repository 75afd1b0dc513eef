//! The recovery codes file in the download folder. The folder is shared
//! with whatever the user downloads or unpacks there, so the name may
//! already be taken by a link (which would send the codes elsewhere) or by
//! a file others can read: the codes go only into a plain file of our own,
//! readable by its owner alone.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use tessera_client::{ErrorPayload, Lang};

/// Why the codes were not saved.
#[derive(Debug)]
pub enum SaveError {
    /// None kept: already saved, or the user moved on (shown only once).
    NoCodes,
    NoDownloadFolder,
    /// A symbolic or hard link, or not a regular file: nothing was written.
    NotAPlainFile {
        path: PathBuf,
    },
    Io {
        path: PathBuf,
        reason: String,
    },
}

impl SaveError {
    /// Stable machine code; the UI branches on it.
    pub fn code(&self) -> &'static str {
        match self {
            SaveError::NoCodes => "not_found",
            SaveError::NotAPlainFile { .. } => "unsafe_file",
            SaveError::NoDownloadFolder | SaveError::Io { .. } => "io",
        }
    }

    pub fn message(&self, lang: Lang) -> String {
        match self {
            SaveError::NoCodes => lang
                .pick(
                    "There are no recovery codes to save: they are shown only once.",
                    "Il n'y a pas de codes de secours à enregistrer : ils ne sont affichés \
                     qu'une fois.",
                )
                .to_owned(),
            SaveError::NoDownloadFolder => lang
                .pick(
                    "No download folder was found.",
                    "Aucun dossier de téléchargement trouvé.",
                )
                .to_owned(),
            SaveError::NotAPlainFile { path } => match lang {
                Lang::En => format!(
                    "{} is a link or a special file, so the recovery codes were not written \
                     there: remove it and save again.",
                    path.display()
                ),
                Lang::Fr => format!(
                    "{} est un lien ou un fichier spécial, les codes de secours n'y ont donc pas \
                     été écrits : supprimez-le et enregistrez à nouveau.",
                    path.display()
                ),
            },
            SaveError::Io { path, reason } => match lang {
                Lang::En => format!("Cannot write {}: {reason}", path.display()),
                Lang::Fr => format!("Impossible d'écrire {} : {reason}", path.display()),
            },
        }
    }

    pub fn payload(&self, lang: Lang) -> ErrorPayload {
        ErrorPayload {
            code: self.code().to_owned(),
            message: self.message(lang),
        }
    }
}

/// Creates or replaces `path` with `text`, readable by its owner only.
pub fn write_private(path: &Path, text: &str) -> Result<(), SaveError> {
    let io = |e: std::io::Error| SaveError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let mut file = open_private(path)?;
    // Emptied only now: a refused file keeps its content.
    file.set_len(0).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(unix)]
fn open_private(path: &Path) -> Result<File, SaveError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let refused = || SaveError::NotAPlainFile {
        path: path.to_owned(),
    };
    let io = |e: std::io::Error| SaveError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .mode(0o600)
        // open(2) follows a final symbolic link even when creating;
        // O_NONBLOCK keeps a FIFO there from hanging the app until refused.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // ENXIO: a FIFO with no reader (O_NONBLOCK).
            Some(libc::ELOOP | libc::ENXIO) => refused(),
            _ => io(e),
        })?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() || meta.nlink() > 1 {
        return Err(refused());
    }
    // `mode` applies only to a file open creates: an existing one keeps
    // its permissions unless set here, before any code is written.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    Ok(file)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> Result<File, SaveError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .open(path)
        .map_err(|e| SaveError::Io {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_file_and_an_existing_readable_one_end_up_private() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh.txt");
        write_private(&fresh, "codes\n").unwrap();
        assert_eq!(mode(&fresh), 0o600);
        let old = dir.path().join("old.txt");
        std::fs::write(&old, "an older, longer content\n").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&old, "codes\n").unwrap();
        assert_eq!(mode(&old), 0o600);
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "codes\n");
    }

    #[test]
    fn links_and_special_files_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere.txt");
        std::fs::write(&target, "untouched\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let symlink = dir.path().join("symlink.txt");
        std::os::unix::fs::symlink(&target, &symlink).unwrap();
        let dangling = dir.path().join("dangling.txt");
        std::os::unix::fs::symlink(dir.path().join("nothing"), &dangling).unwrap();
        let hardlink = dir.path().join("hardlink.txt");
        std::fs::hard_link(&target, &hardlink).unwrap();
        let fifo = dir.path().join("fifo.txt");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        for path in [&symlink, &dangling, &hardlink, &fifo] {
            let err = write_private(path, "codes\n").unwrap_err();
            assert_eq!(err.code(), "unsafe_file", "{path:?}: {err:?}");
            assert!(
                err.message(Lang::En)
                    .contains("is a link or a special file")
            );
            assert!(err.message(Lang::Fr).contains("est un lien"));
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched\n");
        assert_eq!(mode(&target), 0o644);
        assert!(!dir.path().join("nothing").exists());
    }

    #[test]
    fn every_error_has_a_code_and_both_languages() {
        let path = PathBuf::from("/home/a/Downloads/codes.txt");
        for (e, code) in [
            (SaveError::NoCodes, "not_found"),
            (SaveError::NoDownloadFolder, "io"),
            (
                SaveError::NotAPlainFile { path: path.clone() },
                "unsafe_file",
            ),
            (
                SaveError::Io {
                    path,
                    reason: "disk full".into(),
                },
                "io",
            ),
        ] {
            assert_eq!(e.payload(Lang::Fr).code, code);
            assert_ne!(e.message(Lang::En), e.message(Lang::Fr), "{e:?}");
        }
    }
}
