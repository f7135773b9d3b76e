//! A moto server (the AWS emulator) of its own for each test.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a starting moto server may take to listen.
const STARTUP: Duration = Duration::from_secs(30);

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("binding 127.0.0.1:0")
        .local_addr()
        .expect("a bound address")
        .port()
}

/// A moto server on a free 127.0.0.1 port, killed when dropped.
pub struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    /// Starts `moto_server` (the repository's `.venv/bin/moto_server`, installed by
    /// `make setup`; `MOTO_SERVER` overrides the path) and waits until it listens.
    ///
    /// Panics when the binary is missing, exits, or does not listen within 30 s.
    pub async fn start() -> Self {
        let binary = moto_server();
        let port = free_port();
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "moto server {} does not start ({error}): run `make setup` or set MOTO_SERVER",
                    binary.display()
                )
            });
        let mut moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + STARTUP;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto server exited with {status} before listening on port {port}");
            }
            assert!(
                Instant::now() < deadline,
                "moto server did not listen on port {port} within {STARTUP:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        moto
    }

    /// The server's URL, `http://127.0.0.1:{port}`: the endpoint for SDK clients.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `MOTO_SERVER`, or the repository's `.venv/bin/moto_server`.
fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
    assert!(
        venv.exists(),
        "moto server not found at {}: run `make setup` or set MOTO_SERVER",
        venv.display()
    );
    venv
}
