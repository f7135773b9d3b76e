//! The shared pieces of a scripted local HTTP/1.1 endpoint: read one request (head, then the
//! body by `content-length`), write one answer. What to answer stays with each test.

use std::io::Read;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// One HTTP request as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// `POST /path?query HTTP/1.1`
    pub request_line: String,
    pub method: String,
    /// The request target as sent: path and query, percent-encoded.
    pub path: String,
    /// Names and values as sent, trimmed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ReceivedRequest {
    /// The first header of that name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The request line and headers of a head (everything before the blank line).
    fn from_head(head: &[u8]) -> Self {
        let head = String::from_utf8_lossy(head);
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default().trim().to_owned();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect();
        Self {
            request_line,
            method,
            path,
            headers,
            body: Vec::new(),
        }
    }

    fn content_length(&self) -> usize {
        self.header("content-length")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    }
}

const HEAD_END: &[u8] = b"\r\n\r\n";

/// Bytes of one request as they arrive: the head up to the blank line, then the body.
#[derive(Default)]
struct Incoming {
    buffer: Vec<u8>,
}

impl Incoming {
    /// Adds what was read; the request once its head and whole body are in.
    fn add(&mut self, bytes: &[u8]) -> Option<ReceivedRequest> {
        self.buffer.extend_from_slice(bytes);
        let end = self
            .buffer
            .windows(HEAD_END.len())
            .position(|w| w == HEAD_END)?;
        let mut request = ReceivedRequest::from_head(&self.buffer[..end]);
        let body = &self.buffer[end + HEAD_END.len()..];
        if body.len() < request.content_length() {
            return None;
        }
        request.body = body.to_vec();
        Some(request)
    }
}

/// Reads one request from a connection; `None` when the connection ends (or fails) first.
pub async fn read_http_request(stream: &mut TcpStream) -> Option<ReceivedRequest> {
    let mut incoming = Incoming::default();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
        if let Some(request) = incoming.add(&chunk[..n]) {
            return Some(request);
        }
    }
}

/// [`read_http_request`] for blocking endpoints (a `std::net::TcpStream` in a thread).
pub fn read_http_request_blocking(stream: &mut impl Read) -> Option<ReceivedRequest> {
    let mut incoming = Incoming::default();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
        if let Some(request) = incoming.add(&chunk[..n]) {
            return Some(request);
        }
    }
}

/// An HTTP/1.1 response: `HTTP/1.1 {status} {reason}`, the given headers, `content-length`
/// and the body. For blocking endpoints: `stream.write_all(&http_response(..))`.
pub fn http_response(status: u16, reason: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut response = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut response = response.into_bytes();
    response.extend_from_slice(body);
    response
}

/// Writes [`http_response`] to a connection.
pub async fn write_http_response(
    stream: &mut TcpStream,
    status: u16,
    reason: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    stream
        .write_all(&http_response(status, reason, headers, body))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_arriving_in_pieces_is_complete_with_its_whole_body() {
        let mut incoming = Incoming::default();
        assert_eq!(
            incoming.add(b"POST /topics/a%2Fb?qos=1 HTTP/1.1\r\nHost: x\r\n"),
            None
        );
        assert_eq!(incoming.add(b"Content-Length: 5\r\n\r\nhe"), None);
        let request = incoming.add(b"llo").expect("complete");
        assert_eq!(request.request_line, "POST /topics/a%2Fb?qos=1 HTTP/1.1");
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/topics/a%2Fb?qos=1");
        assert_eq!(request.header("host"), Some("x"));
        assert_eq!(request.header("CONTENT-length"), Some("5"));
        assert_eq!(request.header("missing"), None);
        assert_eq!(request.body_text(), "hello");
    }

    #[test]
    fn a_response_carries_status_headers_length_and_body() {
        let response = http_response(404, "Not Found", &[("connection", "close")], b"nope");
        assert_eq!(
            String::from_utf8(response).unwrap(),
            "HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 4\r\n\r\nnope"
        );
    }
}
