//! Just enough of Terraform's expression evaluation to read a root module without running it:
//! literals, templates, `var.X` defaults, `local.X`, `path.module`, `each.key`/`each.value`,
//! `module.X` for modules whose outputs are known without running Terraform (the catalog
//! module), and the collection functions people write around lists of event names. Anything
//! else is `Unknown`, and the caller reports that it could not read the attribute rather than
//! guessing.

use std::collections::BTreeMap;

use hcl::expr::{Expression, ObjectKey, Traversal, TraversalOperator};
use hcl::template::{Element, Template};

#[derive(Debug, Clone, PartialEq)]
pub enum StaticValue {
    Null,
    Bool(bool),
    String(String),
    List(Vec<StaticValue>),
    Map(BTreeMap<String, StaticValue>),
    /// Known only when Terraform runs (module outputs, resource attributes) or not understood here.
    Unknown,
}

impl StaticValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            StaticValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The strings of a list (or set), `None` when any element is not a known string.
    pub fn as_strings(&self) -> Option<Vec<String>> {
        match self {
            StaticValue::List(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => None,
        }
    }

    /// The keys of a map or object.
    pub fn keys(&self) -> Option<Vec<String>> {
        match self {
            StaticValue::Map(map) => Some(map.keys().cloned().collect()),
            _ => None,
        }
    }
}

/// What names resolve to while evaluating one module block.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    /// Expressions of `locals { }` entries.
    pub locals: BTreeMap<String, Expression>,
    /// Default values of `variable "X" { default = ... }`.
    pub variables: BTreeMap<String, Expression>,
    /// `each.key` and `each.value` inside a `for_each` module block.
    pub each: Option<(StaticValue, StaticValue)>,
    /// `path.module`: "." in a root module, whose directory relative paths are resolved against.
    pub path_module: Option<String>,
    /// Outputs of module blocks known before Terraform runs, by block label.
    pub modules: BTreeMap<String, StaticValue>,
}

const MAX_DEPTH: usize = 32;

impl Scope {
    pub fn eval(&self, expr: &Expression) -> StaticValue {
        self.eval_at(expr, 0)
    }

    fn eval_at(&self, expr: &Expression, depth: usize) -> StaticValue {
        // Locals may refer to locals; a cycle is a Terraform error, not ours to loop on.
        if depth > MAX_DEPTH {
            return StaticValue::Unknown;
        }
        match expr {
            Expression::Null => StaticValue::Null,
            Expression::Bool(b) => StaticValue::Bool(*b),
            Expression::String(s) => StaticValue::String(s.clone()),
            Expression::TemplateExpr(template) => match Template::from_expr(template) {
                Ok(template) => self.template(&template, depth),
                Err(_) => StaticValue::Unknown,
            },
            Expression::Array(items) => {
                StaticValue::List(items.iter().map(|i| self.eval_at(i, depth + 1)).collect())
            }
            Expression::Object(object) => {
                let mut map = BTreeMap::new();
                for (key, value) in object {
                    let Some(key) = self.object_key(key, depth) else {
                        return StaticValue::Unknown;
                    };
                    map.insert(key, self.eval_at(value, depth + 1));
                }
                StaticValue::Map(map)
            }
            Expression::Parenthesis(inner) => self.eval_at(inner, depth + 1),
            Expression::Traversal(traversal) => self.traverse(traversal, depth),
            Expression::FuncCall(call) if call.name.namespace.is_empty() && !call.expand_final => {
                let args: Vec<StaticValue> = call
                    .args
                    .iter()
                    .map(|a| self.eval_at(a, depth + 1))
                    .collect();
                function(call.name.name.as_str(), args)
            }
            _ => StaticValue::Unknown,
        }
    }

    /// A template whose interpolations all evaluate to strings; directives are not read.
    fn template(&self, template: &Template, depth: usize) -> StaticValue {
        let mut text = String::new();
        for element in template.elements() {
            match element {
                Element::Literal(literal) => text.push_str(literal),
                Element::Interpolation(interpolation) => {
                    match self.eval_at(&interpolation.expr, depth + 1) {
                        StaticValue::String(value) => text.push_str(&value),
                        _ => return StaticValue::Unknown,
                    }
                }
                Element::Directive(_) => return StaticValue::Unknown,
            }
        }
        StaticValue::String(text)
    }

    fn object_key(&self, key: &ObjectKey, depth: usize) -> Option<String> {
        match key {
            ObjectKey::Identifier(ident) => Some(ident.as_str().to_owned()),
            ObjectKey::Expression(expr) => {
                self.eval_at(expr, depth + 1).as_str().map(str::to_owned)
            }
            _ => None,
        }
    }

