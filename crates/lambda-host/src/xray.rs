//! X-Ray's trace header (`X-Amzn-Trace-Id`) and how Lambda decides to trace an invocation
//! (<https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html>,
//! <https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader>):
//! a request that carries a sampling decision keeps it (the trace continues: no new trace);
//! without one, a function with active tracing samples by X-Ray's default rule, which Lambda does
//! not let anyone change: the first request each second and 5 % of the others, each sampled
//! request starting a trace; with `PassThrough` nothing is recorded unless the caller sampled.

use std::time::Duration;

/// The share of requests sampled beyond the reservoir's one a second.
pub const FIXED_RATE: f64 = 0.05;

/// `TracingConfig.Mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TracingMode {
    #[default]
    PassThrough,
    Active,
}

impl TracingMode {
    /// `Active` or `PassThrough`, as Lambda's API spells them.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Active" => Some(Self::Active),
            "PassThrough" => Some(Self::PassThrough),
            _ => None,
        }
    }
}

/// The parts of an incoming trace header that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    /// `1-{8 hex: epoch seconds}-{24 hex}`.
    pub root: String,
    /// `Sampled=1` or `Sampled=0`; `None` when absent or `?` (the decision is left to us).
    pub sampled: Option<bool>,
}

impl TraceHeader {
    /// `Root=...;Parent=...;Sampled=...` in any order; `None` when there is no well-formed root.
    pub fn parse(header: &str) -> Option<Self> {
        let mut root = None;
        let mut sampled = None;
        for field in header.split(';') {
            match field.trim().split_once('=') {
                Some(("Root", value)) if is_root(value) => root = Some(value.to_owned()),
                Some(("Sampled", "1")) => sampled = Some(true),
                Some(("Sampled", "0")) => sampled = Some(false),
                _ => {}
            }
        }
        Some(Self {
            root: root?,
            sampled,
        })
    }
}

