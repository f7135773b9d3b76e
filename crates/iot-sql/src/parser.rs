//! Recursive descent over the tokens. Grammar and operators:
//! <https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-reference.html>.

use crate::ast::{BinaryOp, CastType, Expr, Query, SelectItem};
use crate::error::{Position, SqlError};
use crate::functions::{self, Function, Lookup};
use crate::lexer::{Token, tokenize};
use crate::time_format;
use crate::topic_filter::TopicFilter;
use crate::value::Value;

/// Deeper nesting is refused rather than risking the stack on hostile input.
const MAX_DEPTH: usize = 48;

/// Words that cannot name a field or an alias. VALUE is a keyword only right after SELECT: the
/// reference itself writes `AS value` (iot-sql-where).
const RESERVED: [&str; 13] = [
    "SELECT", "FROM", "WHERE", "AS", "AND", "OR", "NOT", "CASE", "WHEN", "THEN", "ELSE", "END",
    "NULL",
];

/// A parsed statement: the SET clause's assignments in order, the query, the FROM filter.
pub(crate) struct Parsed {
    pub(crate) variables: Vec<Expr>,
    pub(crate) query: Query,
    pub(crate) filter: TopicFilter,
}

/// Variable names: letters, digits and underscores, up to 64 (iot-sql-set).
const MAX_VARIABLE_NAME: usize = 64;

pub(crate) fn parse(sql: &str) -> Result<Parsed, SqlError> {
    let mut parser = Parser {
        sql,
        tokens: tokenize(sql)?,
        at: 0,
        depth: 0,
        variables: Vec::new(),
    };
    parser.statement()
}

