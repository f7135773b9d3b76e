//! AWS IoT Core, locally: the MQTT gateway (`postoffice-iot-gateway`) authorised by the applied
//! IoT policies ([`authority`]), the rules engine running the applied topic rules ([`rules`]),
//! the iot-data Publish and DeleteConnection APIs ([`data`]), device registration ([`devices`]),
//! the factory's registration of unpaired appliances ([`factory`]) and the control-plane
//! actions moto lacks ([`control_plane`]).

pub mod authority;
pub mod control_plane;
pub mod data;
pub mod devices;
pub mod directory;
pub mod factory;
pub mod rules;
