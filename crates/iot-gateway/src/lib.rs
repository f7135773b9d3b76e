//! The local AWS IoT Core message broker: MQTT 3.1.1 and 5 over mutual TLS, IoT Core's limits, and every action authorised by the embedder