struct Parser<'s> {
    sql: &'s str,
    tokens: Vec<(Token, usize)>,
    at: usize,
    depth: usize,
    /// The names assigned so far by the SET clause, in order.
    variables: Vec<String>,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.at].0
    }

    fn peek_second(&self) -> &Token {
        &self.tokens[(self.at + 1).min(self.tokens.len() - 1)].0
    }

    fn offset(&self) -> usize {
        self.tokens[self.at].1
    }

    fn position(&self) -> Position {
        Position::at(self.sql, self.offset())
    }

    fn advance(&mut self) -> Token {
        let token = self.tokens[self.at].0.clone();
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    fn expected(&self, what: &str) -> SqlError {
        SqlError::Syntax {
            position: self.position(),
            expected: what.to_owned(),
            found: self.peek().describe(),
        }
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Token::Word(word) if word.eq_ignore_ascii_case(keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.at_keyword(keyword);
        if found {
            self.advance();
        }
        found
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), SqlError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.expected(keyword))
        }
    }

    fn eat(&mut self, token: &Token) -> bool {
        let found = self.peek() == token;
        if found {
            self.advance();
        }
        found
    }

    fn expect(&mut self, token: &Token, what: &str) -> Result<(), SqlError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn enter(&mut self) -> Result<(), SqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SqlError::Syntax {
                position: self.position(),
                expected: format!("expressions nested at most {MAX_DEPTH} deep"),
                found: "deeper nesting".to_owned(),
            });
        }
        Ok(())
    }

    fn statement(&mut self) -> Result<Parsed, SqlError> {
        let variables = if self.eat_keyword("SET") {
            self.assignments()?
        } else {
            Vec::new()
        };
        self.expect_keyword("SELECT")?;
        let (value, items) = self.select_list()?;
        self.expect_keyword("FROM")?;
        let filter_offset = self.offset();
        let filter = match self.peek().clone() {
            Token::Str { text, single: true } => {
                self.advance();
                TopicFilter::parse(&text).map_err(|reason| SqlError::TopicFilter {
                    position: Position::at(self.sql, filter_offset),
                    filter: text.clone(),
                    reason,
                })?
            }
            _ => return Err(self.expected("a topic filter in single quotes")),
        };
        let condition = if self.eat_keyword("WHERE") {
            Some(self.expr()?)
        } else {
            None
        };
        if self.peek() != &Token::End {
            let what = if condition.is_some() {
                "an operator or the end of the statement"
            } else {
                "WHERE or the end of the statement"
            };
            return Err(self.expected(what));
        }
        Ok(Parsed {
            variables,
            query: Query {
                value,
                items,
                condition,
            },
            filter,
        })
    }

    /// `@name = expr [, @name = expr ...]` after SET; each may use the ones before it.
    fn assignments(&mut self) -> Result<Vec<Expr>, SqlError> {
        let mut values = Vec::new();
        loop {
            let Token::Variable(name) = self.peek().clone() else {
                return Err(self.expected("a variable such as @name"));
            };
            if name.is_empty() || name.len() > MAX_VARIABLE_NAME {
                return Err(
                    self.expected("a variable name of 1 to 64 letters, digits or underscores")
                );
            }
            if self.variables.contains(&name) {
                return Err(SqlError::InvalidArgument {
                    position: self.position(),
                    message: format!("variable @{name} is already set (variables are immutable)"),
                });
            }
            self.advance();
            self.expect(&Token::Equal, "'=' after the variable")?;
            values.push(self.expr()?);
            self.variables.push(name);
            if !self.eat(&Token::Comma) {
                return Ok(values);
            }
        }
    }

    /// After SELECT: `VALUE expr`, or items with optional aliases.
    fn select_list(&mut self) -> Result<(bool, Vec<SelectItem>), SqlError> {
        if self.eat_keyword("VALUE") {
            let expr = self.expr()?;
            return Ok((
                true,
                vec![SelectItem::Expr {
                    expr,
                    name: String::new(),
                }],
            ));
        }
        let mut items = Vec::new();
        loop {
            if self.eat(&Token::Star) {
                items.push(SelectItem::All);
            } else {
                let expr = self.expr()?;
                let name = if self.eat_keyword("AS") {
                    self.alias()?
                } else {
                    match &expr {
                        Expr::Variable(index) => self.variables[*index].clone(),
                        other => default_name(other, items.len()),
                    }
                };
                items.push(SelectItem::Expr { expr, name });
            }
            if !self.eat(&Token::Comma) {
                return Ok((false, items));
            }
        }
    }

    fn alias(&mut self) -> Result<String, SqlError> {
        match self.peek().clone() {
            Token::Word(word) if !is_reserved(&word) => {
                self.advance();
                Ok(word)
            }
            _ => Err(self.expected("a name after AS")),
        }
    }

    fn expr(&mut self) -> Result<Expr, SqlError> {
        self.enter()?;
        let expr = self.or();
        self.depth -= 1;
        expr
    }

    fn or(&mut self) -> Result<Expr, SqlError> {
        let mut left = self.and()?;
        while self.eat_keyword("OR") {
            let right = self.and()?;
            left = Expr::Binary(BinaryOp::Or, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, SqlError> {
        let mut left = self.not()?;
        while self.eat_keyword("AND") {
            let right = self.not()?;
            left = Expr::Binary(BinaryOp::And, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, SqlError> {
        if self.eat_keyword("NOT") {
            self.enter()?;
            let operand = self.not();
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(operand?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, SqlError> {
        let left = self.additive()?;
        let op = match self.peek() {
            Token::Equal => BinaryOp::Equal,
            Token::NotEqual => BinaryOp::NotEqual,
            Token::Less => BinaryOp::Less,
            Token::LessOrEqual => BinaryOp::LessOrEqual,
            Token::Greater => BinaryOp::Greater,
            Token::GreaterOrEqual => BinaryOp::GreaterOrEqual,
            _ => return Ok(left),
        };
        self.advance();
        let right = self.additive()?;
        Ok(Expr::Binary(op, Box::new(left), Box::new(right)))
    }

    fn additive(&mut self) -> Result<Expr, SqlError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Token::Plus => BinaryOp::Add,
                Token::Minus => BinaryOp::Subtract,
                _ => return Ok(left),
            };
            self.advance();
            let right = self.multiplicative()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, SqlError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Token::Star => BinaryOp::Multiply,
                Token::Slash => BinaryOp::Divide,
                Token::Percent => BinaryOp::Remainder,
                _ => return Ok(left),
            };
            self.advance();
            let right = self.unary()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr, SqlError> {
        if self.eat(&Token::Minus) {
            self.enter()?;
            let operand = self.unary();
            self.depth -= 1;
            return Ok(match operand? {
                Expr::Literal(Value::Int(int)) if int != i64::MIN => {
                    Expr::Literal(Value::Int(-int))
                }
                Expr::Literal(Value::Decimal(decimal)) => Expr::Literal(Value::Decimal(-decimal)),
                other => Expr::Negate(Box::new(other)),
            });
        }
        let mut expr = self.primary()?;
        while self.eat(&Token::Dot) {
            match self.peek().clone() {
                Token::Word(name) => {
                    self.advance();
                    expr = Expr::Member(Box::new(expr), name);
                }
                _ => {
                    return Err(self.expected(
                        "a member name after '.' (names with hyphens or leading digits need get())",
                    ));
                }
            }
        }
        Ok(expr)
    }

    fn primary(&mut self) -> Result<Expr, SqlError> {
        let offset = self.offset();
        match self.peek().clone() {
            Token::Int(int) => {
                self.advance();
                Ok(Expr::Literal(Value::Int(int)))
            }
            Token::Decimal(decimal) => {
                self.advance();
                Ok(Expr::Literal(Value::decimal(decimal)))
            }
            Token::Str { text, .. } => {
                self.advance();
                Ok(Expr::Literal(Value::String(text)))
            }
            Token::LeftParen => {
                self.advance();
                if self.at_keyword("SELECT") {
                    return self.nested_query();
                }
                let expr = self.expr()?;
                self.expect(&Token::RightParen, "')'")?;
                Ok(expr)
            }
            Token::LeftBrace => self.object_literal(),
            Token::Variable(name) => match self.variables.iter().position(|set| *set == name) {
                Some(index) => {
                    self.advance();
                    Ok(Expr::Variable(index))
                }
                None => Err(SqlError::InvalidArgument {
                    position: self.position(),
                    message: format!("variable @{name} is not set by the SET clause"),
                }),
            },
            Token::LeftBracket => {
                self.advance();
                let items = self.list(&Token::RightBracket, "',' or ']'")?;
                Ok(Expr::Array(items))
            }
            Token::Word(word) => {
                if word.eq_ignore_ascii_case("TRUE") {
                    self.advance();
                    return Ok(Expr::Literal(Value::Bool(true)));
                }
                if word.eq_ignore_ascii_case("FALSE") {
                    self.advance();
                    return Ok(Expr::Literal(Value::Bool(false)));
                }
                if word.eq_ignore_ascii_case("NULL") {
                    self.advance();
                    return Ok(Expr::Literal(Value::Null));
                }
                if word.eq_ignore_ascii_case("CASE") {
                    self.advance();
                    return self.case();
                }
                if self.peek_second() == &Token::LeftParen {
                    self.advance();
                    return self.call(&word, offset);
                }
                if is_reserved(&word) {
                    return Err(self.expected("an expression"));
                }
                self.advance();
                Ok(Expr::Field(word))
            }
            _ => Err(self.expected("an expression")),
        }
    }

    /// Expressions separated by commas up to `close`, which is consumed.
    fn list(&mut self, close: &Token, what: &str) -> Result<Vec<Expr>, SqlError> {
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            if self.eat(close) {
                return Ok(items);
            }
            self.expect(&Token::Comma, what)?;
        }
    }

    fn object_literal(&mut self) -> Result<Expr, SqlError> {
        self.advance();
        let mut members = Vec::new();
        if self.eat(&Token::RightBrace) {
            return Ok(Expr::Object(members));
        }
        loop {
            let Token::Str { text: key, .. } = self.peek().clone() else {
                return Err(self.expected("a quoted key in the object literal"));
            };
            self.advance();
            self.expect(&Token::Colon, "':' after the key")?;
            members.push((key, self.expr()?));
            if self.eat(&Token::RightBrace) {
                return Ok(Expr::Object(members));
            }
            self.expect(&Token::Comma, "',' or '}'")?;
        }
    }

    /// `CASE v WHEN t THEN r ... [ELSE e] END` (iot-sql-case).
    fn case(&mut self) -> Result<Expr, SqlError> {
        if self.at_keyword("WHEN") {
            return Err(self.expected(
                "the value CASE compares (IoT SQL has only CASE v WHEN t THEN r ... END)",
            ));
        }
        let subject = self.expr()?;
        let mut arms = Vec::new();
        while self.eat_keyword("WHEN") {
            let test = self.expr()?;
            self.expect_keyword("THEN")?;
            arms.push((test, self.expr()?));
        }
        if arms.is_empty() {
            return Err(self.expected("WHEN (CASE needs at least one WHEN clause)"));
        }
        let otherwise = if self.eat_keyword("ELSE") {
            Some(Box::new(self.expr()?))
        } else {
            None
        };
        if !self.eat_keyword("END") {
            return Err(self.expected(if otherwise.is_some() {
                "END"
            } else {
                "WHEN, ELSE or END"
            }));
        }
        Ok(Expr::Case {
            subject: Box::new(subject),
            arms,
            otherwise,
        })
    }

    /// `(SELECT [VALUE] items FROM expr [WHERE condition])` (iot-sql-nested-queries); the opening
    /// parenthesis is consumed.
    fn nested_query(&mut self) -> Result<Expr, SqlError> {
        self.enter()?;
        self.advance();
        let (value, items) = self.select_list()?;
        self.expect_keyword("FROM")?;
        let source = self.expr()?;
        let condition = if self.eat_keyword("WHERE") {
            Some(self.expr()?)
        } else {
            None
        };
        self.expect(&Token::RightParen, "')' closing the nested SELECT")?;
        self.depth -= 1;
        Ok(Expr::Nested {
            source: Box::new(source),
            query: Box::new(Query {
                value,
                items,
                condition,
            }),
        })
    }

    /// A function call; the name is consumed, the parenthesis is next.
    fn call(&mut self, name: &str, offset: usize) -> Result<Expr, SqlError> {
        let position = Position::at(self.sql, offset);
        self.advance();
        if name.eq_ignore_ascii_case("cast") {
            return self.cast();
        }
        let function = match functions::lookup(name) {
            Lookup::Known(function) => function,
            Lookup::Unsupported(reason) => {
                return Err(SqlError::UnsupportedFunction {
                    position,
                    name: name.to_owned(),
                    reason: reason.to_owned(),
                });
            }
            Lookup::Unknown => {
                return Err(SqlError::UnknownFunction {
                    position,
                    name: name.to_owned(),
                });
            }
        };
        let mut args = Vec::new();
        if !self.eat(&Token::RightParen) {
            loop {
                if self.peek() == &Token::Star
                    && matches!(self.peek_second(), Token::Comma | Token::RightParen)
                {
                    self.advance();
                    args.push(Expr::Payload);
                } else {
                    args.push(self.expr()?);
                }
                if self.eat(&Token::RightParen) {
                    break;
                }
                self.expect(&Token::Comma, "',' or ')' in the argument list")?;
            }
        }
        let (least, most) = function.arity();
        if args.len() < least || args.len() > most {
            let expected = match (least, most) {
                (least, most) if least == most => least.to_string(),
                (least, usize::MAX) => format!("at least {least}"),
                (least, most) => format!("{least} to {most}"),
            };
            return Err(SqlError::ArgumentCount {
                position,
                name: function.name().to_owned(),
                expected,
                found: args.len(),
            });
        }
        check_literal_arguments(function, &args, position)?;
        Ok(Expr::Call(function, args))
    }

    /// `cast(value AS type)`; `cast(` is consumed.
    fn cast(&mut self) -> Result<Expr, SqlError> {
        let value = self.expr()?;
        self.expect_keyword("AS")?;
        let target = match self.peek() {
            Token::Word(word) => match word.to_ascii_lowercase().as_str() {
                "string" | "nvarchar" | "text" | "ntext" | "varchar" => Some(CastType::String),
                "int" | "integer" => Some(CastType::Int),
                "double" | "decimal" => Some(CastType::Decimal),
                "bool" | "boolean" => Some(CastType::Boolean),
                _ => None,
            },
            _ => None,
        };
        let Some(target) = target else {
            return Err(self.expected(
                "a cast type: String, Nvarchar, Text, Ntext, varchar, Int, Integer, Double, Decimal, Bool or Boolean",
            ));
        };
        self.advance();
        self.expect(&Token::RightParen, "')' closing cast")?;
        Ok(Expr::Cast(Box::new(value), target))
    }
}

fn is_reserved(word: &str) -> bool {
    RESERVED
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(word))
}

/// The output key of an item without AS: a member keeps its name, a call takes the function's.
fn default_name(expr: &Expr, index: usize) -> String {
    match expr {
        Expr::Field(name) | Expr::Member(_, name) => name.clone(),
        Expr::Call(function, _) => function.name().to_owned(),
        _ => format!("_{}", index + 1),
    }
}

/// Arguments the reference requires to be literal, or that can be checked when they are.
fn check_literal_arguments(
    function: Function,
    args: &[Expr],
    position: Position,
) -> Result<(), SqlError> {
    let invalid = |message: String| SqlError::InvalidArgument { position, message };
    match function {
        Function::Encode | Function::Decode => match &args[1] {
            Expr::Literal(Value::String(scheme)) if scheme == "base64" => Ok(()),
            Expr::Literal(Value::String(scheme)) => Err(SqlError::Unsupported {
                position,
                what: format!(
                    "{}() with scheme '{scheme}' (only 'base64')",
                    function.name()
                ),
            }),
            _ => Err(invalid(format!(
                "{}() takes its scheme as a literal string such as 'base64'",
                function.name()
            ))),
        },
        Function::ParseTime => {
            if let Expr::Literal(Value::String(pattern)) = &args[0] {
                time_format::check_pattern(pattern)
                    .map_err(|reason| invalid(format!("parse_time(): {reason}")))?;
            }
            if let Some(Expr::Literal(Value::String(zone))) = args.get(2) {
                time_format::check_zone(zone).map_err(|what| SqlError::Unsupported {
                    position,
                    what: format!("parse_time() with {what}"),
                })?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
