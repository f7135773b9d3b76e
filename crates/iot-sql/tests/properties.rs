//! Parsing and evaluation never panic, whatever the input.

use postoffice_iot_sql::{Message, Statement};
use proptest::prelude::*;

/// The platform's two rules for COOKING_REQUESTED (terraform/modules/event/rule-sql.tf's golden
/// files): the largest statements the engine runs, SET clause and nested CASE included.
const RULE_SQL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../terraform/modules/event/tests/rule-sql/COOKING_REQUESTED.sql"
));
const REJECTED_RULE_SQL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../terraform/modules/event/tests/rule-sql/COOKING_REQUESTED_rejected.sql"
));

/// Fragments of IoT SQL, so that generated statements get past the first token.
fn sql_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("SELECT ".to_owned()),
        Just("SET @v = ".to_owned()),
        Just("@v".to_owned()),
        Just(" FROM 'a/+/#' ".to_owned()),
        Just(" WHERE ".to_owned()),
        Just("CASE x WHEN 1 THEN ".to_owned()),
        Just(" ELSE ".to_owned()),
        Just(" END".to_owned()),
        Just("(SELECT VALUE v FROM e)".to_owned()),
        Just("topic(".to_owned()),
        Just("parse_time('yyyy', ".to_owned()),
        Just("cast(".to_owned()),
        Just(" AS ".to_owned()),
        Just("{'k': ".to_owned()),
        Just("[".to_owned()),
        Just(")".to_owned()),
        Just("]".to_owned()),
        Just("}".to_owned()),
        Just(", ".to_owned()),
        Just(".".to_owned()),
        Just("*".to_owned()),
        Just("-".to_owned()),
        Just(" <> ".to_owned()),
        Just(" AND NOT ".to_owned()),
        "[a-z_]{1,6}",
        "[0-9]{1,25}(\\.[0-9]{1,3})?(e-?[0-9]{1,4})?",
        "'[^']{0,5}'?",
        "\"[^\"]{0,5}\\\\?u?[0-9a-f]{0,3}\"?",
    ]
}

fn statements() -> Vec<Statement> {
    [
        RULE_SQL,
        REJECTED_RULE_SQL,
        "SELECT * FROM '#'",
        "SELECT *, encode(*, 'base64') AS raw, decode(b, 'base64') AS d FROM '#' WHERE a > 1 OR b = 'x'",
        "SELECT VALUE (SELECT v, * FROM e WHERE n <> 'x') FROM '#'",
        "SET @a = a.b, @c = concat(@a, e) SELECT @a, @c.d AS d FROM '#' WHERE NOT isNull(@c)",
        "SELECT a.b.c + d * e - f / g % h AS m, concat(a, b, arr) AS c, substring(s, n, m) AS s, \
         lpad(s, n) AS l, get(arr, n) AS g, cast(x AS Int) AS i, trunc(d, n) AS t, \
         parse_time('yyyy-MM-dd HH:mm:ss.SSS Z', n) AS p, chr(n) AS ch, round(d) AS r, \
         -n AS neg, NOT b AS nb, power(d, n) AS pw, bitand(n, d) AS ba FROM '#'",
    ]
    .iter()
    .map(|sql| Statement::parse(sql).unwrap())
    .collect()
}

fn json_payload() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,8}".prop_map(serde_json::Value::from),
    ];
    let value = leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("a".to_owned()),
                    Just("b".to_owned()),
                    Just("e".to_owned()),
                    Just("n".to_owned()),
                    Just("d".to_owned()),
                    Just("s".to_owned()),
                    Just("arr".to_owned()),
                    Just("payload".to_owned()),
                    Just("event_id".to_owned()),
                ],
                inner,
                0..6
            )
            .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    });
    value.prop_map(|json| json.to_string().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(sql in ".{0,200}") {
        let _ = Statement::parse(&sql);
    }

    #[test]
    fn parse_never_panics_on_sql_like_text(fragments in prop::collection::vec(sql_fragment(), 0..30)) {
        let _ = Statement::parse(&fragments.concat());
    }

    #[test]
    fn evaluate_never_panics_on_arbitrary_bytes(payload in prop::collection::vec(any::<u8>(), 0..300), ts in any::<i64>()) {
        for statement in statements() {
            let message = Message { timestamp_ms: ts, trace_id: Some("t"), ..Message::new("a/b/c", &payload) };
            let _ = statement.execute(&message);
            let _ = statement.evaluate(&message);
        }
    }

    #[test]
    fn evaluate_never_panics_on_arbitrary_json(payload in json_payload(), ts in any::<i64>()) {
        for statement in statements() {
            let message = Message { timestamp_ms: ts, ..Message::new("a/b/c", &payload) };
            let _ = statement.execute(&message);
        }
    }
}
