//! SNS HTTP(S) message parsing and signature verification. Being built in the foundation issue.
