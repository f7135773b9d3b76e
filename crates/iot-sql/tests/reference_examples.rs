//! The examples of the AWS IoT SQL reference, each with its page, run through the public API.

use postoffice_iot_sql::{Message, Outgoing, SqlError, Statement};
use serde_json::{Value, json};

fn run(sql: &str, topic: &str, payload: &[u8]) -> Option<Value> {
    let statement = Statement::parse(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    statement
        .evaluate(&Message::new(topic, payload))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn select(sql: &str, payload: Value) -> Option<Value> {
    run(sql, "topic/subtopic", payload.to_string().as_bytes())
}

/// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-reference.html
#[test]
fn reference_overview() {
    let out = select(
        "SELECT color AS rgb FROM 'topic/subtopic' WHERE temperature > 50",
        json!({"color": "red", "temperature": 100}),
    );
    assert_eq!(out, Some(json!({"rgb": "red"})));
}

/// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-select.html
#[test]
fn select_clause() {
    let payload = json!({"color": "red", "temperature": 50});
    let cases = [
        (
            "SELECT * FROM 'topic/subtopic'",
            json!({"color": "red", "temperature": 50}),
        ),
        (
            "SELECT color FROM 'topic/subtopic'",
            json!({"color": "red"}),
        ),
        (
            "SELECT color AS my_color FROM 'topic/subtopic'",
            json!({"my_color": "red"}),
        ),
        (
            "SELECT color as my_color, temperature as fahrenheit FROM 'topic/subtopic'",
            json!({"my_color": "red", "fahrenheit": 50}),
        ),
        (
            "SELECT *, 15 as speed FROM 'topic/subtopic'",
            json!({"color": "red", "temperature": 50, "speed": 15}),
        ),
        ("SELECT VALUE color FROM 'topic/subtopic'", json!("red")),
        (
            "SELECT (temperature - 32) * 5 / 9 AS celsius, upper(color) as my_color FROM 'topic/subtopic'",
            json!({"celsius": 10, "my_color": "RED"}),
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(select(sql, payload.clone()), Some(expected), "{sql}");
    }
    let nested = json!({"color": {"red": 255, "green": 0, "blue": 0}, "temperature": 50});
    assert_eq!(
        select(
            "SELECT color.red as red_value FROM 'topic/subtopic'",
            nested
        ),
        Some(json!({"red_value": 255}))
    );
}

/// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-where.html
#[test]
fn where_clause() {
    let out = select(
        "SELECT color AS my_color FROM 'topic/subtopic' WHERE temperature > 50 AND color <> 'red'",
        json!({"color": "red", "temperature": 40}),
    );
    assert_eq!(out, None, "the WHERE clause is false: no outgoing payload");

    let out = run(
        "SELECT decode(encode(*, 'base64'), 'base64') AS value FROM 'topic/subtopic' \
         WHERE decode(encode(*, 'base64'), 'base64') > 50",
        "topic/subtopic",
        b"80",
    );
    assert_eq!(out, Some(json!({"value": 80})));
}

/// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-from.html
#[test]
fn from_clause_wildcards() {
    let messages = [
        ("topic/subtopic", 50),
        ("topic/subtopic-2", 60),
        ("topic/subtopic-3/details", 70),
        ("topic-2/subtopic-x", 80),
    ];
    let triggered = |sql: &str| -> Vec<Value> {
        let statement = Statement::parse(sql).unwrap();
        messages
            .iter()
            .filter(|(topic, _)| statement.matches_topic(topic))
            .map(|(topic, temperature)| {
                let payload = json!({"temperature": temperature}).to_string();
                statement
                    .evaluate(&Message::new(topic, payload.as_bytes()))
                    .unwrap()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(
        triggered("SELECT temperature AS t FROM 'topic/#'"),
        [json!({"t": 50}), json!({"t": 60}), json!({"t": 70})]
    );
    assert_eq!(
        triggered("SELECT temperature AS t FROM 'topic/+'"),
        [json!({"t": 50}), json!({"t": 60})]
    );
    assert_eq!(
        triggered("SELECT temperature AS t FROM 'topic/subtopic'"),
        [json!({"t": 50})]
    );
}

/// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-case.html
#[test]
fn case_statements() {
    let sql = "SELECT CASE color
            WHEN 'green' THEN 'go'
            WHEN 'yellow' THEN 'caution'
            WHEN 'red' THEN 'stop'
            ELSE 'you are not at a stop light' END as instructions
        FROM 'topic/subtopic'";
    assert_eq!(
        select(sql, json!({"color": "yellow"})),
        Some(json!({"instructions": "caution"}))
    );
    assert_eq!(
        select(sql, json!({"color": "blue"})),
        Some(json!({"instructions": "you are not at a stop light"}))
    );
    // "If v is Undefined, the result of the case statement is Undefined", even with an ELSE.
    assert_eq!(select(sql, json!({"colour": "red"})), Some(json!({})));
    // No match and no ELSE: Undefined.
    let without_else =
        "SELECT CASE color WHEN 'green' THEN 'go' END AS instructions FROM 'topic/subtopic'";
    assert_eq!(
        select(without_else, json!({"color": "red"})),
        Some(json!({}))
    );
    // WHEN values are compared with `=`: 1 matches 1.0, but not "1".
    let numeric = "SELECT CASE n WHEN 1 THEN 'one' ELSE 'other' END AS word FROM 'topic/subtopic'";
    assert_eq!(
        select(numeric, json!({"n": 1.0})),
        Some(json!({"word": "one"}))
    );
    assert_eq!(
        select(numeric, json!({"n": "1"})),
        Some(json!({"word": "other"}))
    );
}

/// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-literals.html
#[test]
fn literals() {
    assert_eq!(
        select(
            "SELECT {'latitude': get(lat_long, 0),'longitude':get(lat_long, 1)} as lat_long FROM 'topic/subtopic'",
            json!({"lat_long": [47.606, -122.332]}),
        ),
        Some(json!({"lat_long": {"latitude": 47.606, "longitude": -122.332}}))
    );
    assert_eq!(
        select(
            "SELECT [lat,long] as lat_long FROM 'topic/subtopic'",
            json!({"lat": 47.606, "long": -122.332}),
        ),
        Some(json!({"lat_long": [47.606, -122.332]}))
    );
}

/// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-nested-queries.html
#[test]
fn nested_object_queries() {
    let message = json!({"e": [
        {"n": "temperature", "u": "Cel", "t": 1234, "v": 22.5},
        {"n": "light", "u": "lm", "t": 1235, "v": 135},
        {"n": "acidity", "u": "pH", "t": 1235, "v": 7}
    ]});
    assert_eq!(
        select(
            "SELECT (SELECT VALUE n FROM e) as sensors FROM 'my/topic'",
            message.clone()
        ),
        Some(json!({"sensors": ["temperature", "light", "acidity"]}))
    );
    assert_eq!(
        select(
            "SELECT (SELECT v FROM e WHERE n = 'temperature') as temperature FROM 'my/topic'",
            message.clone()
        ),
        Some(json!({"temperature": [{"v": 22.5}]}))
    );
    assert_eq!(
        select(
            "SELECT get((SELECT v FROM e WHERE n = 'temperature'), 0).v as temperature FROM 'topic'",
            message
        ),
        Some(json!({"temperature": 22.5}))
    );
}

/// https://docs.aws.amazon.com/iot/latest/developerguide/iot-rule-sql-version.html
#[test]
fn array_as_top_level_value() {
    assert_eq!(
        select(
            "SELECT VALUE arr FROM 'topic'",
            json!({"a": {"b": "c"}, "arr": [1, 2, 3, 4]})
        ),
        Some(json!([1, 2, 3, 4]))
    );
}

/// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-data-types.html
#[test]
fn null_is_a_value_and_undefined_is_left_out() {
    assert_eq!(
        select("SELECT NULL AS n FROM 'topic/subtopic'", json!({})),
        Some(json!({"n": null}))
    );
    assert_eq!(
        select(
            "SELECT foo, bar FROM 'topic/subtopic'",
            json!({"foo": null})
        ),
        Some(json!({"foo": null}))
    );
    // Functions called with invalid arguments return Undefined, which is left out too.
    assert_eq!(
        select(
            "SELECT abs(color) AS a, abs('-5.123') AS b FROM 't'",
            json!({"color": "red"})
        ),
        Some(json!({"b": 5.123}))
    );
    // Whole numbers are Ints with SQL 2016-03-23: 10.0 is processed as 10.
    assert_eq!(
        select(
            "SELECT x / 4 AS quarter, cast(x AS Decimal) AS d FROM 't'",
            json!({"x": 10.0})
        ),
        Some(json!({"quarter": 2, "d": 10}))
    );
    // Undefined alone serialises as an empty payload.
    let statement = Statement::parse("SELECT VALUE missing FROM 't'").unwrap();
    assert_eq!(
        statement.execute(&Message::new("t", b"{}")),
        Some(Outgoing::Raw(Vec::new()))
    );
}

/// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-json.html and the decode
/// example of https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html
#[test]
fn json_extensions() {
    let payload = json!({"mydata": {"item2": {"0": {"my-key": "myValue"}}}});
    assert_eq!(
        run(
            r#"SELECT * from 'iot/rules' WHERE get(get(get(mydata,"item2"),"0"),"my-key") = "myValue""#,
            "iot/rules",
            payload.to_string().as_bytes()
        ),
        Some(payload)
    );
    assert_eq!(
        select(
            r#"SELECT decode(encoded_temp,"base64").temperature AS temp from 'topic/subtopic'"#,
            json!({"encoded_temp": "eyAidGVtcGVyYXR1cmUiOiAzMyB9Cg=="}),
        ),
        Some(json!({"temp": 33}))
    );
}

/// https://docs.aws.amazon.com/iot/latest/developerguide/binary-payloads.html
#[test]
fn binary_payloads() {
    let binary: &[u8] = &[0x00, 0xff, 0x10, b'{', 0x80];
    let message = Message {
        timestamp_ms: 1_481_825_251_155,
        principal: Some("ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373"),
        ..Message::new("topic/subtopic", binary)
    };
    let raw = |sql: &str| Statement::parse(sql).unwrap().execute(&message);
    // "* returns the entire message payload as raw bytes" (iot-sql-json).
    assert_eq!(
        raw("SELECT * FROM 'topic/subtopic'"),
        Some(Outgoing::Raw(binary.to_vec()))
    );
    assert_eq!(
        raw("SELECT * FROM 'topic/subtopic' WHERE timestamp() % 12 = 0"),
        None
    );
    assert_eq!(
        raw("SELECT * FROM 'topic/subtopic' WHERE timestamp() % 5 = 0"),
        Some(Outgoing::Raw(binary.to_vec()))
    );
    assert_eq!(
        raw("SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 'topic/subtopic'"),
        Some(Outgoing::Json(
            json!({"data": "AP8Qe4A=", "ts": 1_481_825_251_155_i64})
        ))
    );
    assert_eq!(
        raw("SELECT *, principal() as principal, timestamp() as time FROM 'topic/subtopic'"),
        Some(Outgoing::Json(json!({
            "principal": "ba67293af50bf2506f5f93469686da660c7c844e7b3950bfb16813e0d31e9373",
            "time": 1_481_825_251_155_i64
        })))
    );
    // Fields of a binary payload are Undefined, so this WHERE is never true.
    assert_eq!(
        raw("SELECT * FROM 'topic/subtopic' WHERE device_type = 'thermostat'"),
        None
    );
    // evaluate() has no JSON for raw bytes and says so.
    let err = Statement::parse("SELECT * FROM 'topic/subtopic'")
        .unwrap()
        .evaluate(&message)
        .unwrap_err();
    assert_eq!(err, SqlError::RawOutput { bytes: 5 });
    assert_eq!(Outgoing::Raw(binary.to_vec()).into_bytes(), binary);
}

/// The operator tables of https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-operators.html
#[test]
fn operator_tables() {
    let payload = json!({"n": 5, "d": 2.5, "s": "7", "word": "red", "t": "TRUE", "f": false, "nul": null,
                         "arr": [1, 2], "obj": {"a": 1, "b": 2}});
    let cases: Vec<(&str, Option<Value>)> = vec![
        // AND / OR / NOT take Booleans and "true"/"false" strings in any case; others: Undefined.
        ("t AND true", Some(json!(true))),
        ("t AND f", Some(json!(false))),
        ("f OR 'false'", Some(json!(false))),
        ("t OR n", None),
        ("NOT t", Some(json!(false))),
        ("NOT word", None),
        // Comparisons convert both sides to Decimal, numeric strings included.
        ("s > n", Some(json!(true))),
        ("n >= 5.0", Some(json!(true))),
        ("d < '2.6'", Some(json!(true))),
        ("word > 1", None),
        ("word < 'zzz'", None),
        ("missing <= 1", None),
        // = and <> never convert: mismatched types are unequal.
        ("n = 5.0", Some(json!(true))),
        ("s = 7", Some(json!(false))),
        ("s <> 7", Some(json!(true))),
        ("arr = [1, 2]", Some(json!(true))),
        ("arr = [2, 1]", Some(json!(false))),
        ("obj = {'b': 2, 'a': 1}", Some(json!(true))),
        ("nul <> nul", Some(json!(false))),
        ("missing = missing", None),
        ("missing <> 1", None),
        // + concatenates whenever a String is involved, and adds numbers otherwise.
        ("n + 1", Some(json!(6))),
        ("n + d", Some(json!(7.5))),
        ("s + 1", Some(json!("71"))),
        ("1 + s", Some(json!("17"))),
        ("word + true", Some(json!("redtrue"))),
        ("n + f", None),
        ("word + nul", None),
        // - * / % convert numeric strings; Int with Int stays Int.
        ("s - 2", Some(json!(5))),
        ("s * d", Some(json!(17.5))),
        ("n / 2", Some(json!(2))),
        ("d / 2", Some(json!(1.25))),
        ("n % 3", Some(json!(2))),
        ("s % 4", Some(json!(3))),
        ("word - 1", None),
        ("n / 0", None),
        ("-n", Some(json!(-5))),
        ("-s", Some(json!(-7))),
        // Precedence: * before +, AND before OR.
        ("1 + 2 * 3", Some(json!(7))),
        ("(1 + 2) * 3", Some(json!(9))),
        ("true OR false AND false", Some(json!(true))),
    ];
    for (expression, expected) in cases {
        let sql = format!("SELECT VALUE {{'r': {expression}}} FROM 't'");
        let out = select(&sql, payload.clone()).unwrap();
        assert_eq!(out.get("r").cloned(), expected, "{expression}");
    }
}

/// cast() of https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html
#[test]
fn cast_rules() {
    let out = select(
        "SELECT cast(true as Int) AS a, cast(2.7 AS Integer) AS b, cast('-1.5' AS Int) AS c, \
         cast(0 AS Boolean) AS d, cast(3.2 AS Bool) AS e, cast('TRUE' AS Boolean) AS f, \
         cast(5 AS String) AS g, cast(arr AS varchar) AS h, cast(nul AS String) AS i, \
         cast('x' AS Int) AS j, cast(false AS Decimal) AS k, cast('5E-1' AS Double) AS l FROM 't'",
        json!({"arr": [1, "a"], "nul": null}),
    );
    assert_eq!(
        out,
        Some(
            json!({"a": 1, "b": 2, "c": -2, "d": false, "e": true, "f": true, "g": "5",
                    "h": "[1,\"a\"]", "k": 0, "l": 0.5})
        )
    );
}

/// Message functions: topic(), clientid(), traceid(), principal(), timestamp(), parse_time().
#[test]
fn message_functions() {
    let message = Message {
        topic: "things/myThings/thingOne",
        payload: b"{}",
        client_id: Some("oven-1"),
        timestamp_ms: 100_000_000,
        trace_id: Some("12345678-1234-1234-1234-123456789012"),
        principal: Some("ABCD1EFG3HIJK2LMNOP5:my-session-name"),
    };
    let statement = Statement::parse(
        "SELECT topic() AS whole, topic(1) AS first, topic(3) AS third, topic(4) AS fourth, \
         clientid() AS client, traceid() AS trace, principal() AS who, timestamp() AS ts, \
         parse_time(\"yyyy.MM.dd G 'at' HH:mm:ss z\", 100000000) AS formatted, \
         parse_time('yyyy', timestamp(), 'UTC') AS year FROM 'things/#'",
    )
    .unwrap();
    assert_eq!(
        statement.evaluate(&message).unwrap(),
        Some(json!({
            "whole": "things/myThings/thingOne", "first": "things", "third": "thingOne",
            "client": "oven-1", "trace": "12345678-1234-1234-1234-123456789012",
            "who": "ABCD1EFG3HIJK2LMNOP5:my-session-name", "ts": 100_000_000,
            "formatted": "1970.01.02 AD at 03:46:40 UTC", "year": "1970"
        }))
    );
    // Not over MQTT: clientid() is "n/a", traceid() and principal() are Undefined.
    let out = Statement::parse("SELECT clientid() AS c, traceid() AS t, principal() AS p FROM '#'")
        .unwrap()
        .evaluate(&Message::new("a", b"{}"))
        .unwrap();
    assert_eq!(out, Some(json!({"c": "n/a"})));
    // newuuid() is a new random UUID at each call.
    let out = Statement::parse("SELECT newuuid() AS a, newuuid() AS b, rand() AS r FROM '#'")
        .unwrap()
        .evaluate(&Message::new("a", b"{}"))
        .unwrap()
        .unwrap();
    let (a, b) = (out["a"].as_str().unwrap(), out["b"].as_str().unwrap());
    assert!(uuid::Uuid::parse_str(a).is_ok() && a != b, "{a} {b}");
    assert!((0.0..1.0).contains(&out["r"].as_f64().unwrap()));
}

#[test]
fn unaliased_items_are_named_after_the_member_or_function() {
    assert_eq!(
        select(
            "SELECT a.b, lower(c), 1 + 1 FROM 't'",
            json!({"a": {"b": 1}, "c": "X"})
        ),
        Some(json!({"b": 1, "lower": "x", "_3": 2}))
    );
}

#[test]
fn keywords_and_function_names_are_case_insensitive() {
    assert_eq!(
        select(
            "select Upper(color) as c from 't' where color = 'red' Or FALSE",
            json!({"color": "red"})
        ),
        Some(json!({"c": "RED"}))
    );
}

/// https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-set.html
#[test]
fn set_clause_variables() {
    // The page's second example: a variable holding an object, read with JSON extensions.
    let payload = json!({"device1": {"deviceId": "weather_sensor", "deviceData": {
        "sensors": {"temp_fahrenheit": 75, "humidity": 60}, "location": [47.606, -122.332]}}});
    assert_eq!(
        select(
            "SET @device_sensor_data = device1.deviceData.sensors \
             SELECT @device_sensor_data.temp_fahrenheit AS temp_fahrenheit, \
             @device_sensor_data.humidity as humidity FROM 'device/data'",
            payload
        ),
        Some(json!({"temp_fahrenheit": 75, "humidity": 60}))
    );
    // Variables use earlier ones, and serve WHERE and nested queries. The page's first example
    // gives 23.89 for (75 - 32) * 5 / 9; the operator tables make Int / Int an Int, 23.
    let sql = "SET @celsius = (temp_fahrenheit - 32) * 5 / 9, @hot = @celsius > 20, @limit = 100 \
               SELECT @celsius AS celsius, @hot, (SELECT VALUE v FROM readings WHERE v < @limit) AS low \
               FROM 'device/data' WHERE @hot";
    assert_eq!(
        select(
            sql,
            json!({"temp_fahrenheit": 75, "readings": [{"v": 50}, {"v": 150}]})
        ),
        Some(json!({"celsius": 23, "hot": true, "low": [50]}))
    );
    assert_eq!(select(sql, json!({"temp_fahrenheit": 50})), None);
}
