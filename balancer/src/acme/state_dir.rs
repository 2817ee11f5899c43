//! The ACME state directory: the account's credentials and the current certificate chain and
//! key, kept across restarts. The directory is 0700 and every file 0600 (the account key and
//! the certificate key are secrets); files are replaced atomically (write, fsync, rename), so
//! a crash never leaves half a key behind.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use instant_acme::AccountCredentials;
use serde::{Deserialize, Serialize};

const ACCOUNT: &str = "account.json";
const CHAIN: &str = "certificate.pem";
const KEY: &str = "certificate.key";
const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// A failure to read or write the state directory, naming the path.
#[derive(Debug, thiserror::Error)]
#[error("ACME state {path}: {source}")]
pub struct StateError {
    path: PathBuf,
    source: io::Error,
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError {
        path: path.to_owned(),
        source,
    }
}

/// The stored account: its credentials are only good for the directory that issued them.
#[derive(Serialize, Deserialize)]
pub struct StoredAccount {
    pub directory: String,
    pub credentials: AccountCredentials,
}

/// A stored certificate chain and its private key, both PEM.
pub struct StoredCertificate {
    pub chain_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// Creates the directory (and its parents) if needed and tightens its mode to 0700.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(path)
            .map_err(at(path))?;
        fs::set_permissions(path, Permissions::from_mode(DIR_MODE)).map_err(at(path))?;
        Ok(Self {
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored account, if one was stored and still parses.
    pub fn account(&self) -> Result<Option<StoredAccount>, StateError> {
        let path = self.path.join(ACCOUNT);
        let Some(text) = read_if_present(&path)? else {
            return Ok(None);
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|error| at(&path)(io::Error::new(io::ErrorKind::InvalidData, error)))
    }

    pub fn store_account(&self, account: &StoredAccount) -> Result<(), StateError> {
        let path = self.path.join(ACCOUNT);
        let text = serde_json::to_vec_pretty(account)
            .map_err(|error| at(&path)(io::Error::new(io::ErrorKind::InvalidData, error)))?;
        self.replace(ACCOUNT, &text)
    }

    /// Drops the stored account (the server no longer knows it), so the next one is created.
    pub fn forget_account(&self) -> Result<(), StateError> {
        let path = self.path.join(ACCOUNT);
        match fs::remove_file(&path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(at(&path)(error)),
            _ => Ok(()),
        }
    }

    /// The stored certificate, when both its chain and key are there.
    pub fn certificate(&self) -> Result<Option<StoredCertificate>, StateError> {
        let chain = read_if_present(&self.path.join(CHAIN))?;
        let key = read_if_present(&self.path.join(KEY))?;
        Ok(chain
            .zip(key)
            .map(|(chain_pem, key_pem)| StoredCertificate { chain_pem, key_pem }))
    }

    /// Stores a certificate: the key first, so a chain on disk always has its key beside it.
    pub fn store_certificate(&self, certificate: &StoredCertificate) -> Result<(), StateError> {
        self.replace(KEY, &certificate.key_pem)?;
        self.replace(CHAIN, &certificate.chain_pem)
    }

    /// Writes `name` as a new 0600 file and renames it over the old one.
    fn replace(&self, name: &str, contents: &[u8]) -> Result<(), StateError> {
        let path = self.path.join(name);
        let temporary = self.path.join(format!(".{name}.new"));
        let write = || -> io::Result<()> {
            let _ = fs::remove_file(&temporary);
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(FILE_MODE)
                .open(&temporary)?;
            file.write_all(contents)?;
            file.sync_all()?;
            fs::rename(&temporary, &path)
        };
        write().map_err(at(&path))
    }
}

fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(at(path)(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_directory_is_created_0700_and_files_are_0600() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("nested/acme");
        let state = StateDir::open(&path).unwrap();
        assert_eq!(mode(&path), 0o700);
        let certificate = StoredCertificate {
            chain_pem: b"chain".to_vec(),
            key_pem: b"key".to_vec(),
        };
        state.store_certificate(&certificate).unwrap();
        assert_eq!(mode(&path.join(CHAIN)), 0o600);
        assert_eq!(mode(&path.join(KEY)), 0o600);
        let read = state.certificate().unwrap().unwrap();
        assert_eq!(
            (read.chain_pem, read.key_pem),
            (b"chain".to_vec(), b"key".to_vec())
        );
    }

    #[test]
    fn a_loose_existing_directory_is_tightened() {
        let root = tempfile::tempdir().unwrap();
        fs::set_permissions(root.path(), Permissions::from_mode(0o755)).unwrap();
        StateDir::open(root.path()).unwrap();
        assert_eq!(mode(root.path()), 0o700);
    }

    #[test]
    fn an_empty_directory_has_no_account_and_no_certificate() {
        let root = tempfile::tempdir().unwrap();
        let state = StateDir::open(root.path()).unwrap();
        assert!(state.account().unwrap().is_none());
        assert!(state.certificate().unwrap().is_none());
        state.forget_account().unwrap();
        fs::write(root.path().join(CHAIN), "chain without key").unwrap();
        assert!(state.certificate().unwrap().is_none());
    }

    #[test]
    fn a_corrupt_account_file_is_an_error_naming_it() {
        let root = tempfile::tempdir().unwrap();
        let state = StateDir::open(root.path()).unwrap();
        fs::write(root.path().join(ACCOUNT), "{not json").unwrap();
        let error = state.account().err().unwrap().to_string();
        assert!(error.contains("account.json"), "{error}");
    }
}
