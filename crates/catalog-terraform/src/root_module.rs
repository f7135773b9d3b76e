//! Reads the `module` blocks of a Terraform root module that matter to the catalog.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use hcl::expr::Expression;
use hcl::{Block, Body};

use crate::static_value::{Scope, StaticValue};

/// Which Post Office module a `module` block instantiates, by the last directory of its source
/// (`../../modules/event`, `git::https://…//terraform/modules/event?ref=v1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    /// Reads the event catalog (`terraform/modules/catalog`): its outputs are the catalog's.
    Catalog,
    Platform,
    Event,
    Consumer,
}

impl ModuleKind {
    fn from_source(source: &str) -> Option<Self> {
        let without_query = source.split('?').next().unwrap_or(source);
        let last = without_query
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("");
        match last {
            "catalog" => Some(ModuleKind::Catalog),
            "platform" => Some(ModuleKind::Platform),
            "event" => Some(ModuleKind::Event),
            "consumer" => Some(ModuleKind::Consumer),
            _ => None,
        }
    }
}

/// One instance of a module block: a plain block, or one `for_each` element.
#[derive(Debug, Clone)]
pub struct ModuleInstance {
    pub kind: ModuleKind,
    /// `module.<label>` or `module.<label>["<key>"]`.
    pub address: String,
    pub file: String,
    attributes: BTreeMap<String, StaticValue>,
}

impl ModuleInstance {
    /// The attribute's value; `None` when the block does not set it.
    pub fn attribute(&self, name: &str) -> Option<&StaticValue> {
        self.attributes.get(name)
    }
}

#[derive(Debug, Default)]
pub struct RootModule {
    pub modules: Vec<ModuleInstance>,
    /// Blocks whose instances could not be enumerated (`for_each` over a value not known
    /// before Terraform runs), with the file they are in.
    pub unreadable: Vec<(String, String, String)>,
}

#[derive(Debug)]
pub struct ReadError {
    pub file: String,
    pub message: String,
}

impl RootModule {
    /// Parses every `*.tf` file directly in `dir` (a root module is one directory).
    /// `catalog_outputs` is what every catalog module block evaluates to (`module.<label>`):
    /// the outputs of the catalog module for the catalog being checked.
    pub fn read(dir: &Path, catalog_outputs: &StaticValue) -> Result<RootModule, ReadError> {
        let files = tf_files(dir)?;
        let mut bodies = Vec::new();
        for path in files {
            let file = path.display().to_string();
            let text = fs::read_to_string(&path).map_err(|e| ReadError {
                file: file.clone(),
                message: format!("cannot read: {e}"),
            })?;
            let body = hcl::parse(&text).map_err(|e| ReadError {
                file: file.clone(),
                message: format!("not valid HCL: {e}"),
            })?;
            bodies.push((file, body));
        }

        // Terraform resolves relative paths against the root module's directory, where
        // `path.module` is ".".
        let mut scope = Scope {
            path_module: Some(".".to_owned()),
            ..Scope::default()
        };
        for (_, body) in &bodies {
            collect_scope(body, &mut scope);
        }
        for (_, body) in &bodies {
            for block in body.blocks().filter(|b| b.identifier() == "module") {
                let source = attribute_expr(block.body(), "source").map(|e| scope.eval(e));
                let is_catalog = source
                    .as_ref()
                    .and_then(StaticValue::as_str)
                    .and_then(ModuleKind::from_source)
                    == Some(ModuleKind::Catalog);
                if let (true, Some(label)) = (is_catalog, block.labels().first()) {
                    scope
                        .modules
                        .insert(label.as_str().to_owned(), catalog_outputs.clone());
                }
            }
        }

        let mut root = RootModule::default();
        for (file, body) in &bodies {
            for block in body.blocks().filter(|b| b.identifier() == "module") {
                root.add_module(file, block, &scope);
            }
        }
        Ok(root)
    }

    fn add_module(&mut self, file: &str, block: &Block, scope: &Scope) {
        let Some(label) = block.labels().first().map(|l| l.as_str().to_owned()) else {
            return;
        };
        let body = block.body();
        let source = attribute_expr(body, "source").map(|e| scope.eval(e));
        let Some(kind) = source
            .as_ref()
            .and_then(StaticValue::as_str)
            .and_then(ModuleKind::from_source)
        else {
            return;
        };

        let instances: Vec<(String, Scope)> = match attribute_expr(body, "for_each") {
            None => vec![(format!("module.{label}"), scope.clone())],
            Some(for_each) => match scope.eval(for_each) {
                StaticValue::List(items) if items.iter().all(|i| i.as_str().is_some()) => items
                    .into_iter()
                    .map(|item| {
                        let key = item.as_str().unwrap_or_default().to_owned();
                        let mut each = scope.clone();
                        each.each = Some((item.clone(), item));
                        (format!("module.{label}[\"{key}\"]"), each)
                    })
                    .collect(),
                StaticValue::Map(map) => map
                    .into_iter()
                    .map(|(key, value)| {
                        let mut each = scope.clone();
                        each.each = Some((StaticValue::String(key.clone()), value));
                        (format!("module.{label}[\"{key}\"]"), each)
                    })
                    .collect(),
                _ => {
                    self.unreadable.push((
                        file.to_owned(),
                        format!("module.{label}"),
                        "its for_each is not known before Terraform runs, so its instances cannot be checked".to_owned(),
                    ));
                    return;
                }
            },
        };

        for (address, instance_scope) in instances {
            let attributes = body
                .attributes()
                .filter(|a| {
                    !matches!(
                        a.key(),
                        "source" | "for_each" | "count" | "providers" | "depends_on"
                    )
                })
                .map(|a| (a.key().to_owned(), instance_scope.eval(a.expr())))
                .collect();
            self.modules.push(ModuleInstance {
                kind,
                address,
                file: file.to_owned(),
                attributes,
            });
        }
    }

    pub fn of_kind(&self, kind: ModuleKind) -> impl Iterator<Item = &ModuleInstance> {
        self.modules.iter().filter(move |m| m.kind == kind)
    }
}

fn tf_files(dir: &Path) -> Result<Vec<PathBuf>, ReadError> {
    let entries = fs::read_dir(dir).map_err(|e| ReadError {
        file: dir.display().to_string(),
        message: format!("cannot read the Terraform root module: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "tf"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ReadError {
            file: dir.display().to_string(),
            message: "no .tf files: not a Terraform root module".to_owned(),
        });
    }
    Ok(files)
}

fn attribute_expr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

fn collect_scope(body: &Body, scope: &mut Scope) {
    for block in body.blocks() {
        match block.identifier() {
            "locals" => {
                for attribute in block.body().attributes() {
                    scope
                        .locals
                        .insert(attribute.key().to_owned(), attribute.expr().clone());
                }
            }
            "variable" => {
                if let (Some(name), Some(default)) = (
                    block.labels().first(),
                    attribute_expr(block.body(), "default"),
                ) {
                    scope
                        .variables
                        .insert(name.as_str().to_owned(), default.clone());
                }
            }
            _ => {}
        }
    }
}
