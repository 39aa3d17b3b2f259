//! The timed loop's HTTP/1.1 client: one keep-alive connection per load client, each
//! request written with one `write`, each answer framed with `httparse` (the parser hyper
//! uses) by its `Content-Length`, its chunks, or the connection's end.
//!
//! Why not reqwest here: the issue's targets are "on the 2-core machine, load generator
//! included", so every microsecond the generator spends is taken from the server it
//! measures. Per request, reqwest parses the URL, builds a header map, checks a
//! connection out of its pool and hands the request to the connection's own task and the
//! answer back. That cost about as much CPU as the server's whole handling of a
//! `GetCallerIdentity` (docs/performance.md, "Stop 17"). Every request is still signed
//! afresh with SigV4, sent over loopback TCP and read to its last byte, and its status is
//! checked; reqwest still makes the calls before the clock starts (setup, sessions).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::wire::{Prepared, Target, short};

/// A request (or its answer) that takes longer than this fails.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The longest status line plus headers accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The largest answer body accepted.
const MAX_BODY: usize = 16 << 20;
/// Headers parsed per answer; an answer with more is refused.
const MAX_HEADERS: usize = 64;

/// One client's connection to the target, opened on first use and again after the
/// server closes it.
pub struct Conn {
    addr: SocketAddr,
    host: String,
    source: Option<IpAddr>,
    stream: Option<TcpStream>,
    out: Vec<u8>,
    buf: Vec<u8>,
    /// Each request's latency in µs (first byte written to last byte read, a retry on a
    /// new connection included), until [`Conn::take_calls`].
    calls: Vec<u32>,
}

/// Why one attempt failed.
enum Fail {
    /// A kept-alive connection was found closed before any byte of the answer came back:
    /// the request may be sent again on a new connection.
    Stale(String),
    Other(String),
}

/// How an answer's body ends.
enum Framing {
    Length(usize),
    Chunked,
    Close,
}

impl Conn {
    /// A connection to `t` (not opened yet). Resolves the target's host once, preferring
    /// IPv4 (as the vault and moto listen on 127.0.0.1 by default).
    pub fn new(t: &Target) -> Result<Self, String> {
        let addrs: Vec<SocketAddr> = t
            .host
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve `{}`: {e}", t.host))?
            .collect();
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| addrs.first())
            .copied()
            .ok_or_else(|| format!("`{}` resolves to no address", t.host))?;
        Ok(Self {
            addr,
            host: t.host.clone(),
            source: None,
            stream: None,
            out: Vec::with_capacity(4096),
            buf: Vec::with_capacity(8192),
            calls: Vec::new(),
        })
    }

    /// The source address of the next request: a connection from another address is
    /// closed first.
    pub fn set_source(&mut self, source: Option<IpAddr>) {
        if self.source != source {
            self.stream = None;
            self.source = source;
        }
    }

    /// Sends `p`; returns the status and the body.
    pub async fn send(&mut self, p: &Prepared) -> Result<(u16, String), String> {
        self.out.clear();
        self.out.extend_from_slice(b"POST ");
        self.out.extend_from_slice(p.path.as_bytes());
        self.out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        self.out.extend_from_slice(self.host.as_bytes());
        self.out.extend_from_slice(b"\r\ncontent-length: ");
        self.out
            .extend_from_slice(p.body.len().to_string().as_bytes());
        self.out.extend_from_slice(b"\r\n");
        for (k, v) in &p.headers {
            self.out.extend_from_slice(k.as_bytes());
            self.out.extend_from_slice(b": ");
            self.out.extend_from_slice(v.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(&p.body);
        let reused = self.stream.is_some();
        let t0 = std::time::Instant::now();
        let res = match tokio::time::timeout(TIMEOUT, self.attempt()).await {
            Ok(Err(Fail::Stale(_))) if reused => {
                // Once, on a new connection.
                self.stream = None;
                match tokio::time::timeout(TIMEOUT, self.attempt()).await {
                    Ok(r) => r,
                    Err(_) => Err(Fail::Other("timed out".into())),
                }
            }
            Ok(r) => r,
            Err(_) => Err(Fail::Other("timed out".into())),
        };
        self.calls
            .push(t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        res.map_err(|f| {
            // After any failure the connection's state is unknown: open a new one.
            self.stream = None;
            match f {
                Fail::Stale(e) | Fail::Other(e) => format!("transport: {e}"),
            }
        })
    }

    /// The latencies (µs) of the requests sent since the last call, oldest first.
    pub fn take_calls(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.calls)
    }

    /// Sends `p` and requires a 2xx answer; returns the body.
    pub async fn call(&mut self, p: &Prepared) -> Result<String, String> {
        let (status, text) = self.send(p).await?;
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(format!("HTTP {status}: {}", short(&text)))
        }
    }

    async fn connect(&self) -> std::io::Result<TcpStream> {
        let sock = if self.addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(ip) = self.source {
            sock.bind(SocketAddr::new(ip, 0))?;
        }
        let s = sock.connect(self.addr).await?;
        s.set_nodelay(true)?;
        Ok(s)
    }

    /// One write of the request and one read of its answer.
    async fn attempt(&mut self) -> Result<(u16, String), Fail> {
        if self.stream.is_none() {
            let s = self
                .connect()
                .await
                .map_err(|e| Fail::Other(format!("connect {}: {e}", self.addr)))?;
            self.stream = Some(s);
        }
        let Some(s) = self.stream.as_mut() else {
            return Err(Fail::Other("no connection".into()));
        };
        s.write_all(&self.out)
            .await
            .map_err(|e| Fail::Stale(format!("write: {e}")))?;
        self.buf.clear();
        let (status, head, framing, keep) = loop {
            if read_more(s, &mut self.buf).await? == 0 {
                return Err(if self.buf.is_empty() {
                    Fail::Stale("the server closed the connection".into())
                } else {
                    Fail::Other("the server closed the connection mid-answer".into())
                });
            }
            if let Some(h) = parse_head(&self.buf)? {
                break h;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(Fail::Other(format!("answer head over {MAX_HEAD} bytes")));
            }
        };
        let body = match framing {
            Framing::Length(n) => {
                if n > MAX_BODY {
                    return Err(Fail::Other(format!("answer body of {n} bytes")));
                }
                while self.buf.len() < head + n {
                    if read_more(s, &mut self.buf).await? == 0 {
                        return Err(Fail::Other(
                            "the server closed the connection mid-body".into(),
                        ));
                    }
                }
                if self.buf.len() > head + n {
                    return Err(Fail::Other("bytes after the answer's body".into()));
                }
                self.buf.get(head..head + n).unwrap_or_default().to_vec()
            }
            Framing::Chunked => read_chunked(s, &mut self.buf, head).await?,
            Framing::Close => {
                while read_more(s, &mut self.buf).await? != 0 {
                    if self.buf.len() > head + MAX_BODY {
                        return Err(Fail::Other(format!("answer body over {MAX_BODY} bytes")));
                    }
                }
                self.buf.get(head..).unwrap_or_default().to_vec()
            }
        };
        if !keep || matches!(framing, Framing::Close) {
            self.stream = None;
        }
        let text = String::from_utf8(body)
            .map_err(|_| Fail::Other("the answer body is not UTF-8".into()))?;
        Ok((status, text))
    }
}

