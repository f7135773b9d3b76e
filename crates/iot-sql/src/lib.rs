//! AWS IoT SQL (version 2016-03-23), the subset topic rules use: parse a rule's statement and evaluate it on an MQTT message
