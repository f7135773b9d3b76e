//! The functions' code as it was uploaded: Lambda keeps each zip by its SHA-256 (`CodeSha256`,
//! base64), and so does the local post office, from the `CreateFunction` and
//! `UpdateFunctionCode` calls it sees. A function runs from its zip extracted into a task root,
//! as Lambda extracts it into `/var/task`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Lambda's limit for a zip uploaded directly (`ZipFile`), and for its contents unzipped
/// (<https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>).
pub const MAX_DIRECT_UPLOAD_BYTES: usize = 50 * 1024 * 1024;
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;

pub struct CodeStore {
    dir: PathBuf,
}

/// `CodeSha256` as Lambda reports it: the base64 of the zip's SHA-256.
pub fn code_sha256(zip: &[u8]) -> String {
    BASE64.encode(digest::digest(&digest::SHA256, zip).as_ref())
}

fn file_name(sha256: &str) -> String {
    // Base64 may contain '/', which a file name may not.
    sha256.replace('/', "_").replace('+', "-")
}

impl CodeStore {
    pub fn new(dir: PathBuf) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("zips"))?;
        std::fs::create_dir_all(dir.join("tasks"))?;
        Ok(Self { dir })
    }

    /// Keeps a zip; returns its `CodeSha256`.
    pub fn save(&self, zip: &[u8]) -> anyhow::Result<String> {
        let sha256 = code_sha256(zip);
        let path = self
            .dir
            .join("zips")
            .join(format!("{}.zip", file_name(&sha256)));
        if !path.exists() {
            let partial = path.with_extension("partial");
            std::fs::write(&partial, zip)?;
            std::fs::rename(&partial, &path)?;
        }
        Ok(sha256)
    }

    /// The task root of the code with `sha256`, extracted on first use.
    pub fn task_root(&self, sha256: &str) -> anyhow::Result<PathBuf> {
        let name = file_name(sha256);
        let root = self.dir.join("tasks").join(&name);
        if root.join(".complete").exists() {
            return Ok(root);
        }
        let zip = self.dir.join("zips").join(format!("{name}.zip"));
        let file = std::fs::File::open(&zip).with_context(|| {
            format!("no code with CodeSha256 {sha256} was uploaded to the local post office")
        })?;
        let mut archive = zip::ZipArchive::new(file).context("the function's code is not a zip")?;
        let unzipped: u64 = (0..archive.len())
            .filter_map(|index| archive.by_index(index).ok().map(|entry| entry.size()))
            .sum();
        if unzipped > MAX_UNZIPPED_BYTES {
            bail!("the code unzips to {unzipped} bytes; Lambda allows {MAX_UNZIPPED_BYTES}");
        }
        let staging = root.with_extension("extracting");
        let _ = std::fs::remove_dir_all(&staging);
        archive.extract(&staging)?;
        let _ = std::fs::remove_dir_all(&root);
        std::fs::rename(&staging, &root)?;
        std::fs::write(root.join(".complete"), b"")?;
        Ok(root)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn a_saved_zip_extracts_with_its_modes() {
        let dir = tempfile::tempdir().unwrap();
        let store = CodeStore::new(dir.path().to_owned()).unwrap();
        let mut buffer = std::io::Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut buffer);
            zip.start_file(
                "bootstrap",
                zip::write::SimpleFileOptions::default().unix_permissions(0o755),
            )
            .unwrap();
            zip.write_all(b"#!/bin/sh\n").unwrap();
            zip.start_file("recipes/a.json", zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(b"{}").unwrap();
            zip.finish().unwrap();
        }
        let bytes = buffer.into_inner();
        let sha = store.save(&bytes).unwrap();
        assert_eq!(sha, code_sha256(&bytes));
        let root = store.task_root(&sha).unwrap();
        assert!(root.join("recipes/a.json").exists());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(root.join("bootstrap"))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o111, 0o111);
        assert!(store.task_root("unknown").is_err());
    }
}
