//! Tokens of IoT SQL, each with the byte offset where it starts.

use crate::error::{Position, SqlError};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    /// A name or keyword, as written.
    Word(String),
    /// `@name`, a variable of the SET clause (without the `@`).
    Variable(String),
    Int(i64),
    Decimal(f64),
    /// A quoted string; `single` tells `'...'` from `"..."` (FROM takes only single quotes).
    Str {
        text: String,
        single: bool,
    },
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    LeftBrace,
    RightBrace,
    Comma,
    Dot,
    Colon,
    Star,
    Plus,
    Minus,
    Slash,
    Percent,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    End,
}

impl Token {
    /// How an error message shows the token.
    pub(crate) fn describe(&self) -> String {
        match self {
            Token::Word(word) => format!("'{word}'"),
            Token::Variable(name) => format!("variable @{name}"),
            Token::Int(int) => format!("number {int}"),
            Token::Decimal(decimal) => format!("number {decimal}"),
            Token::Str { text, single: true } => format!("string '{text}'"),
            Token::Str {
                text,
                single: false,
            } => format!("string \"{text}\""),
            Token::End => "the end of the statement".to_owned(),
            other => format!("'{}'", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Token::LeftParen => "(",
            Token::RightParen => ")",
            Token::LeftBracket => "[",
            Token::RightBracket => "]",
            Token::LeftBrace => "{",
            Token::RightBrace => "}",
            Token::Comma => ",",
            Token::Dot => ".",
            Token::Colon => ":",
            Token::Star => "*",
            Token::Plus => "+",
            Token::Minus => "-",
            Token::Slash => "/",
            Token::Percent => "%",
            Token::Equal => "=",
            Token::NotEqual => "<>",
            Token::Less => "<",
            Token::LessOrEqual => "<=",
            Token::Greater => ">",
            Token::GreaterOrEqual => ">=",
            _ => "",
        }
    }
}

pub(crate) fn tokenize(sql: &str) -> Result<Vec<(Token, usize)>, SqlError> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        let byte = bytes[at];
        if byte.is_ascii_whitespace() {
            at += 1;
            continue;
        }
        let token = match byte {
            b'(' => single(&mut at, Token::LeftParen),
            b')' => single(&mut at, Token::RightParen),
            b'[' => single(&mut at, Token::LeftBracket),
            b']' => single(&mut at, Token::RightBracket),
            b'{' => single(&mut at, Token::LeftBrace),
            b'}' => single(&mut at, Token::RightBrace),
            b',' => single(&mut at, Token::Comma),
            b'.' => single(&mut at, Token::Dot),
            b':' => single(&mut at, Token::Colon),
            b'*' => single(&mut at, Token::Star),
            b'+' => single(&mut at, Token::Plus),
            b'-' => single(&mut at, Token::Minus),
            b'/' => single(&mut at, Token::Slash),
            b'%' => single(&mut at, Token::Percent),
            b'=' => single(&mut at, Token::Equal),
            b'<' => match bytes.get(at + 1) {
                Some(b'>') => double(&mut at, Token::NotEqual),
                Some(b'=') => double(&mut at, Token::LessOrEqual),
                _ => single(&mut at, Token::Less),
            },
            b'>' => match bytes.get(at + 1) {
                Some(b'=') => double(&mut at, Token::GreaterOrEqual),
                _ => single(&mut at, Token::Greater),
            },
            b'\'' | b'"' => string(sql, &mut at)?,
            b'0'..=b'9' => number(sql, &mut at)?,
            b'@' => {
                at += 1;
                while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
                    at += 1;
                }
                Token::Variable(sql[start + 1..at].to_owned())
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
                    at += 1;
                }
                Token::Word(sql[start..at].to_owned())
            }
            _ => {
                let found = sql[start..].chars().next().unwrap_or_default();
                return Err(SqlError::Syntax {
                    position: Position::at(sql, start),
                    expected: "a name, number, string, operator or punctuation".to_owned(),
                    found: format!("character {found:?}"),
                });
            }
        };
        tokens.push((token, start));
    }
    tokens.push((Token::End, sql.len()));
    Ok(tokens)
}

fn single(at: &mut usize, token: Token) -> Token {
    *at += 1;
    token
}

fn double(at: &mut usize, token: Token) -> Token {
    *at += 2;
    token
}

fn number(sql: &str, at: &mut usize) -> Result<Token, SqlError> {
    let bytes = sql.as_bytes();
    let start = *at;
    let digits = |at: &mut usize| {
        while *at < bytes.len() && bytes[*at].is_ascii_digit() {
            *at += 1;
        }
    };
    digits(at);
    let mut decimal = false;
    if bytes.get(*at) == Some(&b'.') && bytes.get(*at + 1).is_some_and(u8::is_ascii_digit) {
        decimal = true;
        *at += 1;
        digits(at);
    }
    if matches!(bytes.get(*at), Some(b'e' | b'E')) {
        let mut exponent = *at + 1;
        if matches!(bytes.get(exponent), Some(b'+' | b'-')) {
            exponent += 1;
        }
        if bytes.get(exponent).is_some_and(u8::is_ascii_digit) {
            decimal = true;
            *at = exponent;
            digits(at);
        }
    }
    let text = &sql[start..*at];
    if !decimal && let Ok(int) = text.parse::<i64>() {
        return Ok(Token::Int(int));
    }
    match text.parse::<f64>() {
        Ok(number) if number.is_finite() => Ok(Token::Decimal(number)),
        _ => Err(SqlError::Syntax {
            position: Position::at(sql, start),
            expected: "a number IoT can represent".to_owned(),
            found: format!("number {text}"),
        }),
    }
}

fn string(sql: &str, at: &mut usize) -> Result<Token, SqlError> {
    let start = *at;
    let quote = sql.as_bytes()[start] as char;
    let mut text = String::new();
    let mut chars = sql[start + 1..].char_indices();
    while let Some((offset, c)) = chars.next() {
        if c == quote {
            *at = start + 1 + offset + 1;
            return Ok(Token::Str {
                text,
                single: quote == '\'',
            });
        }
        if c != '\\' {
            text.push(c);
            continue;
        }
        let Some((escape_offset, escaped)) = chars.next() else {
            break;
        };
        match escaped {
            'n' => text.push('\n'),
            't' => text.push('\t'),
            'r' => text.push('\r'),
            'b' => text.push('\u{8}'),
            'f' => text.push('\u{c}'),
            'u' => {
                let hex: String = chars.by_ref().take(4).map(|(_, c)| c).collect();
                let decoded = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                match decoded {
                    Some(c) if hex.len() == 4 => text.push(c),
                    _ => {
                        return Err(SqlError::Syntax {
                            position: Position::at(sql, start + 1 + escape_offset - 1),
                            expected: "four hexadecimal digits after \\u".to_owned(),
                            found: format!("\\u{hex}"),
                        });
                    }
                }
            }
            other => text.push(other),
        }
    }
    Err(SqlError::Syntax {
        position: Position::at(sql, start),
        expected: format!("a closing {quote} for this string"),
        found: "the end of the statement".to_owned(),
    })
}
