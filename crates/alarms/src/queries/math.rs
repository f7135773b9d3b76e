//! Metric math expressions, parsed, typed and evaluated per period as "Metric math syntax and
//! functions" describes them:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html#metric-math-syntax>.
//!
//! Values are scalars (S), time series (TS) and arrays of time series (TS[]). A time series here
//! holds one value per period of the evaluation range, or none where it has no datapoint.
//! - Arithmetic (`+ - * / ^`) between two time series treats a missing value as 0 where the
//!   other has one; with a scalar, only the series' datapoints count. A result that divides by
//!   zero is dropped ("the data point is dropped"), and so is any other non-finite result.
//! - Comparison (`== != <= >= < >`) and logical operators (`AND && OR ||`) give 1 or 0, a
//!   missing value in one of two series counting as 0.
//! - `IF` follows the rules and tables of "Using IF expressions".
//! - `SUM`, `AVG`, `MIN`, `MAX` and `DATAPOINT_COUNT` of one series give a scalar over the whole
//!   evaluation range (the range CloudWatch retrieves is longer than Evaluation Periods; the docs
//!   advise against these scalars in alarms for that reason). Of an array they give a series: the
//!   values present at each period; `AVG` divides by the number of series, missing values
//!   counting as 0 as documented. The docs do not say how `MIN` and `MAX` of an array treat a
//!   missing value; they take the values present.
//! - `FILL(x, S | TS)` fills every period of the range where `x` has no value.
//!
//! Refused: `SEARCH` (an alarm watches one time series), `FILL` with `REPEAT` or `LINEAR`, and
//! every other function (`ANOMALY_DETECTION_BAND`, `INSIGHT_RULE_METRIC`, `SERVICE_QUOTA`,
//! `LAMBDA`, `SORT`, `RATE`, ...), each named.

use std::fmt;

/// One value per period of the evaluation range, most recent first; `None` where missing.
pub(crate) type Series = Vec<Option<f64>>;

/// What an expression evaluates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Scalar,
    Series,
    Array,
}

impl Kind {
    pub(crate) fn described(self) -> &'static str {
        match self {
            Kind::Scalar => "a scalar",
            Kind::Series => "a single time series",
            Kind::Array => "an array of time series",
        }
    }
}

/// A computed value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Scalar(Option<f64>),
    Series(Series),
    Array(Vec<Series>),
}

/// Why an expression was refused; `at` is the 1-based character position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExpressionError {
    Invalid { at: usize, message: String },
    Unsupported { at: usize, what: String },
}

fn invalid<T>(at: usize, message: impl Into<String>) -> Result<T, ExpressionError> {
    Err(ExpressionError::Invalid {
        at,
        message: message.into(),
    })
}

/// A parsed metric math expression.
#[derive(Debug, Clone, PartialEq)]
pub struct MathExpression {
    source: String,
    root: Node,
}

/// A query an expression can read: its id, its kind (`None` while unknown) and whether it
/// retrieves a metric (`MetricStat`), which `METRICS()` and `PERIOD()` take.
pub(crate) struct QueryKind<'a> {
    pub(crate) id: &'a str,
    pub(crate) kind: Option<Kind>,
    pub(crate) is_metric: bool,
}

/// A query's computed value, for evaluation.
pub(crate) struct QueryValue<'a> {
    pub(crate) id: &'a str,
    pub(crate) value: Option<&'a Value>,
    pub(crate) is_metric: bool,
}

/// What an evaluation reads.
pub(crate) struct Inputs<'a> {
    /// The number of periods in the range.
    pub(crate) len: usize,
    pub(crate) period_seconds: u32,
    pub(crate) queries: &'a [QueryValue<'a>],
}

impl Inputs<'_> {
    fn missing(&self) -> Series {
        vec![None; self.len]
    }

    fn query(&self, id: &str) -> Option<&Value> {
        self.queries
            .iter()
            .find(|query| query.id == id)
            .and_then(|query| query.value)
    }
}

