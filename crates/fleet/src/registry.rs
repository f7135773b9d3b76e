//! The devices fleet runs registered in a run directory, so that a later run reuses them
//! instead of registering its whole fleet again (moto registers about 40 devices a second: a
//! 10,000-device fleet pays four minutes once, not every run).
//!
//! The registry is a text file, `fleet/devices.tsv` in the run directory, one registered device
//! a line: `DEVICE<TAB>HOUSEHOLD`. A device is appended once its registration is complete (its
//! certificate and key are in `devices/DEVICE.pem|.key`, written by the registration).

use crate::FleetError;

/// Where the registry lives, relative to the run directory.
pub const REGISTRY_FILE: &str = "fleet/devices.tsv";

/// A device a fleet run registered: one oven in a household of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetDevice {
    pub device: String,
    pub household: String,
}

impl FleetDevice {
    /// Its line in the registry, newline included.
    pub fn line(&self) -> String {
        format!("{}\t{}\n", self.device, self.household)
    }
}

/// Reads the registry's text; `source` names it in errors.
pub fn parse_registry(text: &str, source: &str) -> Result<Vec<FleetDevice>, FleetError> {
    let mut devices = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let wrong = |why: &str| {
            FleetError::Registry(format!(
                "{source} line {}: {why} (expected DEVICE<TAB>HOUSEHOLD): {line:?}",
                index + 1
            ))
        };
        let (device, household) = line.split_once('\t').ok_or_else(|| wrong("no tab"))?;
        postoffice::topic::validate_device_id(device).map_err(|_| wrong("not a device id"))?;
        postoffice::topic::validate_household_id(household)
            .map_err(|_| wrong("not a household id"))?;
        devices.push(FleetDevice {
            device: device.to_owned(),
            household: household.to_owned(),
        });
    }
    Ok(devices)
}

/// The app users fleet runs created, one per household, a line each: `HOUSEHOLD<TAB>EMAIL`. A
/// user is appended once created; its password is in [`phone_password_file`] (mode 0600), as a
/// device's key is in `devices/DEVICE.key`.
pub const PHONE_REGISTRY_FILE: &str = "fleet/phones.tsv";

/// The household's app user, as the registry lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneUser {
    pub household: String,
    pub email: String,
}

impl PhoneUser {
    /// The app user the simulator creates for `household`.
    pub fn for_household(household: &str) -> Self {
        Self {
            household: household.to_owned(),
            email: format!("app@{household}.fleet.example.com"),
        }
    }

    /// Its line in the registry, newline included.
    pub fn line(&self) -> String {
        format!("{}\t{}\n", self.household, self.email)
    }
}

/// Where the password of `household`'s app user is kept, relative to the run directory.
pub fn phone_password_file(household: &str) -> String {
    format!("fleet/phones/{household}.password")
}

/// Reads the phone registry's text; `source` names it in errors.
pub fn parse_phone_registry(text: &str, source: &str) -> Result<Vec<PhoneUser>, FleetError> {
    let mut users = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let wrong = |why: &str| {
            FleetError::Registry(format!(
                "{source} line {}: {why} (expected HOUSEHOLD<TAB>EMAIL): {line:?}",
                index + 1
            ))
        };
        let (household, email) = line.split_once('\t').ok_or_else(|| wrong("no tab"))?;
        postoffice::topic::validate_household_id(household)
            .map_err(|_| wrong("not a household id"))?;
        if !email.contains('@') {
            return Err(wrong("not an email address"));
        }
        users.push(PhoneUser {
            household: household.to_owned(),
            email: email.to_owned(),
        });
    }
    Ok(users)
}

/// How a run gets its devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Reuse the registered devices, register the rest.
    ThenRegister,
    /// Reuse only: fewer registered devices than wanted is an error.
    Only,
}

/// What a run reuses and registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationPlan {
    /// The first `reuse` devices of the registry.
    pub reuse: usize,
    /// New devices to register.
    pub register: usize,
}

