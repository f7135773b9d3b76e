//! Lambda zips, as `make package` builds them for AWS: `<dir>/<binary>/bootstrap.zip` holding
//! the binary as `bootstrap` and whatever the package lists under
//! `[package.metadata.postoffice.lambda] include` (the kitchen's `recipes/`). The local post
//! office applies the Terraform with these zips, so a file missing from a zip is missing for the
//! function here as it would be in AWS.
//!
//! Locally the binaries are the workspace's own builds for this machine (debug or release),
//! stripped of debug info as a release zip is; AWS's arm64 target is the one difference.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// A packaged function.
#[derive(Debug, Clone)]
pub struct Package {
    /// The workspace binary (and package) name.
    pub binary: String,
    pub zip: PathBuf,
}

/// What a Lambda package puts beside `bootstrap`, from `cargo metadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageContents {
    pub binary: String,
    pub manifest_dir: PathBuf,
    pub include: Vec<String>,
}

/// Reads each package's include list from the workspace metadata (`cargo metadata` JSON).
pub fn contents_from_metadata(
    metadata: &serde_json::Value,
    binaries: &[&str],
) -> anyhow::Result<Vec<PackageContents>> {
    let packages = metadata["packages"]
        .as_array()
        .context("cargo metadata has no packages")?;
    binaries
        .iter()
        .map(|binary| {
            let package = packages
                .iter()
                .find(|package| package["name"] == *binary)
                .with_context(|| format!("no workspace package named {binary}"))?;
            let manifest = package["manifest_path"]
                .as_str()
                .context("package without manifest_path")?;
            let include = match &package["metadata"]["postoffice"]["lambda"]["include"] {
                serde_json::Value::Null => Vec::new(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|item| {
                        item.as_str().map(str::to_owned).with_context(|| {
                            format!("{binary}: package.metadata.postoffice.lambda.include must list paths")
                        })
                    })
                    .collect::<anyhow::Result<_>>()?,
                _ => bail!("{binary}: package.metadata.postoffice.lambda.include must be a list"),
            };
            Ok(PackageContents {
                binary: (*binary).to_owned(),
                manifest_dir: Path::new(manifest)
                    .parent()
                    .context("manifest without directory")?
                    .to_owned(),
                include,
            })
        })
        .collect()
}

/// `cargo metadata --no-deps` of the workspace at `root`.
pub fn workspace_metadata(root: &Path) -> anyhow::Result<serde_json::Value> {
    let output = std::process::Command::new("cargo")
        .current_dir(root)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// Writes `<out_dir>/<binary>/bootstrap.zip` from the built `binary_path` and the package's
/// includes.
pub fn package(
    contents: &PackageContents,
    binary_path: &Path,
    out_dir: &Path,
) -> anyhow::Result<Package> {
    let dir = out_dir.join(&contents.binary);
    std::fs::create_dir_all(&dir)?;
    let stripped = dir.join("bootstrap");
    strip(binary_path, &stripped)?;
    let zip_path = dir.join("bootstrap.zip");
    let file = std::fs::File::create(&zip_path)
        .with_context(|| format!("creating {}", zip_path.display()))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let executable = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .unix_permissions(0o755);
    zip.start_file("bootstrap", executable)?;
    zip.write_all(&std::fs::read(&stripped)?)?;
    std::fs::remove_file(&stripped)?;
    for include in &contents.include {
        let source = contents.manifest_dir.join(include);
        if !source.exists() {
            bail!(
                "{}: include {include} does not exist ({})",
                contents.binary,
                source.display()
            );
        }
        add_tree(&mut zip, &source, Path::new(include))?;
    }
    zip.finish()?.flush()?;
    Ok(Package {
        binary: contents.binary.clone(),
        zip: zip_path,
    })
}

fn add_tree<W: std::io::Write + std::io::Seek>(
    zip: &mut zip::ZipWriter<W>,
    source: &Path,
    name: &Path,
) -> anyhow::Result<()> {
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    if source.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(source)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            add_tree(zip, &entry.path(), &name.join(entry.file_name()))?;
        }
    } else {
        zip.start_file(name.to_string_lossy(), options)?;
        zip.write_all(&std::fs::read(source)?)?;
    }
    Ok(())
}

/// A release zip carries no debug info; `strip` makes the local debug builds comparable in size
/// (and well within Lambda's 50 MB upload limit).
fn strip(binary: &Path, out: &Path) -> anyhow::Result<()> {
    let status = std::process::Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(out)
        .arg(binary)
        .status();
    match status {
        Ok(status) if status.success() => Ok(()),
        _ => {
            std::fs::copy(binary, out).with_context(|| format!("copying {}", binary.display()))?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kitchen_zip_carries_its_recipes_beside_bootstrap() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let metadata = workspace_metadata(&root).unwrap();
        let contents =
            contents_from_metadata(&metadata, &["example-kitchen", "sns-bridge"]).unwrap();
        assert_eq!(contents[0].include, vec!["recipes".to_owned()]);
        assert!(contents[1].include.is_empty());

        let dir = tempfile::tempdir().unwrap();
        let fake_binary = dir.path().join("example-kitchen");
        std::fs::write(&fake_binary, b"#!/bin/sh\n").unwrap();
        let package = package(&contents[0], &fake_binary, &dir.path().join("zips")).unwrap();
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&package.zip).unwrap()).unwrap();
        let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
        assert!(names.contains(&"bootstrap".to_owned()), "{names:?}");
        assert!(
            names.contains(&"recipes/sourdough-loaf.json".to_owned()),
            "{names:?}"
        );
        let bootstrap = archive.by_name("bootstrap").unwrap();
        assert_eq!(bootstrap.unix_mode().unwrap() & 0o777, 0o755);
    }

    #[test]
    fn a_missing_include_is_named() {
        let metadata = serde_json::json!({"packages": [{
            "name": "x", "manifest_path": "/nowhere/x/Cargo.toml",
            "metadata": {"postoffice": {"lambda": {"include": ["data"]}}}
        }]});
        let contents = contents_from_metadata(&metadata, &["x"]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("x");
        std::fs::write(&binary, b"").unwrap();
        let error = package(&contents[0], &binary, &dir.path().join("packages"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("include data does not exist"), "{error}");
    }
}
