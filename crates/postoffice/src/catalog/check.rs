//! `postoffice catalog check`: the catalog's own validity, as a report other checks extend.

use std::path::Path;

use super::{Catalog, CatalogProblem};

/// The outcome of checking a catalog. Further checks (for example "the Terraform agrees with
/// the catalog") read `catalog` and append to `problems`.
#[derive(Debug)]
pub struct CheckReport {
    /// The catalog, when it loaded without problems.
    pub catalog: Option<Catalog>,
    pub problems: Vec<CatalogProblem>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn push(&mut self, problem: CatalogProblem) {
        self.problems.push(problem);
    }

    /// One line per event (`ok COOKING_REQUESTED actor-to-backend producers=… consumers=…`, and
    /// ` collection_max_wait_s=N` for events devices may collect) when there are no problems,
    /// otherwise one line per problem.
    pub fn lines(&self) -> Vec<String> {
        if !self.is_ok() {
            return self
                .problems
                .iter()
                .map(|problem| format!("error {problem}"))
                .collect();
        }
        self.catalog
            .iter()
            .flat_map(Catalog::events)
            .map(|event| {
                let mut line = format!(
                    "ok {} {} producers={} consumers={}",
                    event.name,
                    event.direction,
                    event.producers.join(","),
                    event.consumers.join(",")
                );
                if let Some(collection) = &event.collection {
                    line.push_str(&format!(" collection_max_wait_s={}", collection.max_wait_s));
                }
                line
            })
            .collect()
    }
}

/// Loads and validates the catalog in `dir`.
pub fn check(dir: &Path) -> CheckReport {
    match Catalog::load(dir) {
        Ok(catalog) => CheckReport {
            catalog: Some(catalog),
            problems: Vec::new(),
        },
        Err(error) => CheckReport {
            catalog: None,
            problems: error.problems,
        },
    }
}
