//! What a rule author sees when IoT (and so the local post office) refuses the SQL.

use postoffice_iot_sql::{Position, SqlError, Statement};

fn refuse(sql: &str) -> SqlError {
    match Statement::parse(sql) {
        Ok(_) => panic!("accepted: {sql}"),
        Err(error) => error,
    }
}

#[test]
fn syntax_errors_name_the_position_and_what_was_expected() {
    let error = refuse("SELECT color AS FROM 'topic'");
    assert_eq!(
        error.to_string(),
        "line 1, column 17: expected a name after AS, found 'FROM'"
    );
    let error = refuse("SELECT a,\n  b +\nFROM 't'");
    assert_eq!(
        error,
        SqlError::Syntax {
            position: Position { line: 3, column: 1 },
            expected: "an expression".into(),
            found: "'FROM'".into(),
        }
    );
    assert_eq!(
        refuse("SELECT a FROM \"topic\"").to_string(),
        "line 1, column 15: expected a topic filter in single quotes, found string \"topic\""
    );
    assert_eq!(
        refuse("SELECT a FROM 't' WHERE b = 1 c").to_string(),
        "line 1, column 31: expected an operator or the end of the statement, found 'c'"
    );
    assert_eq!(
        refuse("SELECT (a FROM 't'").to_string(),
        "line 1, column 11: expected ')', found 'FROM'"
    );
    assert_eq!(
        refuse("SELECT a FROM 'topic").to_string(),
        "line 1, column 15: expected a closing ' for this string, found the end of the statement"
    );
    assert_eq!(
        refuse("SELECT a ! b FROM 't'").to_string(),
        "line 1, column 10: expected a name, number, string, operator or punctuation, found character '!'"
    );
    assert!(
        refuse("")
            .to_string()
            .contains("expected SELECT, found the end of the statement")
    );
    assert!(refuse("SELECT a").to_string().contains("expected FROM"));
    assert!(
        refuse("SELECT a.0 FROM 't'")
            .to_string()
            .contains("need get()")
    );
}

/// "If a JSON property name includes a hyphen character or numeric characters, the simple 'dot'
/// notation will not work" (iot-sql-json): `a.my-key` is `a.my` minus `key`.
#[test]
fn hyphenated_names_are_subtractions() {
    let statement =
        Statement::parse("SELECT a.my-key AS v, get(a, 'my-key') AS w FROM 't'").unwrap();
    let out = statement
        .evaluate(&postoffice_iot_sql::Message::new(
            "t",
            br#"{"a": {"my-key": 1}}"#,
        ))
        .unwrap();
    assert_eq!(out, Some(serde_json::json!({"w": 1})));
}

#[test]
fn case_needs_a_value_and_a_when() {
    assert!(
        refuse("SELECT CASE WHEN a > 1 THEN 1 END AS x FROM 't'")
            .to_string()
            .contains("IoT SQL has only CASE v WHEN t THEN r ... END")
    );
    assert!(
        refuse("SELECT CASE a ELSE 1 END AS x FROM 't'")
            .to_string()
            .contains("CASE needs at least one WHEN clause")
    );
    assert!(
        refuse("SELECT CASE a WHEN 1 THEN 2 AS x FROM 't'")
            .to_string()
            .contains("expected WHEN, ELSE or END, found 'AS'")
    );
}

#[test]
fn functions_that_need_aws_are_refused_by_name() {
    for (sql, name) in [
        (
            "SELECT get_thing_shadow('t', 'arn:aws:iam::1:role/r') AS s FROM 'a'",
            "get_thing_shadow",
        ),
        (
            "SELECT aws_lambda('arn:aws:lambda:us-east-1:1:function:f', *) AS s FROM 'a'",
            "aws_lambda",
        ),
        (
            "SELECT get_secret('id', 'SecretString', 'k', 'arn') AS s FROM 'a'",
            "get_secret",
        ),
        (
            "SELECT machinelearning_predict('m', 'arn', *) AS p FROM 'a'",
            "machinelearning_predict",
        ),
        (
            "SELECT x FROM 'a' WHERE get_dynamodb('t', 'k', 'v', 'arn') = 1",
            "get_dynamodb",
        ),
    ] {
        let error = refuse(sql);
        assert!(
            matches!(&error, SqlError::UnsupportedFunction { name: n, .. } if n == name),
            "{error}"
        );
        assert!(error.to_string().contains(&format!(
            "function {name}() is not supported by the local post office"
        )));
        assert!(error.to_string().contains("AWS"), "{error}");
    }
    assert_eq!(
        refuse("SELECT md5(x) AS h FROM 'a'").to_string(),
        "line 1, column 8: function md5() is not supported by the local post office: hashing functions are not implemented locally"
    );
}