/// How `wanted` devices come from `registered` earlier ones.
pub fn plan_registration(
    wanted: usize,
    registered: usize,
    reuse: Reuse,
    source: &str,
) -> Result<RegistrationPlan, FleetError> {
    match reuse {
        Reuse::ThenRegister => {
            let reuse = wanted.min(registered);
            Ok(RegistrationPlan {
                reuse,
                register: wanted - reuse,
            })
        }
        Reuse::Only if registered < wanted => Err(FleetError::Registry(format!(
            "--devices {wanted} --reuse-only: only {registered} devices are registered in {source}; \
             run once without --reuse-only to register the other {}",
            wanted - registered
        ))),
        Reuse::Only => Ok(RegistrationPlan {
            reuse: wanted,
            register: 0,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_reads_back_what_it_wrote() {
        let devices = [
            FleetDevice {
                device: "f1-oven0".into(),
                household: "f1-h0".into(),
            },
            FleetDevice {
                device: "f1-oven1".into(),
                household: "f1-h1".into(),
            },
        ];
        let text: String = devices.iter().map(FleetDevice::line).collect();
        assert_eq!(text, "f1-oven0\tf1-h0\nf1-oven1\tf1-h1\n");
        assert_eq!(parse_registry(&text, "devices.tsv").unwrap(), devices);
        assert_eq!(parse_registry("", "devices.tsv").unwrap(), []);
    }

    #[test]
    fn the_phone_registry_reads_back_what_it_wrote_and_names_a_bad_line() {
        let users = [
            PhoneUser::for_household("f1-h0"),
            PhoneUser::for_household("f1-h1"),
        ];
        let text: String = users.iter().map(PhoneUser::line).collect();
        assert_eq!(
            text,
            "f1-h0\tapp@f1-h0.fleet.example.com\nf1-h1\tapp@f1-h1.fleet.example.com\n"
        );
        assert_eq!(parse_phone_registry(&text, "phones.tsv").unwrap(), users);
        let error = parse_phone_registry("f1-h0\tnobody\n", "run/fleet/phones.tsv")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("registry: run/fleet/phones.tsv line 1: not an email address"),
            "{error}"
        );
        assert_eq!(phone_password_file("f1-h0"), "fleet/phones/f1-h0.password");
    }

    #[test]
    fn a_bad_registry_line_is_named() {
        let error = parse_registry("f1-oven0\tf1-h0\nf1-oven1 f1-h1\n", "run/fleet/devices.tsv")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("registry: run/fleet/devices.tsv line 2: no tab"),
            "{error}"
        );
        let error = parse_registry("f1/oven0\tf1-h0\n", "devices.tsv")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 1: not a device id"), "{error}");
        let error = parse_registry("f1-oven0\t+\n", "devices.tsv")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 1: not a household id"), "{error}");
    }

    #[test]
    fn registered_devices_are_reused_first_and_the_rest_registered() {
        let plan = |wanted, registered, reuse| {
            plan_registration(wanted, registered, reuse, "devices.tsv").unwrap()
        };
        use Reuse::*;
        assert_eq!(
            plan(10_000, 1_000, ThenRegister),
            RegistrationPlan {
                reuse: 1_000,
                register: 9_000
            }
        );
        assert_eq!(
            plan(100, 1_000, ThenRegister),
            RegistrationPlan {
                reuse: 100,
                register: 0
            }
        );
        assert_eq!(
            plan(100, 0, ThenRegister),
            RegistrationPlan {
                reuse: 0,
                register: 100
            }
        );
        assert_eq!(
            plan(100, 1_000, Only),
            RegistrationPlan {
                reuse: 100,
                register: 0
            }
        );
    }

    #[test]
    fn reusing_more_devices_than_registered_names_both_numbers() {
        let error = plan_registration(10_000, 1_000, Reuse::Only, ".run/x/fleet/devices.tsv")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "registry: --devices 10000 --reuse-only: only 1000 devices are registered in \
             .run/x/fleet/devices.tsv; run once without --reuse-only to register the other 9000"
        );
    }
}