    fn traverse(&self, traversal: &Traversal, depth: usize) -> StaticValue {
        let Expression::Variable(root) = &traversal.expr else {
            return StaticValue::Unknown;
        };
        let mut operators = traversal.operators.iter();
        let mut value = match root.as_str() {
            "var" | "local" => {
                let Some(TraversalOperator::GetAttr(name)) = operators.next() else {
                    return StaticValue::Unknown;
                };
                let table = if root.as_str() == "var" {
                    &self.variables
                } else {
                    &self.locals
                };
                match table.get(name.as_str()) {
                    Some(expr) => self.eval_at(expr, depth + 1),
                    None => return StaticValue::Unknown,
                }
            }
            "path" => match (operators.next(), &self.path_module) {
                (Some(TraversalOperator::GetAttr(name)), Some(dir))
                    if name.as_str() == "module" =>
                {
                    StaticValue::String(dir.clone())
                }
                _ => return StaticValue::Unknown,
            },
            "module" => {
                let Some(TraversalOperator::GetAttr(name)) = operators.next() else {
                    return StaticValue::Unknown;
                };
                match self.modules.get(name.as_str()) {
                    Some(outputs) => outputs.clone(),
                    None => return StaticValue::Unknown,
                }
            }
            "each" => {
                let (Some(TraversalOperator::GetAttr(name)), Some((key, value))) =
                    (operators.next(), &self.each)
                else {
                    return StaticValue::Unknown;
                };
                match name.as_str() {
                    "key" => key.clone(),
                    "value" => value.clone(),
                    _ => return StaticValue::Unknown,
                }
            }
            _ => return StaticValue::Unknown,
        };
        for operator in operators {
            value = match (operator, value) {
                (TraversalOperator::GetAttr(name), StaticValue::Map(mut map)) => {
                    map.remove(name.as_str()).unwrap_or(StaticValue::Unknown)
                }
                (TraversalOperator::Index(index), StaticValue::Map(mut map)) => {
                    match self.eval_at(index, depth + 1) {
                        StaticValue::String(key) => {
                            map.remove(&key).unwrap_or(StaticValue::Unknown)
                        }
                        _ => StaticValue::Unknown,
                    }
                }
                (TraversalOperator::LegacyIndex(i), StaticValue::List(mut items))
                    if (*i as usize) < items.len() =>
                {
                    items.swap_remove(*i as usize)
                }
                _ => StaticValue::Unknown,
            };
        }
        value
    }
}

fn function(name: &str, args: Vec<StaticValue>) -> StaticValue {
    let mut args = args.into_iter();
    match name {
        "toset" | "tolist" | "distinct" | "sort" => match args.next() {
            Some(StaticValue::List(mut items)) => {
                if name == "toset" || name == "distinct" {
                    dedup_in_order(&mut items);
                }
                if name == "sort" {
                    if items.iter().any(|item| item.as_str().is_none()) {
                        return StaticValue::Unknown;
                    }
                    items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                }
                StaticValue::List(items)
            }
            _ => StaticValue::Unknown,
        },
        "tomap" => match args.next() {
            Some(map @ StaticValue::Map(_)) => map,
            _ => StaticValue::Unknown,
        },
        "keys" => match args.next() {
            Some(StaticValue::Map(map)) => {
                StaticValue::List(map.into_keys().map(StaticValue::String).collect())
            }
            _ => StaticValue::Unknown,
        },
        // The first argument that is neither null nor an empty string.
        "coalesce" => {
            for arg in args {
                match arg {
                    StaticValue::Null => continue,
                    StaticValue::String(s) if s.is_empty() => continue,
                    StaticValue::Unknown => return StaticValue::Unknown,
                    value => return value,
                }
            }
            StaticValue::Unknown
        }
        "concat" | "setunion" => {
            let mut all = Vec::new();
            for arg in args {
                match arg {
                    StaticValue::List(items) => all.extend(items),
                    _ => return StaticValue::Unknown,
                }
            }
            if name == "setunion" {
                dedup_in_order(&mut all);
            }
            StaticValue::List(all)
        }
        "merge" => {
            let mut merged = BTreeMap::new();
            for arg in args {
                match arg {
                    StaticValue::Map(map) => merged.extend(map),
                    _ => return StaticValue::Unknown,
                }
            }
            StaticValue::Map(merged)
        }
        _ => StaticValue::Unknown,
    }
}

fn dedup_in_order(items: &mut Vec<StaticValue>) {
    let mut seen = Vec::new();
    items.retain(|item| {
        if seen.contains(item) {
            false
        } else {
            seen.push(item.clone());
            true
        }
    });
}
