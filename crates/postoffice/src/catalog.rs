//! The event catalog (`event-catalog/EVENT.yaml`). Being built in the foundation issue.