async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize, Fail> {
    buf.reserve(8192);
    s.read_buf(buf)
        .await
        .map_err(|e| Fail::Other(format!("read: {e}")))
}

/// The status, head length, body framing and keep-alive of a complete answer head in
/// `buf`; none while the head is incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<(u16, usize, Framing, bool)>, Fail> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut headers);
    let head = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(Fail::Other(format!("bad answer head: {e}"))),
    };
    let status = r.code.unwrap_or(0);
    // HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless told
    // to keep it.
    let mut keep = r.version == Some(1);
    let mut framing = Framing::Close;
    for h in r.headers.iter() {
        let v = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = v
                .parse::<usize>()
                .map_err(|_| Fail::Other(format!("bad content-length `{v}`")))?;
            if !matches!(framing, Framing::Chunked) {
                framing = Framing::Length(n);
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if v.to_ascii_lowercase().ends_with("chunked") {
                framing = Framing::Chunked;
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            let v = v.to_ascii_lowercase();
            if v.contains("close") {
                keep = false;
            } else if v.contains("keep-alive") {
                keep = true;
            }
        }
    }
    // No body in a 1xx, 204 or 304 answer, whatever its headers say.
    if matches!(status, 100..=199 | 204 | 304) {
        framing = Framing::Length(0);
    }
    Ok(Some((status, head, framing, keep)))
}

