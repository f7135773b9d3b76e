//! The handler API product teams write business logic against. Being built in the handler issue.
