//! What the machine allows and was doing: open-file limits against the connections a run needs
//! (one TLS connection holds one descriptor in the simulator and one in the post office), and the
//! load average, reported with every measurement (the machine may be shared).

use crate::FleetError;

/// Descriptors a process needs besides its devices' connections: the runtime, logs, the SDK's
/// connection pool; in the post office also its functions' pipes and its listeners.
pub const OPEN_FILES_RESERVE: u64 = 256;

/// Whether `process`, holding `open_now` descriptors under a limit of `limit`, can take
/// `connections` more; otherwise what is wrong, with the numbers.
pub fn check_open_files(
    process: &str,
    connections: usize,
    open_now: u64,
    limit: u64,
) -> Result<(), FleetError> {
    let needed = connections as u64 + open_now + OPEN_FILES_RESERVE;
    if needed <= limit {
        return Ok(());
    }
    let room = limit.saturating_sub(open_now + OPEN_FILES_RESERVE);
    Err(FleetError::Settings(format!(
        "--devices {connections}: {process} may open {limit} files (RLIMIT_NOFILE) and holds {open_now}; \
         {connections} connections need {needed} with a reserve of {OPEN_FILES_RESERVE}, so at most \
         {room} devices fit (raise the hard limit, e.g. `ulimit -Hn`, or run fewer devices)"
    )))
}

/// The soft `Max open files` of a process, from its `/proc/PID/limits`.
pub fn parse_open_files_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()
        .and_then(|soft| soft.parse().ok())
}

/// The 1, 5 and 15 minute load averages, from `/proc/loadavg`.
pub fn parse_load_average(loadavg: &str) -> Option<[f64; 3]> {
    let mut fields = loadavg.split_whitespace().map(str::parse::<f64>);
    Some([
        fields.next()?.ok()?,
        fields.next()?.ok()?,
        fields.next()?.ok()?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_fit_under_the_limit_with_a_reserve() {
        assert!(check_open_files("the simulator", 10_000, 40, 20_000).is_ok());
        assert!(check_open_files("the simulator", 19_704, 40, 20_000).is_ok());
        let error = check_open_files("the simulator", 19_705, 40, 20_000)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "--devices 19705: the simulator may open 20000 files (RLIMIT_NOFILE) and holds 40; \
             19705 connections need 20001 with a reserve of 256, so at most 19704 devices fit \
             (raise the hard limit, e.g. `ulimit -Hn`, or run fewer devices)"
        );
        let error = check_open_files("the post office (pid 7)", 2_000, 300, 1_024)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("the post office (pid 7) may open 1024 files")
                && error.contains("at most 468 devices fit"),
            "{error}"
        );
    }

    #[test]
    fn the_soft_open_files_limit_is_read_from_proc() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             95426                95426                processes \n\
                      Max open files            20000                20000                files     \n";
        assert_eq!(parse_open_files_limit(limits), Some(20_000));
        assert_eq!(
            parse_open_files_limit("Max open files  unlimited unlimited files"),
            None
        );
        assert_eq!(parse_open_files_limit(""), None);
    }

    #[test]
    fn the_load_average_is_read_from_proc() {
        assert_eq!(
            parse_load_average("2.18 1.54 1.53 3/812 123456\n"),
            Some([2.18, 1.54, 1.53])
        );
        assert_eq!(parse_load_average("2.18"), None);
    }
}
