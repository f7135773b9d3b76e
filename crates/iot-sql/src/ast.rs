//! The parsed form of a statement.

use crate::functions::Function;
use crate::value::Value;

/// `SELECT [VALUE] items FROM source [WHERE condition]`, the statement itself or a nested query.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    /// `SELECT VALUE expr`: the outgoing payload is the value itself, not an object.
    pub(crate) value: bool,
    pub(crate) items: Vec<SelectItem>,
    pub(crate) condition: Option<Expr>,
}

#[derive(Debug, Clone)]
pub(crate) enum SelectItem {
    /// `*`: every member of the payload (or the element, in a nested query).
    All,
    Expr {
        expr: Expr,
        name: String,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Literal(Value),
    /// A member of the document being queried (the payload, or the element of a nested query).
    Field(String),
    /// `expr.name`
    Member(Box<Expr>, String),
    /// `@name`: the value of the SET clause's assignment at this index.
    Variable(usize),
    /// `*` as a function argument: the whole payload.
    Payload,
    Object(Vec<(String, Expr)>),
    Array(Vec<Expr>),
    Call(Function, Vec<Expr>),
    Cast(Box<Expr>, CastType),
    Case {
        subject: Box<Expr>,
        arms: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Negate(Box<Expr>),
    Not(Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `(SELECT ... FROM expr [WHERE ...])`
    Nested {
        source: Box<Expr>,
        query: Box<Query>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Or,
    And,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Add,
    Subtract,
    Multiply,
    Divide,
    Remainder,
}

/// The types `cast(x AS type)` accepts with SQL 2016-03-23.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CastType {
    String,
    Int,
    Decimal,
    Boolean,
}
