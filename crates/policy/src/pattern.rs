//! Strings of a policy compiled once at parse time: literal text, the wildcards `*` and `?`, and
//! policy variables `${key}` / `${key, 'default'}` with the special `${*}`, `${?}`, `${$}`
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html>).
//! Matching places the runs between `*` one after the other over the compiled pieces: no regex,
//! and no allocation unless a template holds more than four variables.

use std::borrow::Cow;

use crate::context::lowercase;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Literal(Box<str>),
    /// `*`: any run of characters, `/` and `:` included within the text it is matched against.
    AnyRun,
    /// `?`: exactly one character.
    AnyOne,
    Variable(Variable),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Variable {
    /// Position among the template's variables.
    ordinal: usize,
    lowercase_key: Box<str>,
    default: Option<Box<str>>,
}

/// Which syntax a string of a policy may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Syntax {
    pub(crate) wildcards: bool,
    pub(crate) variables: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    pub(crate) fn compile(text: &str, syntax: Syntax) -> Template {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(character) = rest.chars().next() {
            if syntax.variables
                && rest.starts_with("${")
                && let Some(end) = rest.find('}')
            {
                let inside = &rest[2..end];
                rest = &rest[end + 1..];
                match inside {
                    "*" | "?" | "$" => literal.push_str(inside),
                    _ => {
                        flush(&mut pieces, &mut literal);
                        let ordinal = pieces
                            .iter()
                            .filter(|piece| matches!(piece, Piece::Variable(_)))
                            .count();
                        pieces.push(Piece::Variable(Variable::parse(inside, ordinal)));
                    }
                }
                continue;
            }
            rest = &rest[character.len_utf8()..];
            match character {
                '*' if syntax.wildcards => {
                    flush(&mut pieces, &mut literal);
                    pieces.push(Piece::AnyRun);
                }
                '?' if syntax.wildcards => {
                    flush(&mut pieces, &mut literal);
                    pieces.push(Piece::AnyOne);
                }
                _ => literal.push(character),
            }
        }
        flush(&mut pieces, &mut literal);
        Template { pieces }
    }

    pub(crate) fn has_variables(&self) -> bool {
        self.pieces
            .iter()
            .any(|piece| matches!(piece, Piece::Variable(_)))
    }

    pub(crate) fn is_any(&self) -> bool {
        matches!(self.pieces.as_slice(), [Piece::AnyRun])
    }

    pub(crate) fn as_literal(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [] => Some(""),
            [Piece::Literal(text)] => Some(text),
            _ => None,
        }
    }

    /// Whether `subject` matches. A variable that `resolve` cannot resolve and that has no
    /// default makes the template match nothing ("the resource that includes a policy variable
    /// with no value will not match any resource").
    pub(crate) fn matches<'v>(
        &self,
        subject: &str,
        fold_ascii_case: bool,
        resolve: &dyn Fn(&str) -> Option<Cow<'v, str>>,
    ) -> bool {
        if let Some(literal) = self.as_literal() {
            return eq(literal, subject, fold_ascii_case);
        }
        if !self.has_variables() {
            let text_at = |index: usize| match &self.pieces[index] {
                Piece::Literal(text) => &**text,
                _ => "",
            };
            return glob(&self.pieces, text_at, subject, fold_ascii_case);
        }
        let Some(resolved) = self.resolve_variables(resolve) else {
            return false;
        };
        let text_at = |index: usize| match &self.pieces[index] {
            Piece::Literal(text) => &**text,
            Piece::Variable(variable) => resolved.get(variable.ordinal),
            _ => "",
        };
        glob(&self.pieces, text_at, subject, fold_ascii_case)
    }

    /// The template's text with variables replaced; `None` when a variable has no value. Only
    /// meaningful for templates without wildcards.
    pub(crate) fn resolve<'v>(
        &self,
        resolve: &dyn Fn(&str) -> Option<Cow<'v, str>>,
    ) -> Option<Cow<'_, str>> {
        if let Some(literal) = self.as_literal() {
            return Some(Cow::Borrowed(literal));
        }
        let resolved = self.resolve_variables(resolve)?;
        let mut text = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(literal) => text.push_str(literal),
                Piece::AnyRun => text.push('*'),
                Piece::AnyOne => text.push('?'),
                Piece::Variable(variable) => text.push_str(resolved.get(variable.ordinal)),
            }
        }
        Some(Cow::Owned(text))
    }

    fn resolve_variables<'a, 'v: 'a>(
        &'a self,
        resolve: &dyn Fn(&str) -> Option<Cow<'v, str>>,
    ) -> Option<Resolved<'a>> {
        let mut resolved = Resolved::default();
        for piece in &self.pieces {
            if let Piece::Variable(variable) = piece {
                let value: Cow<'a, str> = match resolve(&variable.lowercase_key) {
                    Some(value) => value,
                    None => Cow::Borrowed(variable.default.as_deref()?),
                };
                resolved.push(value);
            }
        }
        Some(resolved)
    }

    /// Splits at the first five colons outside `${...}`, the ARN segment separators.
    pub(crate) fn split_arn_text(text: &str) -> Vec<&str> {
        let mut parts = Vec::with_capacity(6);
        let mut start = 0;
        let mut in_variable = false;
        let bytes = text.as_bytes();
        let mut index = 0;
        while index < bytes.len() && parts.len() < 5 {
            match bytes[index] {
                b'$' if bytes.get(index + 1) == Some(&b'{') => {
                    in_variable = true;
                    index += 1;
                }
                b'}' if in_variable => in_variable = false,
                b':' if !in_variable => {
                    parts.push(&text[start..index]);
                    start = index + 1;
                }
                _ => {}
            }
            index += 1;
        }
        parts.push(&text[start..]);
        parts
    }
}

