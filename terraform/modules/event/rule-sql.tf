# The SQL of the event's two IoT topic rules (IoT SQL 2016-03-23). Both read `<EVENT>/+/+` and
# start with the same SET clause (https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-set.html),
# whose @readable says whether the handlers can read the envelope of a device message: the rule
# builds the envelope of a message where it holds, the rejection rule keeps every other message
# in the platform's rejected-device-messages queue. docs/contracts.md, "Rejected device
# messages", lists what @readable accepts; crates/catalog-terraform/tests/rule_sql.rs runs both
# rules (the SQL in tests/rule-sql/, which the module's tests compare with what it builds) with
# the local post office's rule engine and checks that exactly one of them takes each message and
# that every envelope the rule builds is one the handler library reads. EVENT_COLLECTION's rules
# read collections instead (below; crates/catalog-terraform/tests/collection_rule_sql.rs).
#
# Written for both engines that run it: AWS IoT and the local post office's (crates/iot-sql),
# which has no regular expressions, hence character classes checked by deleting their members
# with replace() and looking at what is left; a class of more than 16 characters is deleted in
# SET stages, so no expression nests deeper than about 20 calls (the local engine refuses more
# than 48). IoT SQL facts the condition relies on:
#  - AND, OR and NOT of anything but Booleans are Undefined, and a WHERE clause that is not true
#    runs no action (iot-sql-operators, iot-sql-where). An Undefined condition would send a
#    message to neither rule, so every part of it is a Boolean for every message: a field is
#    tested with isUndefined() and isNull() first, a comparison that needs a number or a date
#    only runs in a CASE branch whose Boolean subject has established one (CASE on an Undefined
#    subject is Undefined: iot-sql-case).
#  - length(), lower(), replace(), substring() and startswith() convert non-strings with the
#    standard conversions (an object to its JSON, which begins with "{"); `=` and `<>` never
#    convert, so `substring(x, 0) = x` holds for strings only (iot-sql-functions,
#    iot-sql-data-types, iot-sql-operators under https://docs.aws.amazon.com/iot/latest/developerguide/).
#  - Everything the condition accepts is ASCII, and every accepted character is checked: the
#    engines' different string units (Java's UTF-16, Rust's chars) cannot turn a rejection into
#    an acceptance.
locals {
  # Character classes as SQL templates: nested replace() calls deleting each member from %s.
  digit_characters = [for digit in range(10) : tostring(digit)]
  # postoffice::topic ids: A-Z, a-z, 0-9, '-' and '_', deleted 16 at a time.
  id_character_groups = chunklist(regexall(".", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 16)
  character_classes = merge(
    {
      digits = local.digit_characters
      hex    = concat(local.digit_characters, ["a", "b", "c", "d", "e", "f"])
    },
    { for index, group in local.id_character_groups : "id${index}" => group },
  )
  without_characters = {
    for name, characters in local.character_classes :
    name => "${join("", [for c in characters : "replace("])}%s${join("", [for c in characters : ", '${c}', '')"])}"
  }

  # A UUID string, hyphenated (8-4-4-4-12) or 32 hex digits, either case; the uuid crate also
  # reads braced and urn: forms, which the contract leaves out.
  uuid_hex_digits = "replace(lower(%[1]s), '-', '')"
  uuid_readable = join(" AND ", [
    "substring(%[1]s, 0) = %[1]s",
    "length(${local.uuid_hex_digits}) = 32",
    "${format(local.without_characters.hex, local.uuid_hex_digits)} = ''",
    "(length(%[1]s) = 32 OR (length(%[1]s) = 36 AND substring(%[1]s, 8, 9) = '-' AND substring(%[1]s, 13, 14) = '-' AND substring(%[1]s, 18, 19) = '-' AND substring(%[1]s, 23, 24) = '-'))",
  ])

  # RFC 3339 as chrono's parse_from_rfc3339 reads it, with "T" and "Z" in upper case:
  # YYYY-MM-DDTHH:MM:SS, an optional fraction of at least one digit, then Z or +HH:MM / -HH:MM;
  # a date that exists, hours 00-23, minutes 00-59, seconds 00-60 (a leap second). The offset
  # is the last 6 characters: in a shorter time they would start inside the first 19, where no
  # sign can be.
  time_fraction = "(%[1]s = '' OR (startswith(%[1]s, '.') AND length(%[1]s) >= 2 AND ${format(local.without_characters.digits, "%[1]s")} = '.'))"
  time_offset   = "(startswith(%[1]s, '+') OR startswith(%[1]s, '-')) AND substring(%[1]s, 3, 4) = ':' AND length(${format(local.without_characters.digits, "%[1]s")}) = 2"
  time_shape = join(" AND ", [
    "substring(%[1]s, 0) = %[1]s",
    "length(%[1]s) >= 20",
    "substring(%[1]s, 4, 5) = '-'", "substring(%[1]s, 7, 8) = '-'", "substring(%[1]s, 10, 11) = 'T'",
    "substring(%[1]s, 13, 14) = ':'", "substring(%[1]s, 16, 17) = ':'",
    "${format(local.without_characters.digits, "substring(%[1]s, 0, 19)")} = '--T::'",
    join("", [
      "CASE endswith(%[1]s, 'Z') WHEN true THEN ${format(local.time_fraction, "substring(%[1]s, 19, length(%[1]s) - 1)")}",
      " ELSE ${format(local.time_offset, "substring(%[1]s, length(%[1]s) - 6)")} AND ${format(local.time_fraction, "substring(%[1]s, 19, length(%[1]s) - 6)")} END",
    ]),
  ])
  time_year  = "cast(substring(%[1]s, 0, 4) AS Int)"
  time_month = "cast(substring(%[1]s, 5, 7) AS Int)"
  time_day   = "cast(substring(%[1]s, 8, 10) AS Int)"
  leap_year  = "(${local.time_year} %% 4 = 0 AND ${local.time_year} %% 100 <> 0) OR ${local.time_year} %% 400 = 0"
  days_in_month = join("", [
    "CASE ${local.time_month} WHEN 2 THEN CASE ${local.leap_year} WHEN true THEN 29 ELSE 28 END",
    " WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30 ELSE 31 END",
  ])
  time_values = join(" AND ", [
    "${local.time_month} >= 1", "${local.time_month} <= 12",
    "${local.time_day} >= 1", "${local.time_day} <= ${local.days_in_month}",
    "cast(substring(%[1]s, 11, 13) AS Int) <= 23",
    "cast(substring(%[1]s, 14, 16) AS Int) <= 59",
    "cast(substring(%[1]s, 17, 19) AS Int) <= 60",
    "CASE endswith(%[1]s, 'Z') WHEN true THEN true ELSE cast(substring(%[1]s, length(%[1]s) - 5, length(%[1]s) - 3) AS Int) <= 23 AND cast(substring(%[1]s, length(%[1]s) - 2) AS Int) <= 59 END",
  ])
  time_readable = "CASE ${local.time_shape} WHEN true THEN ${local.time_values} ELSE false END"

  # A whole number 1 to 4294967295 (u32), not a string: its text is digits only.
  schema_version_readable = "CASE substring(%[1]s, 0) <> %[1]s AND ${format(local.without_characters.digits, "%[1]s")} = '' WHEN true THEN %[1]s >= 1 AND %[1]s <= 4294967295 ELSE false END"

  # Each part of a device message the handlers read, in docs/contracts.md's words. The optional
  # fields may be absent or null, which DeviceMessage reads as None.
  optional_field = "CASE isUndefined(%[1]s) OR isNull(%[1]s) WHEN true THEN true ELSE %[2]s END"
  # Household and device id from the topic (postoffice::topic): 1-64 id characters each. The
  # IoT policies allow thing names and household attributes with other characters (':', '.'),
  # and the app any device id of its household.
  topic_readable = "length(topic(2)) >= 1 AND length(topic(2)) <= 64 AND length(topic(3)) >= 1 AND length(topic(3)) <= 64 AND @other_id_characters = ''"
  device_message_parts = merge(
    {
      topic = local.topic_readable
      # A JSON object: its text starts with "{" and it is not a string.
      payload = "CASE isUndefined(payload) OR isNull(payload) WHEN true THEN false ELSE startswith(payload, '{') AND substring(payload, 0) <> payload END"
    },
    { for field, check in {
      event_id       = local.uuid_readable
      occurred_at    = local.time_readable
      correlation_id = local.uuid_readable
      causation_id   = local.uuid_readable
      schema_version = local.schema_version_readable
    } : field => format(local.optional_field, field, format(check, field)) },
  )
  device_message_part_order = ["topic", "payload", "event_id", "occurred_at", "correlation_id", "causation_id", "schema_version"]

  # EVENT_COLLECTION (postoffice::catalog::COLLECTION_EVENT; docs/contracts.md, "Event
  # collections") is not a device message but `{"collection_id", "events": [...]}`. Its rules
  # check the collection only: an optional UUID and an array of 1 to 100 members
  # (catalog::MAX_COLLECTION_MEMBERS). The collection-unpacker checks each member as this rule
  # checks a device message; checking members here would reject a whole collection for one bad
  # member.
  carries_collections    = var.event_name == "EVENT_COLLECTION"
  max_collection_members = 100
  collection_parts = {
    topic         = local.topic_readable
    collection_id = format(local.optional_field, "collection_id", format(local.uuid_readable, "collection_id"))
    # An array (its text starts with "[" and it is not a string) with a first member and no
    # member past the last one allowed.
    events = "CASE isUndefined(events) OR isNull(events) WHEN true THEN false ELSE CASE startswith(events, '[') AND substring(events, 0) <> events WHEN true THEN NOT isUndefined(get(events, 0)) AND isUndefined(get(events, ${local.max_collection_members})) ELSE false END END"
  }
  collection_part_order = ["topic", "collection_id", "events"]

  readable_parts      = local.carries_collections ? local.collection_parts : local.device_message_parts
  readable_part_order = local.carries_collections ? local.collection_part_order : local.device_message_part_order

  # The id characters are deleted in stages (@other_id_characters is what is left), each part is
  # a variable, @readable all of them.
  id_stages = [for index in range(length(local.id_character_groups)) : format(
    local.without_characters["id${index}"],
    index == 0 ? "concat(topic(2), topic(3))" : "@id_characters_${index}",
  )]
  set_clause = join(", ", concat(
    [for index, stage in local.id_stages :
    "@${index == length(local.id_stages) - 1 ? "other_id_characters" : "id_characters_${index + 1}"} = ${stage}"],
    [for part in local.readable_part_order : "@${part}_readable = ${local.readable_parts[part]}"],
    ["@readable = ${join(" AND ", [for part in local.readable_part_order : "@${part}_readable"])}"],
  ))

  # Envelope::from_device_message (crates/postoffice/src/envelope.rs) in IoT SQL. The explicit
  # list drops whatever identity the device put in its message. traceid() is the MQTT message's
  # UUID and is the same value each time it is called, so a missing event_id and the
  # correlation_id that defaults to it agree; newuuid() only covers non-MQTT publishes. A null
  # optional field is absent, as DeviceMessage reads it.
  generated_event_id = "CASE isUndefined(traceid()) WHEN true THEN newuuid() ELSE traceid() END"
  event_id           = "CASE isUndefined(event_id) OR isNull(event_id) WHEN true THEN ${local.generated_event_id} ELSE event_id END"
  received_at        = "parse_time(\"yyyy-MM-dd'T'HH:mm:ss.SSS'Z'\", timestamp())"
  device_message_envelope = [
    "topic(1) AS event,",
    "${local.event_id} AS event_id,",
    "topic(2) AS household_id,",
    "topic(3) AS device_id,",
    "CASE isUndefined(occurred_at) OR isNull(occurred_at) WHEN true THEN ${local.received_at} ELSE occurred_at END AS occurred_at,",
    "${local.received_at} AS received_at,",
    "clientid() AS source,",
    "CASE isUndefined(correlation_id) OR isNull(correlation_id) WHEN true THEN ${local.event_id} ELSE correlation_id END AS correlation_id,",
    "causation_id,",
    "CASE isUndefined(schema_version) OR isNull(schema_version) WHEN true THEN 1 ELSE schema_version END AS schema_version,",
    "payload",
  ]
  # A collection's envelope: the device's collection_id is its event id (a new one as for a
  # device message without event_id), it starts its own conversation, happened when it arrived,
  # and carries the members as they were published.
  collection_id = "CASE isUndefined(collection_id) OR isNull(collection_id) WHEN true THEN ${local.generated_event_id} ELSE collection_id END"
  collection_envelope = [
    "topic(1) AS event,",
    "${local.collection_id} AS event_id,",
    "topic(2) AS household_id,",
    "topic(3) AS device_id,",
    "${local.received_at} AS occurred_at,",
    "${local.received_at} AS received_at,",
    "clientid() AS source,",
    "${local.collection_id} AS correlation_id,",
    "1 AS schema_version,",
    "{'events': events} AS payload",
  ]
  rule_sql = join(" ", concat(
    ["SET ${local.set_clause}", "SELECT"],
    local.carries_collections ? local.collection_envelope : local.device_message_envelope,
    ["FROM '${var.event_name}/+/+'", "WHERE @readable"],
  ))

  # docs/contracts.md, "Rejected device messages": the message as published (encode(*) works
  # on any payload, JSON or not), where and when it arrived, and which parts are unreadable.
  rejected_rule_sql = join(" ", [
    "SET ${local.set_clause}",
    "SELECT",
    "'${local.rejected_rule_name}' AS ruleName,",
    "topic() AS topic,",
    "clientid() AS clientId,",
    "traceid() AS traceId,",
    "${local.received_at} AS receivedAt,",
    "concat(${join(", ", [for part in local.readable_part_order : "CASE @${part}_readable WHEN true THEN [] ELSE ['${part}'] END"])}) AS unreadable,",
    "encode(*, 'base64') AS base64OriginalPayload",
    "FROM '${var.event_name}/+/+'",
    "WHERE NOT @readable",
  ])
}