impl MathExpression {
    pub(crate) fn parse(source: &str) -> Result<Self, ExpressionError> {
        let tokens = tokenize(source)?;
        let mut parser = Parser {
            tokens,
            next: 0,
            depth: 0,
            end: source.chars().count() + 1,
        };
        let root = parser.expression()?;
        if let Some((token, at)) = parser.tokens.get(parser.next) {
            return invalid(
                *at,
                format!("expected an operator or the end of the expression, found {token}"),
            );
        }
        Ok(MathExpression {
            source: source.to_owned(),
            root,
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The query ids it names, with their positions, in order of appearance.
    pub(crate) fn references(&self) -> Vec<(&str, usize)> {
        let mut found = Vec::new();
        self.root.references(&mut found);
        found
    }

    /// What it evaluates to, given what the queries it names evaluate to.
    pub(crate) fn kind(&self, queries: &[QueryKind]) -> Result<Kind, ExpressionError> {
        self.root.kind(queries)
    }

    pub(crate) fn evaluate(&self, inputs: &Inputs) -> Value {
        self.root.evaluate(inputs)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Subtract,
    Multiply,
    Divide,
    Power,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    And,
    Or,
}

impl Op {
    fn is_arithmetic(self) -> bool {
        matches!(
            self,
            Op::Add | Op::Subtract | Op::Multiply | Op::Divide | Op::Power
        )
    }

    fn apply(self, x: f64, y: f64) -> Option<f64> {
        let truth = |condition: bool| if condition { 1.0 } else { 0.0 };
        let value = match self {
            Op::Add => x + y,
            Op::Subtract => x - y,
            Op::Multiply => x * y,
            Op::Divide => x / y,
            Op::Power => x.powf(y),
            Op::Equal => truth(x == y),
            Op::NotEqual => truth(x != y),
            Op::Less => truth(x < y),
            Op::LessOrEqual => truth(x <= y),
            Op::Greater => truth(x > y),
            Op::GreaterOrEqual => truth(x >= y),
            Op::And => truth(x != 0.0 && y != 0.0),
            Op::Or => truth(x != 0.0 || y != 0.0),
        };
        // Division by zero drops the datapoint; so does any other infinite or NaN result.
        value.is_finite().then_some(value)
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Subtract => "-",
            Op::Multiply => "*",
            Op::Divide => "/",
            Op::Power => "^",
            Op::Equal => "==",
            Op::NotEqual => "!=",
            Op::Less => "<",
            Op::LessOrEqual => "<=",
            Op::Greater => ">",
            Op::GreaterOrEqual => ">=",
            Op::And => "AND",
            Op::Or => "OR",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Abs,
    Avg,
    Ceil,
    DatapointCount,
    Fill,
    Floor,
    If,
    Max,
    MetricCount,
    Metrics,
    Min,
    Period,
    Sum,
    TimeSeries,
}

impl Function {
    fn named(name: &str) -> Option<Function> {
        Some(match name {
            "ABS" => Function::Abs,
            "AVG" => Function::Avg,
            "CEIL" => Function::Ceil,
            "DATAPOINT_COUNT" => Function::DatapointCount,
            "FILL" => Function::Fill,
            "FLOOR" => Function::Floor,
            "IF" => Function::If,
            "MAX" => Function::Max,
            "METRIC_COUNT" => Function::MetricCount,
            "METRICS" => Function::Metrics,
            "MIN" => Function::Min,
            "PERIOD" => Function::Period,
            "SUM" => Function::Sum,
            "TIME_SERIES" => Function::TimeSeries,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Function::Abs => "ABS",
            Function::Avg => "AVG",
            Function::Ceil => "CEIL",
            Function::DatapointCount => "DATAPOINT_COUNT",
            Function::Fill => "FILL",
            Function::Floor => "FLOOR",
            Function::If => "IF",
            Function::Max => "MAX",
            Function::MetricCount => "METRIC_COUNT",
            Function::Metrics => "METRICS",
            Function::Min => "MIN",
            Function::Period => "PERIOD",
            Function::Sum => "SUM",
            Function::TimeSeries => "TIME_SERIES",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Number(f64),
    Text {
        text: String,
        at: usize,
    },
    Query {
        id: String,
        at: usize,
    },
    Negate(Box<Node>),
    Binary {
        op: Op,
        left: Box<Node>,
        right: Box<Node>,
        at: usize,
    },
    Call {
        function: Function,
        args: Vec<Node>,
        at: usize,
    },
    Array {
        items: Vec<Node>,
        at: usize,
    },
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    /// An identifier: a query id (lowercase first) or a function or keyword (uppercase).
    Name(String),
    Text(String),
    Op(Op),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Comma,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Number(value) => write!(f, "the number {value}"),
            Token::Name(name) => write!(f, "{name:?}"),
            Token::Text(text) => write!(f, "the string {text:?}"),
            Token::Op(op) => write!(f, "{:?}", op.symbol()),
            Token::Open => f.write_str("\"(\""),
            Token::Close => f.write_str("\")\""),
            Token::OpenBracket => f.write_str("\"[\""),
            Token::CloseBracket => f.write_str("\"]\""),
            Token::Comma => f.write_str("\",\""),
        }
    }
}

fn tokenize(source: &str) -> Result<Vec<(Token, usize)>, ExpressionError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let at = i + 1;
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text: String = chars[start..i].iter().collect();
            let value: f64 = text.parse().map_err(|_| ExpressionError::Invalid {
                at,
                message: format!("{text:?} is not a number"),
            })?;
            tokens.push((Token::Number(value), at));
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            let token = match name.as_str() {
                "AND" => Token::Op(Op::And),
                "OR" => Token::Op(Op::Or),
                _ => Token::Name(name),
            };
            tokens.push((token, at));
            continue;
        }
        if c == '"' || c == '\'' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return invalid(at, "a string is not closed"),
                    Some(&q) if q == c => break,
                    Some('\\') if chars.get(i + 1).is_some() => {
                        text.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(&other) => {
                        text.push(other);
                        i += 1;
                    }
                }
            }
            i += 1;
            tokens.push((Token::Text(text), at));
            continue;
        }
        let (token, width) = match (c, next) {
            ('=', Some('=')) => (Token::Op(Op::Equal), 2),
            ('!', Some('=')) => (Token::Op(Op::NotEqual), 2),
            ('<', Some('=')) => (Token::Op(Op::LessOrEqual), 2),
            ('>', Some('=')) => (Token::Op(Op::GreaterOrEqual), 2),
            ('&', Some('&')) => (Token::Op(Op::And), 2),
            ('|', Some('|')) => (Token::Op(Op::Or), 2),
            ('<', _) => (Token::Op(Op::Less), 1),
            ('>', _) => (Token::Op(Op::Greater), 1),
            ('+', _) => (Token::Op(Op::Add), 1),
            ('-', _) => (Token::Op(Op::Subtract), 1),
            ('*', _) => (Token::Op(Op::Multiply), 1),
            ('/', _) => (Token::Op(Op::Divide), 1),
            ('^', _) => (Token::Op(Op::Power), 1),
            ('(', _) => (Token::Open, 1),
            (')', _) => (Token::Close, 1),
            ('[', _) => (Token::OpenBracket, 1),
            (']', _) => (Token::CloseBracket, 1),
            (',', _) => (Token::Comma, 1),
            ('=', _) => return invalid(at, "\"=\" is not an operator; compare with \"==\""),
            (other, _) => return invalid(at, format!("{other:?} is not part of metric math")),
        };
        tokens.push((token, at));
        i += width;
    }
    Ok(tokens)
}

// ---------------------------------------------------------------------------------------------
// Parser: OR < AND < comparison < + - < * / < unary - < ^ (right-associative).

/// Deep enough for any expression a person writes, shallow enough for the stack.
const MAX_DEPTH: usize = 64;

struct Parser {
    tokens: Vec<(Token, usize)>,
    next: usize,
    depth: usize,
    /// The position just after the source, for errors at its end.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|(token, _)| token)
    }

    fn at(&self) -> usize {
        self.tokens.get(self.next).map_or(self.end, |(_, at)| *at)
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end of the expression".to_owned(), Token::to_string)
    }

    fn expect(&mut self, wanted: &Token, what: &str) -> Result<(), ExpressionError> {
        if self.peek() == Some(wanted) {
            self.next += 1;
            Ok(())
        } else {
            invalid(
                self.at(),
                format!("expected {what}, found {}", self.found()),
            )
        }
    }