fn is_root(value: &str) -> bool {
    let mut parts = value.split('-');
    let hex = |part: Option<&str>, len: usize| {
        part.is_some_and(|part| part.len() == len && part.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    parts.next() == Some("1")
        && hex(parts.next(), 8)
        && hex(parts.next(), 24)
        && parts.next().is_none()
}

/// What one invocation is traced as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The header handed to the function (`Lambda-Runtime-Trace-Id`), with a new parent id.
    pub header: String,
    /// The invocation's segment is recorded.
    pub sampled: bool,
    /// The invocation starts a trace that is recorded: what X-Ray bills.
    pub starts_trace: bool,
}

/// One function's default sampling rule: a reservoir of one request per second (the second in
/// simulated time, so a compressed day samples as the real day would) and the fixed rate.
#[derive(Debug, Default)]
pub struct Sampler {
    reservoir_second: Option<u64>,
}

impl Sampler {
    /// Whether a request at `at` (simulated time since some start) is sampled; `chance` is a
    /// uniform number in [0, 1).
    pub fn sample(&mut self, at: Duration, chance: f64) -> bool {
        let second = at.as_secs();
        if self.reservoir_second != Some(second) {
            self.reservoir_second = Some(second);
            return true;
        }
        chance < FIXED_RATE
    }
}

/// How an invocation of a function in `mode` is traced, given the caller's header; `sample`
/// is asked only when the decision is the function's own.
pub fn decide(
    mode: TracingMode,
    incoming: Option<&str>,
    sample: impl FnOnce() -> bool,
) -> Decision {
    let incoming = incoming.and_then(TraceHeader::parse);
    let (root, sampled, starts_trace) = match incoming {
        Some(TraceHeader {
            root,
            sampled: Some(sampled),
        }) => (root, sampled, false),
        Some(TraceHeader {
            root,
            sampled: None,
        }) => {
            let sampled = mode == TracingMode::Active && sample();
            (root, sampled, sampled)
        }
        None => {
            let sampled = mode == TracingMode::Active && sample();
            (new_root(), sampled, sampled)
        }
    };
    let parent = uuid::Uuid::new_v4().simple().to_string();
    Decision {
        header: format!(
            "Root={root};Parent={};Sampled={}",
            &parent[..16],
            u8::from(sampled)
        ),
        sampled,
        starts_trace,
    }
}

/// `1-{epoch seconds, 8 hex}-{96 random bits}`.
fn new_root() -> String {
    let epoch = chrono::Utc::now().timestamp();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("1-{epoch:08x}-{}", &random[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    fn fields(header: &str) -> Vec<(&str, &str)> {
        header
            .split(';')
            .map(|field| field.split_once('=').unwrap())
            .collect()
    }

    #[test]
    fn an_upstream_decision_is_kept_and_starts_no_trace() {
        for (sampled, flag) in [(true, "1"), (false, "0")] {
            let incoming = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled={flag}");
            let decision = decide(TracingMode::Active, Some(&incoming), || {
                panic!("an upstream decision is not sampled again")
            });
            assert_eq!(decision.sampled, sampled);
            assert!(!decision.starts_trace);
            let fields = fields(&decision.header);
            assert_eq!(fields[0], ("Root", ROOT));
            assert_eq!(fields[1].0, "Parent");
            assert_ne!(fields[1].1, "53995c3f42cd8ad8");
            assert_eq!(fields[2], ("Sampled", flag));
        }
    }

    #[test]
    fn active_tracing_decides_when_no_one_did() {
        let sampled = decide(TracingMode::Active, None, || true);
        assert!(sampled.sampled && sampled.starts_trace);
        let fields = fields(&sampled.header);
        assert_eq!(fields[0].0, "Root");
        assert!(is_root(fields[0].1), "{}", fields[0].1);
        assert_eq!(fields[2], ("Sampled", "1"));
        let deferred = format!("Root={ROOT};Sampled=?");
        let kept_root = decide(TracingMode::Active, Some(&deferred), || true);
        assert!(kept_root.starts_trace);
        assert!(kept_root.header.starts_with(&format!("Root={ROOT};")));
        let not = decide(TracingMode::Active, None, || false);
        assert!(!not.sampled && !not.starts_trace);
        assert!(not.header.ends_with(";Sampled=0"));
    }

    #[test]
    fn pass_through_records_only_what_the_caller_sampled() {
        let decision = decide(TracingMode::PassThrough, None, || true);
        assert!(!decision.sampled && !decision.starts_trace);
        let upstream = format!("Root={ROOT};Sampled=1");
        assert!(decide(TracingMode::PassThrough, Some(&upstream), || false).sampled);
    }

    #[test]
    fn malformed_headers_are_no_decision() {
        for header in [
            "",
            "Root=2-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            "Sampled=1",
            "Root=1-zz59e988-bd862e3fe1be46a994272793",
        ] {
            assert_eq!(TraceHeader::parse(header), None, "{header}");
        }
    }

    #[test]
    fn the_reservoir_takes_the_first_request_of_each_second_then_the_fixed_rate() {
        let mut sampler = Sampler::default();
        let at = |ms: u64| Duration::from_millis(ms);
        assert!(sampler.sample(at(0), 0.99));
        assert!(!sampler.sample(at(10), 0.99));
        assert!(sampler.sample(at(20), 0.049));
        assert!(!sampler.sample(at(999), 0.05));
        assert!(sampler.sample(at(1_000), 0.99));
        // Over many busy seconds: one a second and 5 % of the rest.
        let mut rng = fastrand::Rng::with_seed(7);
        let mut sampler = Sampler::default();
        let requests = 100_000;
        let sampled = (0..requests)
            .filter(|i| sampler.sample(at(i / 10), rng.f64()))
            .count() as f64;
        let seconds = 10.0;
        let expected = seconds + FIXED_RATE * (requests as f64 - seconds);
        assert!(
            (sampled - expected).abs() < 0.1 * expected,
            "{sampled} vs {expected}"
        );
    }
}
