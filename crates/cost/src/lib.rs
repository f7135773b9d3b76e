//! Being built in its issue.