    fn expression(&mut self) -> Result<Node, ExpressionError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return invalid(self.at(), "the expression is nested too deeply");
        }
        let node = self.binary(0);
        self.depth -= 1;
        node
    }

    /// Binary operators of precedence `level` and above.
    fn binary(&mut self, level: usize) -> Result<Node, ExpressionError> {
        const LEVELS: [&[Op]; 5] = [
            &[Op::Or],
            &[Op::And],
            &[
                Op::Equal,
                Op::NotEqual,
                Op::Less,
                Op::LessOrEqual,
                Op::Greater,
                Op::GreaterOrEqual,
            ],
            &[Op::Add, Op::Subtract],
            &[Op::Multiply, Op::Divide],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        while let Some(Token::Op(op)) = self.peek().cloned() {
            if !LEVELS[level].contains(&op) {
                break;
            }
            let at = self.at();
            self.next += 1;
            let right = self.binary(level + 1)?;
            left = Node::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
                at,
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, ExpressionError> {
        if self.peek() == Some(&Token::Op(Op::Subtract)) {
            self.next += 1;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return invalid(self.at(), "the expression is nested too deeply");
            }
            let operand = self.unary();
            self.depth -= 1;
            return Ok(Node::Negate(Box::new(operand?)));
        }
        self.power()
    }

    fn power(&mut self) -> Result<Node, ExpressionError> {
        let base = self.primary()?;
        if self.peek() == Some(&Token::Op(Op::Power)) {
            let at = self.at();
            self.next += 1;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return invalid(self.at(), "the expression is nested too deeply");
            }
            let exponent = self.unary();
            self.depth -= 1;
            return Ok(Node::Binary {
                op: Op::Power,
                left: Box::new(base),
                right: Box::new(exponent?),
                at,
            });
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Node, ExpressionError> {
        let at = self.at();
        let Some(token) = self.peek().cloned() else {
            return invalid(at, "the expression ends where a value is expected");
        };
        self.next += 1;
        match token {
            Token::Number(value) => Ok(Node::Number(value)),
            Token::Text(text) => Ok(Node::Text { text, at }),
            Token::Open => {
                let inner = self.expression()?;
                self.expect(&Token::Close, "\")\"")?;
                Ok(inner)
            }
            Token::OpenBracket => {
                let mut items = vec![self.expression()?];
                while self.peek() == Some(&Token::Comma) {
                    self.next += 1;
                    items.push(self.expression()?);
                }
                self.expect(&Token::CloseBracket, "\",\" or \"]\"")?;
                Ok(Node::Array { items, at })
            }
            Token::Name(name) => self.name(name, at),
            other => invalid(at, format!("expected a value, found {other}")),
        }
    }

    fn name(&mut self, name: String, at: usize) -> Result<Node, ExpressionError> {
        if name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Ok(Node::Query { id: name, at });
        }
        if self.peek() != Some(&Token::Open) {
            return match name.as_str() {
                "REPEAT" | "LINEAR" => Err(ExpressionError::Unsupported {
                    at,
                    what: format!("FILL with {name}"),
                }),
                _ => invalid(
                    at,
                    format!(
                        "{name:?} is neither a query id (ids start with a lowercase letter) nor a function call"
                    ),
                ),
            };
        }
        let Some(function) = Function::named(&name) else {
            return if name.chars().any(|c| c.is_ascii_lowercase()) {
                invalid(
                    at,
                    format!("{name:?}: functions are written in uppercase letters"),
                )
            } else if name == "SEARCH" {
                // "You can't create an alarm based on a SEARCH expression"
                // (Create-alarm-on-metric-math-expression.html).
                invalid(
                    at,
                    "an alarm cannot watch SEARCH: it returns several time series",
                )
            } else {
                Err(ExpressionError::Unsupported {
                    at,
                    what: format!("the metric math function {name}"),
                })
            };
        };
        self.next += 1;
        let mut args = Vec::new();
        if self.peek() != Some(&Token::Close) {
            args.push(self.expression()?);
            while self.peek() == Some(&Token::Comma) {
                self.next += 1;
                args.push(self.expression()?);
            }
        }
        self.expect(&Token::Close, "\",\" or \")\"")?;
        Ok(Node::Call { function, args, at })
    }
}

// ---------------------------------------------------------------------------------------------
// Kinds

impl Node {
    fn references<'a>(&'a self, found: &mut Vec<(&'a str, usize)>) {
        match self {
            Node::Number(_) | Node::Text { .. } => {}
            Node::Query { id, at } => found.push((id, *at)),
            Node::Negate(operand) => operand.references(found),
            Node::Binary { left, right, .. } => {
                left.references(found);
                right.references(found);
            }
            Node::Call { args: items, .. } | Node::Array { items, .. } => {
                for item in items {
                    item.references(found);
                }
            }
        }
    }

    fn at(&self) -> usize {
        match self {
            Node::Number(_) => 0,
            Node::Text { at, .. }
            | Node::Query { at, .. }
            | Node::Binary { at, .. }
            | Node::Call { at, .. }
            | Node::Array { at, .. } => *at,
            Node::Negate(operand) => operand.at(),
        }
    }

    fn kind(&self, queries: &[QueryKind]) -> Result<Kind, ExpressionError> {
        match self {
            Node::Number(_) => Ok(Kind::Scalar),
            Node::Text { at, .. } => invalid(*at, "a string can only be the argument of METRICS"),
            Node::Query { id, at } => match queries.iter().find(|query| query.id == id) {
                Some(QueryKind {
                    kind: Some(kind), ..
                }) => Ok(*kind),
                Some(_) => invalid(*at, format!("{id:?} is read before it is computed")),
                None => invalid(*at, format!("no query has the Id {id:?}")),
            },
            Node::Negate(operand) => operand.kind(queries),
            Node::Binary {
                op,
                left,
                right,
                at,
            } => {
                let (left, right) = (left.kind(queries)?, right.kind(queries)?);
                use Kind::*;
                match (left, right) {
                    (Scalar, Scalar) => Ok(Scalar),
                    (Scalar | Series, Scalar | Series) => Ok(Series),
                    (Array, Array) => invalid(
                        *at,
                        format!("{:?} cannot combine two arrays of time series", op.symbol()),
                    ),
                    _ if op.is_arithmetic() => Ok(Array),
                    _ => invalid(
                        *at,
                        format!(
                            "{:?} compares time series or scalars, not arrays of time series",
                            op.symbol()
                        ),
                    ),
                }
            }
            Node::Array { items, .. } => {
                for item in items {
                    if item.kind(queries)? == Kind::Scalar {
                        return invalid(
                            item.at().max(1),
                            "an array holds time series, not scalars",
                        );
                    }
                }
                Ok(Kind::Array)
            }
            Node::Call { function, args, at } => call_kind(*function, args, *at, queries),
        }
    }
}

fn call_kind(
    function: Function,
    args: &[Node],
    at: usize,
    queries: &[QueryKind],
) -> Result<Kind, ExpressionError> {
    let name = function.name();
    let arity = |range: std::ops::RangeInclusive<usize>, wanted: &str| {
        if range.contains(&args.len()) {
            Ok(())
        } else {
            invalid(at, format!("{name} takes {wanted}, given {}", args.len()))
        }
    };
    let kinds = |args: &[Node]| -> Result<Vec<Kind>, ExpressionError> {
        args.iter().map(|arg| arg.kind(queries)).collect()
    };
    let wrong = |index: usize, kind: Kind, wanted: &str| {
        invalid(
            args[index].at().max(at),
            format!(
                "argument {} of {name} is {}; {name} takes {wanted}",
                index + 1,
                kind.described()
            ),
        )
    };
    use Kind::*;
    match function {
        Function::Abs | Function::Ceil | Function::Floor => {
            arity(1..=1, "one argument")?;
            match kinds(args)?[0] {
                Scalar => wrong(0, Scalar, "a time series or an array of time series"),
                kind => Ok(kind),
            }
        }
        Function::Sum
        | Function::Avg
        | Function::Min
        | Function::Max
        | Function::DatapointCount => {
            arity(1..=1, "one argument")?;
            match kinds(args)?[0] {
                Series => Ok(Scalar),
                Array => Ok(Series),
                Scalar => wrong(0, Scalar, "a time series or an array of time series"),
            }
        }
        Function::MetricCount => {
            arity(1..=1, "one argument")?;
            match kinds(args)?[0] {
                Array => Ok(Scalar),
                kind => wrong(0, kind, "an array of time series"),
            }
        }
        Function::Metrics => {
            arity(0..=1, "no argument or a string")?;
            match args.first() {
                None | Some(Node::Text { .. }) => Ok(Array),
                Some(other) => invalid(other.at().max(at), "METRICS takes a string, or nothing"),
            }
        }
        Function::Fill => {
            arity(2..=2, "two arguments")?;
            let kinds = kinds(args)?;
            if kinds[0] == Scalar {
                return wrong(
                    0,
                    Scalar,
                    "a time series or an array of time series to fill",
                );
            }
            if kinds[1] == Array {
                return wrong(
                    1,
                    Array,
                    "a scalar, a time series, REPEAT or LINEAR to fill with",
                );
            }
            Ok(kinds[0])
        }
        Function::If => {
            arity(2..=3, "two or three arguments")?;
            let kinds = kinds(args)?;
            for (index, kind) in kinds.iter().enumerate() {
                if *kind == Array {
                    return wrong(index, Array, "scalars and time series");
                }
            }
            // IF(S, TS, TS): a scalar condition picks one whole series.
            if kinds[0] == Scalar {
                for (index, kind) in kinds.iter().enumerate().skip(1) {
                    if *kind == Scalar {
                        return wrong(
                            index,
                            Scalar,
                            "time series after a scalar condition (IF(S, TS, TS))",
                        );
                    }
                }
            }
            Ok(Series)
        }
        Function::Period => {
            arity(1..=1, "one argument")?;
            match &args[0] {
                Node::Query { id, at } => match queries.iter().find(|query| query.id == id) {
                    Some(query) if query.is_metric => Ok(Scalar),
                    Some(_) => invalid(
                        *at,
                        format!(
                            "PERIOD takes a metric (a MetricStat query), and {id:?} is an expression"
                        ),
                    ),
                    None => invalid(*at, format!("no query has the Id {id:?}")),
                },
                other => invalid(
                    other.at().max(at),
                    "PERIOD takes the Id of a metric (a MetricStat query)",
                ),
            }
        }
        Function::TimeSeries => {
            arity(1..=1, "one argument")?;
            match kinds(args)?[0] {
                Scalar => Ok(Series),
                kind => wrong(0, kind, "a scalar"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation. Kinds were checked when the alarm was read; a mismatch here yields no values.

impl Node {
    fn evaluate(&self, inputs: &Inputs) -> Value {
        match self {
            Node::Number(value) => Value::Scalar(Some(*value)),
            Node::Text { .. } => Value::Scalar(None),
            Node::Query { id, .. } => inputs
                .query(id)
                .cloned()
                .unwrap_or_else(|| Value::Series(inputs.missing())),
            Node::Negate(operand) => map(operand.evaluate(inputs), |value| Some(-value)),
            Node::Binary {
                op, left, right, ..
            } => binary(*op, left.evaluate(inputs), right.evaluate(inputs), inputs),
            Node::Array { items, .. } => {
                let mut series = Vec::new();
                for item in items {
                    match item.evaluate(inputs) {
                        Value::Series(one) => series.push(one),
                        Value::Array(many) => series.extend(many),
                        Value::Scalar(_) => {}
                    }
                }
                Value::Array(series)
            }
            Node::Call { function, args, .. } => call(*function, args, inputs),
        }
    }
}

fn map(value: Value, f: impl Fn(f64) -> Option<f64> + Copy) -> Value {
    let series = |series: Series| -> Series { series.into_iter().map(|v| v.and_then(f)).collect() };
    match value {
        Value::Scalar(value) => Value::Scalar(value.and_then(f)),
        Value::Series(one) => Value::Series(series(one)),
        Value::Array(many) => Value::Array(many.into_iter().map(series).collect()),
    }
}

fn binary(op: Op, left: Value, right: Value, inputs: &Inputs) -> Value {
    let with_scalar = |series: Series, scalar: Option<f64>, scalar_first: bool| -> Series {
        series
            .into_iter()
            .map(|value| {
                let (x, y) = (value?, scalar?);
                if scalar_first {
                    op.apply(y, x)
                } else {
                    op.apply(x, y)
                }
            })
            .collect()
    };
    // Where only one series has a value, the other's missing value counts as 0.
    let pairwise = |left: &Series, right: &Series| -> Series {
        left.iter()
            .zip(right)
            .map(|(x, y)| match (x, y) {
                (None, None) => None,
                _ => op.apply(x.unwrap_or(0.0), y.unwrap_or(0.0)),
            })
            .collect()
    };
    match (left, right) {
        (Value::Scalar(x), Value::Scalar(y)) => {
            Value::Scalar(x.zip(y).and_then(|(x, y)| op.apply(x, y)))
        }
        (Value::Series(series), Value::Scalar(y)) => Value::Series(with_scalar(series, y, false)),
        (Value::Scalar(x), Value::Series(series)) => Value::Series(with_scalar(series, x, true)),
        (Value::Series(left), Value::Series(right)) => Value::Series(pairwise(&left, &right)),
        (Value::Array(many), other) => Value::Array(
            many.into_iter()
                .map(|one| {
                    series_of(
                        binary(op, Value::Series(one), other.clone(), inputs),
                        inputs,
                    )
                })
                .collect(),
        ),
        (other, Value::Array(many)) => Value::Array(
            many.into_iter()
                .map(|one| {
                    series_of(
                        binary(op, other.clone(), Value::Series(one), inputs),
                        inputs,
                    )
                })
                .collect(),
        ),
    }
}

fn series_of(value: Value, inputs: &Inputs) -> Series {
    match value {
        Value::Series(series) => series,
        _ => inputs.missing(),
    }
}

fn call(function: Function, args: &[Node], inputs: &Inputs) -> Value {
    let arg = |index: usize| {
        args.get(index)
            .map_or(Value::Scalar(None), |arg| arg.evaluate(inputs))
    };
    match function {
        Function::Abs => map(arg(0), |value| Some(value.abs())),
        Function::Ceil => map(arg(0), |value| Some(value.ceil())),
        Function::Floor => map(arg(0), |value| Some(value.floor())),
        Function::Sum
        | Function::Avg
        | Function::Min
        | Function::Max
        | Function::DatapointCount => aggregate(function, arg(0), inputs),
        Function::MetricCount => match arg(0) {
            Value::Array(many) => Value::Scalar(Some(many.len() as f64)),
            _ => Value::Scalar(None),
        },
        Function::Metrics => {
            let filter = match args.first() {
                Some(Node::Text { text, .. }) => text.as_str(),
                _ => "",
            };
            Value::Array(
                inputs
                    .queries
                    .iter()
                    .filter(|query| query.is_metric && query.id.contains(filter))
                    .map(|query| match query.value {
                        Some(Value::Series(series)) => series.clone(),
                        _ => inputs.missing(),
                    })
                    .collect(),
            )
        }
        Function::Fill => {
            let with = arg(1);
            let fill = |series: Series| -> Series {
                series
                    .into_iter()
                    .enumerate()
                    .map(|(index, value)| {
                        value.or(match &with {
                            Value::Scalar(scalar) => *scalar,
                            Value::Series(filler) => filler.get(index).copied().flatten(),
                            Value::Array(_) => None,
                        })
                    })
                    .collect()
            };
            match arg(0) {
                Value::Series(one) => Value::Series(fill(one)),
                Value::Array(many) => Value::Array(many.into_iter().map(fill).collect()),
                Value::Scalar(_) => Value::Series(inputs.missing()),
            }
        }
        Function::If => if_(arg(0), arg(1), args.get(2).map(|_| arg(2)), inputs),
        Function::Period => Value::Scalar(Some(f64::from(inputs.period_seconds))),
        Function::TimeSeries => match arg(0) {
            Value::Scalar(value) => Value::Series(vec![value; inputs.len]),
            _ => Value::Series(inputs.missing()),
        },
    }
}

fn aggregate(function: Function, value: Value, inputs: &Inputs) -> Value {
    // Over the values present; `count` is the number of values the average divides by.
    let over = |values: &mut dyn Iterator<Item = f64>, count: Option<usize>| -> Option<f64> {
        let values: Vec<f64> = values.collect();
        if function == Function::DatapointCount {
            return Some(values.len() as f64);
        }
        if values.is_empty() {
            return None;
        }
        let result = match function {
            Function::Sum => values.iter().sum(),
            Function::Avg => values.iter().sum::<f64>() / count.unwrap_or(values.len()) as f64,
            Function::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            _ => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        };
        result.is_finite().then_some(result)
    };
    match value {
        Value::Series(series) => Value::Scalar(over(&mut series.into_iter().flatten(), None)),
        Value::Array(many) => Value::Series(
            (0..inputs.len)
                .map(|index| {
                    let mut present = many
                        .iter()
                        .filter_map(|one| one.get(index).copied().flatten());
                    let reported = many
                        .iter()
                        .any(|one| one.get(index).copied().flatten().is_some());
                    // A period no series reports is not in the result.
                    if !reported {
                        return None;
                    }
                    // "The AVG of an array of time series returns a single time series. Missing
                    // values are treated as 0."
                    over(&mut present, Some(many.len()))
                })
                .collect(),
        ),
        Value::Scalar(_) => Value::Scalar(None),
    }
}

/// "Using IF expressions": `IF(condition, trueValue, falseValue)`.
fn if_(condition: Value, when_true: Value, when_false: Option<Value>, inputs: &Inputs) -> Value {
    match condition {
        Value::Scalar(condition) => match condition {
            Some(condition) if condition != 0.0 => when_true,
            Some(_) => when_false.unwrap_or_else(|| Value::Series(inputs.missing())),
            None => Value::Series(inputs.missing()),
        },
        Value::Series(condition) => Value::Series(
            condition
                .iter()
                .enumerate()
                .map(|(index, condition)| match condition {
                    // No datapoint in the condition: none in the result.
                    None => None,
                    // True: the value, or 0 where the true series has none.
                    Some(condition) if *condition != 0.0 => match &when_true {
                        Value::Scalar(value) => *value,
                        Value::Series(series) => Some(series[index].unwrap_or(0.0)),
                        Value::Array(_) => None,
                    },
                    // False: the value, or dropped where the false series has none or is omitted.
                    Some(_) => match &when_false {
                        Some(Value::Scalar(value)) => *value,
                        Some(Value::Series(series)) => series[index],
                        _ => None,
                    },
                })
                .collect(),
        ),
        Value::Array(_) => Value::Series(inputs.missing()),
    }
}

#[cfg(test)]
mod tests {
    //! The examples of "Metric math syntax and functions" and "Using IF expressions":
    //! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html>.
    //! Series are written oldest first here, as the docs write them.

    use super::*;

    /// Evaluates `source` over metrics given oldest first, `None` for `-`.
    fn run(source: &str, metrics: &[(&str, &[Option<f64>])]) -> Value {
        let len = metrics.first().map_or(4, |(_, values)| values.len());
        let values: Vec<Value> = metrics
            .iter()
            .map(|(_, values)| Value::Series(values.iter().rev().copied().collect()))
            .collect();
        let kinds: Vec<QueryKind> = metrics
            .iter()
            .map(|(id, _)| QueryKind {
                id,
                kind: Some(Kind::Series),
                is_metric: true,
            })
            .collect();
        let expression =
            MathExpression::parse(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
        expression
            .kind(&kinds)
            .unwrap_or_else(|e| panic!("{source}: {e:?}"));
        let queries: Vec<QueryValue> = metrics
            .iter()
            .zip(&values)
            .map(|((id, _), value)| QueryValue {
                id,
                value: Some(value),
                is_metric: true,
            })
            .collect();
        let inputs = Inputs {
            len,
            period_seconds: 300,
            queries: &queries,
        };
        // Back to oldest first.
        match expression.evaluate(&inputs) {
            Value::Series(series) => Value::Series(series.into_iter().rev().collect()),
            Value::Array(many) => Value::Array(
                many.into_iter()
                    .map(|s| s.into_iter().rev().collect())
                    .collect(),
            ),
            scalar => scalar,
        }
    }

    fn series(source: &str, metrics: &[(&str, &[Option<f64>])]) -> Series {
        match run(source, metrics) {
            Value::Series(series) => series,
            other => panic!("{source}: {other:?}"),
        }
    }

    fn kind_of(source: &str) -> Result<Kind, ExpressionError> {
        let kinds = [
            QueryKind {
                id: "m1",
                kind: Some(Kind::Series),
                is_metric: true,
            },
            QueryKind {
                id: "m2",
                kind: Some(Kind::Series),
                is_metric: true,
            },
            QueryKind {
                id: "e1",
                kind: Some(Kind::Series),
                is_metric: false,
            },
        ];
        MathExpression::parse(source)?.kind(&kinds)
    }

    const METRIC1: &[Option<f64>] = &[Some(30.0), Some(20.0), Some(0.0), Some(0.0)];
    const METRIC2: &[Option<f64>] = &[Some(20.0), None, Some(20.0), None];

    #[test]
    fn comparison_and_logical_operators_table() {
        let metrics = [("metric1", METRIC1), ("metric2", METRIC2)];
        let ones = |values: [f64; 4]| values.map(Some).to_vec();
        assert_eq!(
            series("(metric1 < metric2)", &metrics),
            ones([0.0, 0.0, 1.0, 0.0])
        );
        assert_eq!(
            series("(metric1 >= 30)", &metrics),
            ones([1.0, 0.0, 0.0, 0.0])
        );
        assert_eq!(
            series("(metric1 > 15 AND metric2 > 15)", &metrics),
            ones([1.0, 0.0, 0.0, 0.0])
        );
        assert_eq!(
            series("metric1 > 15 && metric2 > 15", &metrics),
            ones([1.0, 0.0, 0.0, 0.0])
        );
        assert_eq!(
            series("metric1 > 25 OR metric2 > 15", &metrics),
            ones([1.0, 0.0, 1.0, 0.0])
        );
        assert_eq!(
            series("metric1 == 0 || metric1 != 20", &metrics),
            ones([1.0, 0.0, 1.0, 1.0])
        );
    }

    const IF_METRIC1: &[Option<f64>] = &[Some(1.0), Some(1.0), Some(0.0), Some(0.0), None];
    const IF_METRIC2: &[Option<f64>] = &[Some(30.0), None, Some(0.0), Some(0.0), Some(30.0)];
    const IF_METRIC3: &[Option<f64>] = &[Some(0.0), Some(0.0), Some(20.0), None, Some(20.0)];

    #[test]
    fn if_tables() {
        let metrics = [
            ("metric1", IF_METRIC1),
            ("metric2", IF_METRIC2),
            ("metric3", IF_METRIC3),
        ];
        assert_eq!(
            series("IF(metric1, metric2, metric3)", &metrics),
            [Some(30.0), Some(0.0), Some(20.0), None, None]
        );
        assert_eq!(
            series("IF(metric1, 5, metric3)", &metrics),
            [Some(5.0), Some(5.0), Some(20.0), None, None]
        );
        assert_eq!(
            series("IF(metric1, metric2, 5)", &metrics),
            [Some(30.0), Some(0.0), Some(5.0), Some(5.0), None]
        );
        // A false condition without a false value is dropped.
        assert_eq!(
            series("IF(metric1, metric2)", &metrics),
            [Some(30.0), Some(0.0), None, None, None]
        );
        // IF(scalar1, metric2, metric3): one whole series; empty without metric3.
        assert_eq!(series("IF(1, metric2, metric3)", &metrics), IF_METRIC2);
        assert_eq!(series("IF(0, metric2, metric3)", &metrics), IF_METRIC3);
        assert_eq!(series("IF(0, metric2)", &metrics), [None; 5]);
    }

    #[test]
    fn if_use_cases() {
        let latency: &[Option<f64>] = &[Some(300.0), Some(500.0), None, Some(400.0)];
        let threshold: &[Option<f64>] = &[Some(450.0), Some(450.0), Some(450.0), Some(450.0)];
        let metrics = [("metric1", latency), ("threshold", threshold)];
        assert_eq!(
            series("IF(metric1<400, metric1)", &metrics),
            [Some(300.0), None, None, None]
        );
        assert_eq!(
            series("IF(metric1<400, 10, 2)", &metrics),
            [Some(10.0), Some(2.0), None, Some(2.0)]
        );
        let metrics = [("latency", latency), ("threshold", threshold)];
        assert_eq!(
            series("IF(latency>threshold, 1, 0)", &metrics),
            [Some(0.0), Some(1.0), Some(0.0), Some(0.0)]
        );
    }

    #[test]
    fn arithmetic_treats_missing_as_zero_and_drops_division_by_zero() {
        let m1: &[Option<f64>] = &[Some(4.0), None, Some(6.0), None, Some(1.0)];
        let m2: &[Option<f64>] = &[Some(2.0), Some(3.0), None, None, Some(0.0)];
        let metrics = [("m1", m1), ("m2", m2)];
        assert_eq!(
            series("m1 - m2", &metrics),
            [Some(2.0), Some(-3.0), Some(6.0), None, Some(1.0)]
        );
        assert_eq!(
            series("m1 / m2", &metrics),
            [Some(2.0), Some(0.0), None, None, None]
        );
        assert_eq!(
            series("5 * m1", &metrics),
            [Some(20.0), None, Some(30.0), None, Some(5.0)]
        );
        assert_eq!(
            series("-5*m1", &metrics),
            [Some(-20.0), None, Some(-30.0), None, Some(-5.0)]
        );
        assert_eq!(
            series("-m1", &metrics),
            [Some(-4.0), None, Some(-6.0), None, Some(-1.0)]
        );
        assert_eq!(
            series("m1 ^ 2 / 2", &metrics),
            [Some(8.0), None, Some(18.0), None, Some(0.5)]
        );
        // ^ binds tighter than unary minus and is right-associative.
        assert_eq!(run("-2 ^ 2", &metrics), Value::Scalar(Some(-4.0)));
        assert_eq!(run("2 ^ 3 ^ 2", &metrics), Value::Scalar(Some(512.0)));
        assert_eq!(run("1 + 2 * 3 - 4 / 2", &metrics), Value::Scalar(Some(5.0)));
        assert_eq!(run("(1 + 2) * 3", &metrics), Value::Scalar(Some(9.0)));
        assert_eq!(run("1 / 0", &metrics), Value::Scalar(None));
        assert_eq!(run("1.5e2 + .5", &metrics), Value::Scalar(Some(150.5)));
        // PERIOD(m1)/60 with a 300 s period.
        assert_eq!(run("PERIOD(m1)/60", &metrics), Value::Scalar(Some(5.0)));
        assert_eq!(
            series("m1/PERIOD(m1)", &metrics),
            [Some(4.0 / 300.0), None, Some(0.02), None, Some(1.0 / 300.0)]
        );
    }

    #[test]
    fn functions_of_the_table() {
        let m1: &[Option<f64>] = &[Some(-1.5), None, Some(2.5), Some(4.0)];
        let m2: &[Option<f64>] = &[Some(1.0), Some(3.0), None, Some(-2.0)];
        let metrics = [("m1", m1), ("m2", m2)];
        assert_eq!(
            series("ABS(m1-m2)", &metrics),
            [Some(2.5), Some(3.0), Some(2.5), Some(6.0)]
        );
        assert_eq!(
            series("MIN(ABS([m1, m2]))", &metrics),
            [Some(1.0), Some(3.0), Some(2.5), Some(2.0)]
        );
        assert_eq!(
            series("CEIL(m1)", &metrics),
            [Some(-1.0), None, Some(3.0), Some(4.0)]
        );
        assert_eq!(
            series("FLOOR(m1)", &metrics),
            [Some(-2.0), None, Some(2.0), Some(4.0)]
        );
        assert_eq!(
            series("SUM(CEIL(METRICS()))", &metrics),
            [Some(0.0), Some(3.0), Some(3.0), Some(2.0)]
        );
        assert_eq!(
            series("FILL(m1,10)", &metrics),
            [Some(-1.5), Some(10.0), Some(2.5), Some(4.0)]
        );
        assert_eq!(
            series("FILL(m1, MIN(m1))", &metrics),
            [Some(-1.5), Some(-1.5), Some(2.5), Some(4.0)]
        );
        assert_eq!(
            run("FILL(METRICS(), m1)", &metrics),
            Value::Array(vec![
                vec![Some(-1.5), None, Some(2.5), Some(4.0)],
                vec![Some(1.0), Some(3.0), Some(2.5), Some(-2.0)],
            ])
        );
        assert_eq!(
            run("FILL(METRICS(), 0)", &metrics),
            Value::Array(vec![
                vec![Some(-1.5), Some(0.0), Some(2.5), Some(4.0)],
                vec![Some(1.0), Some(3.0), Some(0.0), Some(-2.0)],
            ])
        );
        // Scalars over the whole range: SUM 5, AVG 5/3, MIN -1.5, MAX 4.
        assert_eq!(
            series("m1-AVG(m1)", &metrics),
            [
                Some(-1.5 - 5.0 / 3.0),
                None,
                Some(2.5 - 5.0 / 3.0),
                Some(4.0 - 5.0 / 3.0)
            ]
        );
        assert_eq!(
            series("MAX(m1)/m1", &metrics),
            [Some(4.0 / -1.5), None, Some(1.6), Some(1.0)]
        );
        assert_eq!(
            series("m1-MIN(m1)", &metrics),
            [Some(0.0), None, Some(4.0), Some(5.5)]
        );
        assert_eq!(series("TIME_SERIES(MAX(m1))", &metrics), [Some(4.0); 4]);
        assert_eq!(
            series("TIME_SERIES(5*AVG(m2))", &metrics),
            [Some(5.0 * (2.0 / 3.0)); 4]
        );
        assert_eq!(series("TIME_SERIES(10)", &metrics), [Some(10.0); 4]);
        assert_eq!(
            series("SUM(m1) / DATAPOINT_COUNT(m1) + 0 * m1", &metrics),
            [Some(5.0 / 3.0), None, Some(5.0 / 3.0), Some(5.0 / 3.0)]
        );
        assert_eq!(
            series("DATAPOINT_COUNT(METRICS())", &metrics),
            [Some(2.0), Some(1.0), Some(1.0), Some(2.0)]
        );
        assert_eq!(
            series("m1/METRIC_COUNT(METRICS())", &metrics),
            [Some(-0.75), None, Some(1.25), Some(2.0)]
        );
    }

    #[test]
    fn arrays_of_time_series() {
        let m1: &[Option<f64>] = &[Some(4.0), None, Some(10.0)];
        let m2: &[Option<f64>] = &[Some(2.0), Some(5.0), None];
        let metrics = [("m1", m1), ("m2", m2)];
        assert_eq!(
            series("SUM([m1,m2])", &metrics),
            [Some(6.0), Some(5.0), Some(10.0)]
        );
        // AVG of an array: missing values count as 0.
        assert_eq!(
            series("AVG(METRICS())", &metrics),
            [Some(3.0), Some(2.5), Some(5.0)]
        );
        assert_eq!(
            series("MAX(METRICS())", &metrics),
            [Some(4.0), Some(5.0), Some(10.0)]
        );
        assert_eq!(
            series("SUM(100/[m1, m2])", &metrics),
            [Some(75.0), Some(20.0), Some(10.0)]
        );
        assert_eq!(
            series("SUM(-[m1, m2])", &metrics),
            [Some(-6.0), Some(-5.0), Some(-10.0)]
        );
        assert_eq!(
            run("METRICS()*100", &metrics),
            Value::Array(vec![
                vec![Some(400.0), None, Some(1000.0)],
                vec![Some(200.0), Some(500.0), None],
            ])
        );
        assert_eq!(
            run("METRICS()/100", &metrics),
            Value::Array(vec![
                vec![Some(0.04), None, Some(0.1)],
                vec![Some(0.02), Some(0.05), None],
            ])
        );
        assert_eq!(
            series("SUM([m1,m2])/AVG(m2)", &metrics),
            [Some(6.0 / 3.5), Some(5.0 / 3.5), Some(10.0 / 3.5)]
        );
        assert_eq!(
            series("SUM(METRICS())/SUM(m1)", &metrics),
            [Some(6.0 / 14.0), Some(5.0 / 14.0), Some(10.0 / 14.0)]
        );
    }

    #[test]
    fn metrics_filtered_by_id() {
        let errors_a: &[Option<f64>] = &[Some(1.0), Some(2.0)];
        let errors_b: &[Option<f64>] = &[Some(3.0), None];
        let requests: &[Option<f64>] = &[Some(10.0), Some(20.0)];
        let metrics = [
            ("errors_a", errors_a),
            ("errors_b", errors_b),
            ("requests", requests),
        ];
        assert_eq!(
            series("SUM(METRICS(\"errors\"))", &metrics),
            [Some(4.0), Some(2.0)]
        );
        assert_eq!(
            series(
                "SUM([METRICS(\"errors_a\"), METRICS(\"requests\")])",
                &metrics
            ),
            [Some(11.0), Some(22.0)]
        );
        assert_eq!(
            run(
                "SUM(METRICS(\"errors\"))/SUM(METRICS(\"requests\"))*100",
                &metrics
            ),
            Value::Series(vec![Some(40.0), Some(10.0)])
        );
    }

    #[test]
    fn kinds_are_checked() {
        assert_eq!(kind_of("m1 + 1"), Ok(Kind::Series));
        assert_eq!(kind_of("AVG(m1)"), Ok(Kind::Scalar));
        assert_eq!(kind_of("METRICS()"), Ok(Kind::Array));
        assert_eq!(kind_of("IF(m1 > 1, e1, 0)"), Ok(Kind::Series));
        let message = |source: &str| match kind_of(source) {
            Err(ExpressionError::Invalid { at, message }) => format!("{message} at {at}"),
            other => panic!("{source}: {other:?}"),
        };
        assert_eq!(message("m3 + 1"), "no query has the Id \"m3\" at 1");
        assert_eq!(
            message("METRICS() + [m1, m2]"),
            "\"+\" cannot combine two arrays of time series at 11"
        );
        assert_eq!(
            message("ABS(5)"),
            "argument 1 of ABS is a scalar; ABS takes a time series or an array of time series at 1"
        );
        assert_eq!(
            message("IF(1, 2, 3)"),
            "argument 2 of IF is a scalar; IF takes time series after a scalar condition (IF(S, TS, TS)) at 1"
        );
        assert_eq!(
            message("PERIOD(e1)"),
            "PERIOD takes a metric (a MetricStat query), and \"e1\" is an expression at 8"
        );
        assert_eq!(
            message("FILL(m1)"),
            "FILL takes two arguments, given 1 at 1"
        );
        assert_eq!(
            message("METRICS() > 1"),
            "\">\" compares time series or scalars, not arrays of time series at 11"
        );
        assert_eq!(
            message("[m1, 5]"),
            "an array holds time series, not scalars at 1"
        );
        assert_eq!(
            message("m1 + \"a\""),
            "a string can only be the argument of METRICS at 6"
        );
    }

    #[test]
    fn parse_errors_name_the_position() {
        let error = |source: &str| match MathExpression::parse(source) {
            Err(ExpressionError::Invalid { at, message }) => format!("{message} at {at}"),
            other => panic!("{source}: {other:?}"),
        };
        assert_eq!(
            error("m1 +"),
            "the expression ends where a value is expected at 5"
        );
        assert_eq!(
            error("(m1 + m2"),
            "expected \")\", found the end of the expression at 9"
        );
        assert_eq!(
            error("m1 m2"),
            "expected an operator or the end of the expression, found \"m2\" at 4"
        );
        assert_eq!(
            error("m1 = 1"),
            "\"=\" is not an operator; compare with \"==\" at 4"
        );
        assert_eq!(error("m1 % 2"), "'%' is not part of metric math at 4");
        assert_eq!(
            error("Errors + 1"),
            "\"Errors\" is neither a query id (ids start with a lowercase letter) nor a function call at 1"
        );
        assert_eq!(error("METRICS(\"a)"), "a string is not closed at 9");
        assert_eq!(
            error(""),
            "the expression ends where a value is expected at 1"
        );
        assert_eq!(
            error("SEARCH('{AWS/EC2,InstanceId} MetricName=\"CPUUtilization\"', 'Average', 300)"),
            "an alarm cannot watch SEARCH: it returns several time series at 1"
        );
        let deep = format!("{}m1{}", "(".repeat(200), ")".repeat(200));
        assert!(error(&deep).starts_with("the expression is nested too deeply"));
    }

    #[test]
    fn unsupported_functions_are_named() {
        let what = |source: &str| match MathExpression::parse(source) {
            Err(ExpressionError::Unsupported { what, at }) => format!("{what} at {at}"),
            other => panic!("{source}: {other:?}"),
        };
        assert_eq!(
            what("ANOMALY_DETECTION_BAND(m1, 2)"),
            "the metric math function ANOMALY_DETECTION_BAND at 1"
        );
        assert_eq!(
            what("INSIGHT_RULE_METRIC(\"rule\", \"UniqueContributors\")"),
            "the metric math function INSIGHT_RULE_METRIC at 1"
        );
        assert_eq!(
            what("m1 / SERVICE_QUOTA(m1) * 100"),
            "the metric math function SERVICE_QUOTA at 6"
        );
        assert_eq!(
            what("LAMBDA(\"fn\", m1)"),
            "the metric math function LAMBDA at 1"
        );
        assert_eq!(
            what("SORT(METRICS(), AVG, DESC)"),
            "the metric math function SORT at 1"
        );
        assert_eq!(what("FILL(m1, REPEAT)"), "FILL with REPEAT at 10");
        assert_eq!(what("FILL(METRICS(), LINEAR)"), "FILL with LINEAR at 17");
    }
}