impl Variable {
    /// `key` or `key, 'default'` ("surround the default value with single quotes and separate
    /// the variable text and the default value with a comma and space").
    fn parse(inside: &str, ordinal: usize) -> Variable {
        let (key, default) = match inside.split_once(',') {
            Some((key, default)) => {
                let default = default.trim();
                if default.len() >= 2 && default.starts_with('\'') && default.ends_with('\'') {
                    (key, Some(default[1..default.len() - 1].into()))
                } else {
                    (inside, None)
                }
            }
            None => (inside, None),
        };
        let key = key.trim();
        Variable {
            ordinal,
            lowercase_key: lowercase(key).into(),
            default,
        }
    }
}

fn flush(pieces: &mut Vec<Piece>, literal: &mut String) {
    if !literal.is_empty() {
        pieces.push(Piece::Literal(std::mem::take(literal).into()));
    }
}

fn eq(pattern: &str, subject: &str, fold_ascii_case: bool) -> bool {
    if fold_ascii_case {
        pattern.eq_ignore_ascii_case(subject)
    } else {
        pattern == subject
    }
}

/// An ARN pattern compared segment by segment: "Each of the six colon-delimited components of
/// the ARN is checked separately and each can include multi-character match wildcards (*) or
/// single-character match wildcards (?)"
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN>).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ArnPattern {
    /// Six segment templates; the last one spans the rest of the ARN, colons included.
    Segments(Box<[Template; 6]>),
    /// A pattern that is not ARN-shaped (`*` alone): matched against the whole text.
    Whole(Template),
}

impl ArnPattern {
    pub(crate) fn compile(text: &str, syntax: Syntax) -> ArnPattern {
        let parts = Template::split_arn_text(text);
        if parts.len() < 6 {
            return ArnPattern::Whole(Template::compile(text, syntax));
        }
        ArnPattern::Segments(Box::new(std::array::from_fn(|index| {
            Template::compile(parts[index], syntax)
        })))
    }

    pub(crate) fn is_any(&self) -> bool {
        matches!(self, ArnPattern::Whole(template) if template.is_any())
    }

