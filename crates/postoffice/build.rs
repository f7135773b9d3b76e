//! Compiles the repository's event catalog into the library (`Catalog::embedded`), so handler
//! Lambdas carry the schemas they validate against. `POSTOFFICE_EVENT_CATALOG` points at another
//! catalog directory.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=POSTOFFICE_EVENT_CATALOG");
    let dir = match env::var_os("POSTOFFICE_EVENT_CATALOG") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(&env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("../../event-catalog"),
    };
    // A directory here makes cargo rerun when any file inside it changes.
    println!("cargo:rerun-if-changed={}", dir.display());

    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|error| {
            panic!(
                "cannot read the event catalog {} (set POSTOFFICE_EVENT_CATALOG): {error}",
                dir.display()
            )
        })
        .map(|entry| entry.expect("catalog directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();

    let mut code = String::from("static EMBEDDED_CATALOG: &[(&str, &str)] = &[\n");
    for path in &files {
        let path = path.canonicalize().expect("catalog file path");
        let name = path.file_name().expect("file name").to_string_lossy();
        writeln!(code, "    ({name:?}, include_str!({:?})),", path.display()).unwrap();
    }
    code.push_str("];\n");

    let out = Path::new(&env::var_os("OUT_DIR").expect("set by cargo")).join("embedded_catalog.rs");
    fs::write(out, code).expect("write embedded_catalog.rs");
}