#[test]
fn unknown_functions_and_wrong_argument_counts_are_refused() {
    assert_eq!(
        refuse("SELECT typeof(x) AS t FROM 'a'").to_string(),
        "line 1, column 8: unknown function typeof()"
    );
    assert_eq!(
        refuse("SELECT x FROM 'a' WHERE isString(x)").to_string(),
        "line 1, column 25: unknown function isString()"
    );
    assert_eq!(
        refuse("SELECT topic(1, 2) AS t FROM 'a'").to_string(),
        "line 1, column 8: function topic() takes 0 to 1 argument(s), found 2"
    );
    assert_eq!(
        refuse("SELECT upper() AS t FROM 'a'").to_string(),
        "line 1, column 8: function upper() takes 1 argument(s), found 0"
    );
}

#[test]
fn literal_arguments_are_checked() {
    assert!(
        refuse("SELECT encode(*, 'hex') AS h FROM 'a'")
            .to_string()
            .contains("only 'base64'")
    );
    assert!(
        refuse("SELECT encode(*, scheme) AS h FROM 'a'")
            .to_string()
            .contains("literal string")
    );
    assert!(
        refuse("SELECT parse_time('yyyy QQ', 0) AS t FROM 'a'")
            .to_string()
            .contains("'Q'")
    );
    assert!(
        refuse("SELECT parse_time('yyyy', 0, 'America/Belize') AS t FROM 'a'")
            .to_string()
            .contains("America/Belize")
    );
    assert!(
        refuse("SELECT cast(x AS Float) AS f FROM 'a'")
            .to_string()
            .contains("a cast type")
    );
}

#[test]
fn topic_filters_and_unsupported_clauses() {
    assert_eq!(
        refuse("SELECT * FROM 'a/#/b'").to_string(),
        "line 1, column 15: invalid topic filter 'a/#/b': '#' must be the whole last level"
    );
}

/// Variables are set once, before use, by one SET clause (iot-sql-set).
#[test]
fn set_clause_rules() {
    assert_eq!(
        refuse("SET @x = 1, @x = 2 SELECT @x AS x FROM 'a'").to_string(),
        "line 1, column 13: variable @x is already set (variables are immutable)"
    );
    assert_eq!(
        refuse("SET @x = @y, @y = 1 SELECT @x AS x FROM 'a'").to_string(),
        "line 1, column 10: variable @y is not set by the SET clause"
    );
    assert_eq!(
        refuse("SELECT @x AS x FROM 'a'").to_string(),
        "line 1, column 8: variable @x is not set by the SET clause"
    );
    assert!(
        refuse("SET x = 1 SELECT x FROM 'a'")
            .to_string()
            .contains("expected a variable such as @name")
    );
    assert!(
        refuse("SET @x = 1 SET @y = 2 SELECT @x AS x FROM 'a'")
            .to_string()
            .contains("expected SELECT")
    );
    let long = format!("SET @{} = 1 SELECT * FROM 'a'", "v".repeat(65));
    assert!(refuse(&long).to_string().contains("1 to 64 letters"));
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!(
        "SELECT {}1{} AS x FROM 'a'",
        "(".repeat(500),
        ")".repeat(500)
    );
    assert!(refuse(&deep).to_string().contains("nested at most"));
    let negations = format!("SELECT {}1 AS x FROM 'a'", "-".repeat(500));
    assert!(refuse(&negations).to_string().contains("nested at most"));
}