    /// Whether a segment before the resource part holds a policy variable.
    pub(crate) fn has_variable_before_resource(&self) -> bool {
        match self {
            ArnPattern::Segments(segments) => segments[..5].iter().any(Template::has_variables),
            ArnPattern::Whole(_) => false,
        }
    }

    /// Matches an ARN already split into six segments, or (`None`) a text that is not an ARN.
    pub(crate) fn matches<'v>(
        &self,
        whole: &str,
        segments: Option<[&str; 6]>,
        resolve: &dyn Fn(&str) -> Option<Cow<'v, str>>,
    ) -> bool {
        match (self, segments) {
            (ArnPattern::Whole(template), _) => template.matches(whole, false, resolve),
            (ArnPattern::Segments(patterns), Some(segments)) => patterns
                .iter()
                .zip(segments)
                .all(|(pattern, segment)| pattern.matches(segment, false, resolve)),
            (ArnPattern::Segments(_), None) => false,
        }
    }
}

/// Values of a template's variables, by ordinal: the first few inline, so matching allocates
/// nothing for the usual one or two variables.
#[derive(Default)]
struct Resolved<'v> {
    inline: [Cow<'v, str>; 4],
    count: usize,
    spilled: Vec<Cow<'v, str>>,
}

impl<'v> Resolved<'v> {
    fn push(&mut self, value: Cow<'v, str>) {
        match self.inline.get_mut(self.count) {
            Some(slot) => *slot = value,
            None => self.spilled.push(value),
        }
        self.count += 1;
    }

    fn get(&self, ordinal: usize) -> &str {
        match self.inline.get(ordinal) {
            Some(value) => value,
            None => &self.spilled[ordinal - self.inline.len()],
        }
    }
}

/// Wildcard matching run by run: the pieces between two `*` form a run of fixed length in
/// characters; runs must appear in order, the first anchored at the start unless the pattern
/// begins with `*`, the last at the end unless it ends with `*`. Placing each middle run at its
/// leftmost fit is enough because `*` is the only variable-length wildcard.
fn glob<'t>(
    pieces: &[Piece],
    text_at: impl Fn(usize) -> &'t str,
    subject: &str,
    fold: bool,
) -> bool {
    let bytes = subject.as_bytes();
    let run_matches_at = |run: std::ops::Range<usize>, mut at: usize| -> Option<usize> {
        for index in run {
            match &pieces[index] {
                Piece::AnyOne => {
                    if at >= bytes.len() {
                        return None;
                    }
                    at += char_len(subject, at);
                }
                Piece::AnyRun => unreachable!("runs hold no *"),
                Piece::Literal(_) | Piece::Variable(_) => {
                    let text = text_at(index).as_bytes();
                    let candidate = bytes.get(at..at + text.len())?;
                    let same = if fold {
                        candidate.eq_ignore_ascii_case(text)
                    } else {
                        candidate == text
                    };
                    if !same {
                        return None;
                    }
                    at += text.len();
                }
            }
        }
        Some(at)
    };
    let run_chars = |run: std::ops::Range<usize>| -> usize {
        run.map(|index| match &pieces[index] {
            Piece::AnyOne => 1,
            Piece::AnyRun => 0,
            Piece::Literal(_) | Piece::Variable(_) => text_at(index).chars().count(),
        })
        .sum()
    };

    let mut index = 0;
    let mut cursor = 0;
    let mut after_star = false;
    loop {
        while let Some(Piece::AnyRun) = pieces.get(index) {
            after_star = true;
            index += 1;
        }
        if index == pieces.len() {
            return after_star || cursor == bytes.len();
        }
        let run_end = pieces[index..]
            .iter()
            .position(|piece| matches!(piece, Piece::AnyRun))
            .map_or(pieces.len(), |offset| index + offset);
        let run = index..run_end;
        let last = run_end == pieces.len();
        cursor = match (after_star, last) {
            (false, _) => match run_matches_at(run, cursor) {
                Some(end) if !last || end == bytes.len() => end,
                _ => return false,
            },
            (true, true) => {
                // Anchored at the end: start as many characters before it as the run holds.
                let chars = run_chars(run.clone());
                let start = if chars == 0 {
                    Some(bytes.len())
                } else {
                    subject
                        .char_indices()
                        .rev()
                        .nth(chars - 1)
                        .map(|(offset, _)| offset)
                };
                let Some(start) = start else {
                    return false;
                };
                return start >= cursor && run_matches_at(run, start) == Some(bytes.len());
            }
            (true, false) => {
                let Some(end) = subject[cursor..]
                    .char_indices()
                    .map(|(offset, _)| cursor + offset)
                    .chain(std::iter::once(bytes.len()))
                    .find_map(|start| run_matches_at(run.clone(), start))
                else {
                    return false;
                };
                end
            }
        };
        index = run_end;
    }
}

