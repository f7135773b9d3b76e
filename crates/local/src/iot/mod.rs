//! AWS IoT Core, locally.

pub mod control_plane;