/// The body of a chunked answer whose head ends at `head` in `buf`.
async fn read_chunked(s: &mut TcpStream, buf: &mut Vec<u8>, head: usize) -> Result<Vec<u8>, Fail> {
    let mut body = Vec::new();
    let mut at = head;
    loop {
        let (size_len, size) = loop {
            match httparse::parse_chunk_size(buf.get(at..).unwrap_or_default()) {
                Ok(httparse::Status::Complete((n, size))) => break (n, size),
                Ok(httparse::Status::Partial) => {
                    if read_more(s, buf).await? == 0 {
                        return Err(Fail::Other(
                            "the server closed the connection mid-chunk".into(),
                        ));
                    }
                }
                Err(_) => return Err(Fail::Other("bad chunk size".into())),
            }
        };
        at += size_len;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size > MAX_BODY.saturating_sub(body.len()) {
            return Err(Fail::Other(format!("answer body over {MAX_BODY} bytes")));
        }
        // The chunk and its CRLF; the last (empty) chunk is followed by the trailers'
        // end, an empty line (trailers themselves are not expected and refused).
        while buf.len() < at + size + 2 {
            if read_more(s, buf).await? == 0 {
                return Err(Fail::Other(
                    "the server closed the connection mid-chunk".into(),
                ));
            }
        }
        if buf.get(at + size..at + size + 2) != Some(b"\r\n".as_slice()) {
            return Err(Fail::Other(
                "a chunk not ended by CRLF (or trailers)".into(),
            ));
        }
        if size == 0 {
            if buf.len() > at + 2 {
                return Err(Fail::Other("bytes after the answer's body".into()));
            }
            return Ok(body);
        }
        body.extend_from_slice(buf.get(at..at + size).unwrap_or_default());
        at += size + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A one-connection server that answers each request with the next canned bytes
    /// (closing after the last), and records what it read.
    async fn serve(answers: Vec<&'static [u8]>) -> (Target, tokio::task::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let h = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut seen = Vec::new();
            for a in answers {
                let mut b = [0u8; 4096];
                let n = s.read(&mut b).await.unwrap();
                seen.extend_from_slice(&b[..n]);
                s.write_all(a).await.unwrap();
            }
            seen
        });
        (Target::new(&format!("http://127.0.0.1:{port}")).unwrap(), h)
    }

    fn req() -> Prepared {
        Prepared {
            path: "/".into(),
            headers: vec![("x-amz-date".into(), "20261129T000000Z".into())],
            body: b"Action=GetCallerIdentity".to_vec(),
        }
    }

    #[tokio::test]
    async fn content_length_and_chunked_answers_on_one_kept_connection() {
        let (t, h) = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        ])
        .await;
        let mut c = Conn::new(&t).unwrap();
        assert_eq!(c.send(&req()).await.unwrap(), (200, "hello".into()));
        assert_eq!(c.send(&req()).await.unwrap(), (403, "abcde".into()));
        // One latency per request, in order, then none until the next request.
        assert_eq!(c.take_calls().len(), 2);
        assert!(c.take_calls().is_empty());
        let seen = String::from_utf8(h.await.unwrap()).unwrap();
        let one = format!(
            "POST / HTTP/1.1\r\nhost: {}\r\ncontent-length: 24\r\nx-amz-date: 20261129T000000Z\r\n\r\nAction=GetCallerIdentity",
            t.host
        );
        assert_eq!(seen, format!("{one}{one}"));
    }

    #[tokio::test]
    async fn a_kept_connection_the_server_closed_is_replaced_once() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let t = Target::new(&format!("http://{}", l.local_addr().unwrap())).unwrap();
        let server = tokio::spawn(async move {
            // Each connection answers one request, keeps it open as HTTP/1.1 allows, then
            // closes it before the next request is read.
            for body in ["one", "two"] {
                let (mut s, _) = l.accept().await.unwrap();
                let mut b = [0u8; 4096];
                let _ = s.read(&mut b).await.unwrap();
                s.write_all(
                    format!("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{body}").as_bytes(),
                )
                .await
                .unwrap();
                let _ = s.read(&mut b).await;
            }
        });
        let mut c = Conn::new(&t).unwrap();
        assert_eq!(c.send(&req()).await.unwrap(), (200, "one".into()));
        // The server has the second request's bytes (or not) and closes without answering:
        // the client sends it again on a second connection.
        assert_eq!(c.send(&req()).await.unwrap(), (200, "two".into()));
        drop(c);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn an_answer_without_length_ends_with_the_connection() {
        let (t, _h) = serve(vec![b"HTTP/1.0 200 OK\r\n\r\n<xml/>"]).await;
        let mut c = Conn::new(&t).unwrap();
        assert_eq!(c.send(&req()).await.unwrap(), (200, "<xml/>".into()));
        assert!(
            c.stream.is_none(),
            "an HTTP/1.0 answer closes the connection"
        );
    }

    #[tokio::test]
    async fn a_closed_connection_mid_answer_is_an_error() {
        let (t, _h) = serve(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"]).await;
        let mut c = Conn::new(&t).unwrap();
        let e = c.send(&req()).await.unwrap_err();
        assert!(e.contains("mid-body"), "{e}");
        assert!(c.call(&req()).await.is_err(), "nothing listens any more");
        // Failed requests are timed too, as the operations they belong to are.
        assert_eq!(c.take_calls().len(), 2);
    }

    #[tokio::test]
    async fn call_refuses_a_non_2xx_answer_with_its_aws_code() {
        let (t, _h) = serve(vec![
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 71\r\n\r\n<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>",
        ])
        .await;
        let mut c = Conn::new(&t).unwrap();
        let e = c.call(&req()).await.unwrap_err();
        assert!(e.starts_with("HTTP 403: AccessDenied"), "{e}");
    }
}