fn char_len(subject: &str, at: usize) -> usize {
    subject[at..].chars().next().map_or(1, char::len_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLOB: Syntax = Syntax {
        wildcards: true,
        variables: true,
    };
    const PLAIN: Syntax = Syntax {
        wildcards: false,
        variables: true,
    };

    fn no_variables(_: &str) -> Option<Cow<'static, str>> {
        None
    }

    fn like(pattern: &str, subject: &str) -> bool {
        Template::compile(pattern, GLOB).matches(subject, false, &no_variables)
    }

    #[test]
    fn star_spans_slashes_and_question_mark_is_one_character() {
        // Examples of "Using wildcards in resource ARNs":
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
        for matching in [
            "DOC-EXAMPLE-BUCKET/1/test/object.jpg",
            "DOC-EXAMPLE-BUCKET/1/2/test/object.jpg",
            "DOC-EXAMPLE-BUCKET/1/2/test/3/object.jpg",
            "DOC-EXAMPLE-BUCKET/1/2/3/test/4/object.jpg",
            "DOC-EXAMPLE-BUCKET/1///test///object.jpg",
            "DOC-EXAMPLE-BUCKET/1/test/.jpg",
            "DOC-EXAMPLE-BUCKET//test/object.jpg",
            "DOC-EXAMPLE-BUCKET/1/test/",
        ] {
            assert!(like("DOC-EXAMPLE-BUCKET/*/test/*", matching), "{matching}");
        }
        for other in [
            "DOC-EXAMPLE-BUCKET/1-test/object.jpg",
            "DOC-EXAMPLE-BUCKET/test/object.jpg",
            "DOC-EXAMPLE-BUCKET/1/2/test.jpg",
        ] {
            assert!(!like("DOC-EXAMPLE-BUCKET/*/test/*", other), "{other}");
        }
        assert!(like("some/?????/topic", "some/abcde/topic"));
        assert!(!like("some/?????/topic", "some/abcd/topic"));
        assert!(like("sensor???", "sensorÅ12"));
        assert!(like("*", ""));
        assert!(!like("?", ""));
        assert!(like("a*b*c", "aXbYbZc"));
        assert!(!like("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn mqtt_wildcards_are_literal_characters() {
        // https://docs.aws.amazon.com/iot/latest/developerguide/pub-sub-policy.html
        assert!(like("some/+/topic", "some/+/topic"));
        assert!(!like("some/+/topic", "some/x/topic"));
        assert!(!like("a/#", "a/b"));
    }

    #[test]
    fn variables_resolve_and_special_variables_are_literal() {
        let resolve = |key: &str| (key == "aws:username").then_some(Cow::Borrowed("David"));
        let template = Template::compile("home/${AWS:UserName}/*", GLOB);
        assert!(template.matches("home/David/notes.txt", false, &resolve));
        assert!(!template.matches("home/Adele/notes.txt", false, &resolve));

        let special = Template::compile("a${*}b${?}c${$}d", GLOB);
        assert!(special.matches("a*b?c$d", false, &no_variables));
        assert!(!special.matches("aXbYc$d", false, &no_variables));
    }

    #[test]
    fn a_variable_without_value_matches_nothing_unless_it_has_a_default() {
        let template = Template::compile("topic/${iot:ClientId}/*", GLOB);
        assert!(!template.matches("topic//x", false, &no_variables));
        assert!(!template.matches("topic/${iot:ClientId}/x", false, &no_variables));

        let team = Template::compile("bucket-${aws:PrincipalTag/team, 'company-wide'}", GLOB);
        assert!(team.matches("bucket-company-wide", false, &no_variables));
        let yellow = |_: &str| Some(Cow::Borrowed("yellow"));
        assert!(team.matches("bucket-yellow", false, &yellow));
    }

    #[test]
    fn values_of_variables_are_literal_text() {
        let star = |_: &str| Some(Cow::Borrowed("*"));
        let template = Template::compile("client/${iot:ClientId}", GLOB);
        assert!(template.matches("client/*", false, &star));
        assert!(!template.matches("client/anything", false, &star));
    }

    #[test]
    fn plain_syntax_keeps_wildcards_literal() {
        let template = Template::compile("a*b", PLAIN);
        assert_eq!(template.as_literal(), Some("a*b"));
        assert!(template.matches("a*b", false, &no_variables));
        assert!(!template.matches("aXb", false, &no_variables));
        let unterminated = Template::compile("x${aws:username", PLAIN);
        assert_eq!(unterminated.as_literal(), Some("x${aws:username"));
    }

    #[test]
    fn folding_compares_ascii_case_insensitively() {
        let action = Template::compile("iam:*accesskey*", GLOB);
        assert!(action.matches("IAM:ListAccessKeys", true, &no_variables));
        assert!(!action.matches("IAM:ListAccessKeys", false, &no_variables));
    }

    /// The plain recursive definition of `*` and `?`, against which `glob` is checked.
    fn reference(pattern: &[char], subject: &[char]) -> bool {
        match pattern.split_first() {
            None => subject.is_empty(),
            Some(('*', rest)) => (0..=subject.len()).any(|skip| reference(rest, &subject[skip..])),
            Some(('?', rest)) => !subject.is_empty() && reference(rest, &subject[1..]),
            Some((literal, rest)) => {
                subject.first() == Some(literal) && reference(rest, &subject[1..])
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn glob_agrees_with_the_definition_of_its_wildcards(
            pattern in "[ab*?é]{0,8}",
            subject in "[abé]{0,10}",
        ) {
            let expected = reference(
                &pattern.chars().collect::<Vec<_>>(),
                &subject.chars().collect::<Vec<_>>(),
            );
            proptest::prop_assert_eq!(like(&pattern, &subject), expected);
            // The same text split into a variable and literals matches the same way.
            let resolve = |_: &str| Some(Cow::Borrowed("ab"));
            let with_variable = Template::compile(&format!("{pattern}${{v}}"), GLOB);
            let expected = reference(
                &format!("{pattern}ab").chars().collect::<Vec<_>>(),
                &subject.chars().collect::<Vec<_>>(),
            );
            proptest::prop_assert_eq!(with_variable.matches(&subject, false, &resolve), expected);
        }
    }

    #[test]
    fn arn_text_splits_at_the_first_five_colons_outside_variables() {
        assert_eq!(
            Template::split_arn_text("arn:aws:logs:eu-west-1:1:log-group:x:*"),
            ["arn", "aws", "logs", "eu-west-1", "1", "log-group:x:*"]
        );
        assert_eq!(
            Template::split_arn_text("arn:aws:s3:::${aws:username}"),
            ["arn", "aws", "s3", "", "", "${aws:username}"]
        );
        assert_eq!(
            Template::split_arn_text("arn:aws:sns:${aws:x}:1:t"),
            ["arn", "aws", "sns", "${aws:x}", "1", "t"]
        );
        assert_eq!(Template::split_arn_text("*"), ["*"]);
    }
}
