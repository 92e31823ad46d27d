//! `http`: keep-alive HTTP/1.1 requests straight to a URL, e.g. the backend endpoint a tool
//! calls, to measure what the daemon adds on top of it.
//!
//! Plain TCP and a few lines of HTTP/1.1, no client library: the request is serialized once,
//! responses are framed by `Content-Length` (or chunked encoding) and every status must be
//! 2xx. With a window above 1 the requests are pipelined; HTTP/1.1 answers them in order.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use clap::ValueEnum;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Sleep, sleep_until, timeout};

use crate::connection::{Budget, DRAIN_TIMEOUT, Timing};
use crate::run::Workload;
use crate::stats::{ErrorKind, Stats, report_problem};

const READ_CHUNK: usize = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A response head (status line and headers) longer than this is refused.
const MAX_HEAD: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Method {
    Get,
    Post,
}

/// An `http://` URL split into what the connection and the request line need.
#[derive(Debug, PartialEq, Eq)]
pub struct Url {
    /// `host[:port]` as written: the `Host` header.
    pub authority: String,
    /// `host:port` to connect to (port 80 if none was given).
    pub addr: String,
    /// Path and query: the request target.
    pub target: String,
}

impl Url {
    pub fn parse(text: &str) -> Result<Url, String> {
        let rest = text
            .strip_prefix("http://")
            .ok_or_else(|| format!("{text}: only http:// URLs are supported"))?;
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("{text}: expected http://HOST[:PORT]/PATH"));
        }
        // A port follows the last `:`, unless that colon is inside an IPv6 literal.
        let has_port = authority
            .rfind(':')
            .is_some_and(|i| !authority[i..].contains(']'));
        let addr = if has_port {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let target = if target.starts_with('?') {
            format!("/{target}")
        } else {
            target.to_owned()
        };
        Ok(Url {
            authority: authority.to_owned(),
            addr,
            target,
        })
    }
}

/// What every HTTP connection of a run does.
pub struct HttpPlan {
    url: String,
    addr: String,
    method: Method,
    /// The complete request, sent as is every time.
    request: Vec<u8>,
    window: usize,
    budget: Option<Budget>,
}

impl HttpPlan {
    pub fn new(
        url: &str,
        method: Method,
        body: Option<&str>,
        window: usize,
        max_requests: Option<u64>,
    ) -> Result<HttpPlan, String> {
        let parsed = Url::parse(url)?;
        Ok(HttpPlan {
            url: url.to_owned(),
            addr: parsed.addr.clone(),
            method,
            request: request_bytes(&parsed, method, body),
            window,
            budget: max_requests.map(Budget::new),
        })
    }
}

/// The request as sent: keep-alive is HTTP/1.1's default, so no `Connection` header.
fn request_bytes(url: &Url, method: Method, body: Option<&str>) -> Vec<u8> {
    let mut head = match method {
        Method::Get => format!("GET {} HTTP/1.1\r\n", url.target),
        Method::Post => format!("POST {} HTTP/1.1\r\n", url.target),
    };
    head.push_str(&format!(
        "Host: {}\r\nUser-Agent: ide-agents-loadgen\r\nAccept: application/json\r\n",
        url.authority
    ));
    let body = body.unwrap_or_default();
    if method == Method::Post {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if method == Method::Post {
        bytes.extend_from_slice(body.as_bytes());
    }
    bytes
}

pub struct HttpConn {
    stream: TcpStream,
    rbuf: BytesMut,
}

impl Workload for HttpPlan {
    type Conn = HttpConn;

    fn name(&self) -> &'static str {
        match self.method {
            Method::Get => "http-get",
            Method::Post => "http-post",
        }
    }

    fn budget(&self) -> Option<&Budget> {
        self.budget.as_ref()
    }

    async fn open(&self) -> Result<HttpConn, String> {
        let stream = match timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(format!("cannot connect to {}: {e}", self.addr)),
            Err(_) => return Err(format!("cannot connect to {}: timed out", self.addr)),
        };
        // Requests are single small writes: waiting for ACKs would only add latency.
        stream
            .set_nodelay(true)
            .map_err(|e| format!("cannot set TCP_NODELAY on {}: {e}", self.addr))?;
        Ok(HttpConn {
            stream,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
        })
    }

    async fn drive(&self, mut conn: HttpConn, timing: Timing, stats: &RefCell<Stats>) {
        let mut load = Load {
            outstanding: VecDeque::with_capacity(self.window),
            sending: true,
            wbuf: Vec::with_capacity(self.window * self.request.len()),
            wpos: 0,
        };
        let (mut reader, mut writer) = conn.stream.split();
        let rbuf = &mut conn.rbuf;
        let mut timer = std::pin::pin!(sleep_until(timing.send_end.into()));
        load.refill(self, timing, timer.as_mut());
        let failure = loop {
            if !load.sending && load.outstanding.is_empty() {
                break None;
            }
            if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
                rbuf.reserve(READ_CHUNK);
            }
            tokio::select! {
                biased;
                written = writer.write(&load.wbuf[load.wpos..]), if load.wpos < load.wbuf.len() => {
                    match written {
                        Ok(0) => break Some("the server stopped reading".to_owned()),
                        Ok(n) => load.wrote(n),
                        Err(e) => break Some(format!("write failed: {e}")),
                    }
                }
                read = reader.read_buf(rbuf) => {
                    match read {
                        Ok(0) => break Some("connection closed by the server".to_owned()),
                        Ok(_) => {
                            let now = Instant::now();
                            let taken = load.take_responses(rbuf, now, timing, &self.url, &mut stats.borrow_mut());
                            if let Err(reason) = taken {
                                break Some(reason);
                            }
                        }
                        Err(e) => break Some(format!("read failed: {e}")),
                    }
                    load.refill(self, timing, timer.as_mut());
                }
                () = &mut timer => {
                    if load.sending {
                        load.stop(Instant::now(), timer.as_mut());
                    } else {
                        let missing = load.outstanding.len();
                        stats.borrow_mut().record_errors(ErrorKind::Timeout, missing as u64);
                        report_problem(
                            ErrorKind::Timeout,
                            &format!("{}: {missing} responses missing after {} s", self.url, DRAIN_TIMEOUT.as_secs()),
                        );
                        break None;
                    }
                }
            }
        };
        if let Some(reason) = failure {
            let lost = load.outstanding.len() as u64;
            stats.borrow_mut().record_errors(ErrorKind::Closed, lost);
            report_problem(
                ErrorKind::Closed,
                &format!("{}: {reason} ({lost} requests unanswered)", self.url),
            );
        }
        self.close(conn).await;
    }

    async fn close(&self, mut conn: HttpConn) {
        let _ = conn.stream.shutdown().await;
    }
}

/// State of the request loop of one connection.
struct Load {
    /// Send times of the requests not answered yet, oldest first (answers come in order).
    outstanding: VecDeque<Instant>,
    sending: bool,
    /// Requests queued but not yet (fully) written: `wbuf[wpos..]`.
    wbuf: Vec<u8>,
    wpos: usize,
}

impl Load {
    fn wrote(&mut self, n: usize) {
        self.wpos += n;
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
        }
    }

    /// Counts every complete response in `rbuf` and drops it. An error means the
    /// connection cannot go on (the stream cannot be framed, or the server is closing it).
    fn take_responses(
        &mut self,
        rbuf: &mut BytesMut,
        now: Instant,
        timing: Timing,
        url: &str,
        stats: &mut Stats,
    ) -> Result<(), String> {
        loop {
            let response = match parse_response(rbuf) {
                Ok(Some(response)) => response,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.outstanding.pop_front();
                    stats.record_errors(ErrorKind::BadHttp, 1);
                    report_problem(ErrorKind::BadHttp, &format!("{url}: {e}"));
                    return Err("the response stream cannot be read any further".into());
                }
            };
            rbuf.advance(response.len);
            let Some(sent) = self.outstanding.pop_front() else {
                stats.record_errors(ErrorKind::BadHttp, 1);
                return Err("a response arrived with no request outstanding".into());
            };
            if !(200..300).contains(&response.status) {
                stats.record_errors(ErrorKind::HttpStatus, 1);
                report_problem(
                    ErrorKind::HttpStatus,
                    &format!("{url}: status {}", response.status),
                );
            } else if sent >= timing.measure_start {
                // Requests sent during warmup are verified but not counted.
                stats.record_ok(now.saturating_duration_since(sent), now);
            }
            if response.close {
                return Err("the server closes the connection (Connection: close)".into());
            }
        }
    }

    /// Queues new requests for all free window slots, in one buffer.
    fn refill(&mut self, plan: &HttpPlan, timing: Timing, timer: Pin<&mut Sleep>) {
        if !self.sending {
            return;
        }
        let free = plan.window.saturating_sub(self.outstanding.len()) as u64;
        if free == 0 {
            return;
        }
        let now = Instant::now();
        if now >= timing.send_end {
            return self.stop(now, timer);
        }
        let granted = match &plan.budget {
            Some(budget) if now >= timing.measure_start => budget.claim(free),
            _ => free,
        };
        for _ in 0..granted {
            self.wbuf.extend_from_slice(&plan.request);
            self.outstanding.push_back(now);
        }
        if granted < free {
            self.stop(now, timer);
        }
    }

    /// Stops sending; outstanding responses get [`DRAIN_TIMEOUT`] from now.
    fn stop(&mut self, now: Instant, timer: Pin<&mut Sleep>) {
        self.sending = false;
        timer.reset((now + DRAIN_TIMEOUT).into());
    }
}

/// One complete response at the front of the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Bytes it takes in the buffer, head and body.
    pub len: usize,
    /// The server closes the connection after it.
    pub close: bool,
}

/// Frames the response at the front of `buf`: `Ok(None)` if it is not complete yet.
pub fn parse_response(buf: &[u8]) -> Result<Option<Response>, String> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(format!("no end of the response head in {MAX_HEAD} bytes"));
        }
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let (version, status) = parse_status_line(status_line)
        .ok_or_else(|| format!("malformed status line {status_line:?}"))?;
    let mut content_length = None;
    let mut chunked = false;
    // HTTP/1.0 closes after each response unless it says otherwise.
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("malformed header line {line:?}"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n = value
                .parse::<usize>()
                .map_err(|_| format!("malformed Content-Length {value:?}"))?;
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked, if at all, is the last coding applied.
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|coding| coding.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    close = false;
                }
            }
        }
    }
    let body_start = head_end + 4;
    let body = &buf[body_start..];
    let body_len = if (100..200).contains(&status) || status == 204 || status == 304 {
        Some(0)
    } else if chunked {
        chunked_len(body)?
    } else if let Some(n) = content_length {
        (body.len() >= n).then_some(n)
    } else {
        return Err(format!(
            "status {status} without Content-Length or chunked encoding: its body ends with \
             the connection, which cannot then be kept alive"
        ));
    };
    Ok(body_len.map(|n| Response {
        status,
        len: body_start + n,
        close,
    }))
}

/// `HTTP/1.x SSS reason` → version and status.
fn parse_status_line(line: &str) -> Option<(&str, u16)> {
    let (version, rest) = line.split_once(' ')?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = rest.get(..3)?;
    if !code.bytes().all(|b| b.is_ascii_digit())
        || rest[3..].chars().next().is_some_and(|c| c != ' ')
    {
        return None;
    }
    Some((version, code.parse().ok()?))
}

/// Length of a complete chunked body at the front of `body` (trailers included).
fn chunked_len(body: &[u8]) -> Result<Option<usize>, String> {
    let mut pos = 0;
    loop {
        let Some(eol) = find(&body[pos..], b"\r\n") else {
            return Ok(None);
        };
        let size_line = String::from_utf8_lossy(&body[pos..pos + eol]);
        let size_text = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("malformed chunk size {size_text:?}"))?;
        pos += eol + 2;
        if size == 0 {
            // Trailer lines, then an empty line.
            loop {
                let Some(eol) = find(&body[pos..], b"\r\n") else {
                    return Ok(None);
                };
                pos += eol + 2;
                if eol == 0 {
                    return Ok(Some(pos));
                }
            }
        }
        let end = pos
            .checked_add(size)
            .and_then(|n| n.checked_add(2))
            .ok_or("chunk size overflows")?;
        if body.len() < end {
            return Ok(None);
        }
        if &body[end - 2..end] != b"\r\n" {
            return Err("chunk data not followed by CRLF".into());
        }
        pos = end;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<Response>, String> {
        parse_response(text.as_bytes())
    }

    fn complete(status: u16, len: usize, close: bool) -> Result<Option<Response>, String> {
        Ok(Some(Response { status, len, close }))
    }

    #[test]
    fn content_length_framing() {
        let r = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n[]";
        assert_eq!(parse(r), complete(200, r.len(), false));
        // Anything after it belongs to the next response.
        assert_eq!(
            parse(&format!("{r}HTTP/1.1 2")),
            complete(200, r.len(), false)
        );
        // Incomplete head or body: wait for more.
        assert_eq!(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"), Ok(None));
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n["),
            Ok(None)
        );
        assert_eq!(parse(""), Ok(None));
    }

    #[test]
    fn pipelined_responses_split_in_order() {
        let one = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let two = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
        let mut buf = BytesMut::from(format!("{one}{two}").as_bytes());
        let first = parse_response(&buf).unwrap().unwrap();
        assert_eq!(first.status, 200);
        buf.advance(first.len);
        assert_eq!(parse_response(&buf), complete(503, two.len(), false));
    }

    #[test]
    fn chunked_framing() {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let body = "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\n";
        let r = format!("{head}{body}");
        assert_eq!(parse(&r), complete(200, r.len(), false));
        let with_trailer = format!("{head}1\r\nx\r\n0\r\nX-Sum: 1\r\n\r\n");
        assert_eq!(
            parse(&with_trailer),
            complete(200, with_trailer.len(), false)
        );
        for cut in 1..body.len() {
            assert_eq!(parse(&format!("{head}{}", &body[..cut])), Ok(None), "{cut}");
        }
        assert!(parse(&format!("{head}zz\r\n")).is_err());
        assert!(parse(&format!("{head}1\r\nxy\r\n")).is_err());
    }

    #[test]
    fn bodiless_statuses_and_missing_length() {
        let r = "HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(parse(r), complete(204, r.len(), false));
        let r = "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
        assert_eq!(parse(r), complete(304, r.len(), false));
        // A body that ends with the connection cannot be framed on a kept-alive one.
        assert!(parse("HTTP/1.1 200 OK\r\n\r\nabc").is_err());
    }

    #[test]
    fn connection_close() {
        let r = "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse(r), complete(200, r.len(), true));
        let r = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse(r), complete(200, r.len(), true));
        let r = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse(r), complete(200, r.len(), false));
    }

    #[test]
    fn malformed_heads() {
        for head in [
            "HTTP/2 200 OK\r\n\r\n",
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 abc OK\r\n\r\n",
            "banner\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        ] {
            assert!(parse(head).is_err(), "{head:?}");
        }
        // No reason phrase is fine.
        let r = "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse(r), complete(200, r.len(), false));
        let endless = "HTTP/1.1 200 OK\r\nX: ".to_owned() + &"y".repeat(MAX_HEAD);
        assert!(parse(&endless).is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(
            Url::parse("http://127.0.0.1:8001/entities/mappings?x=1#frag"),
            Ok(Url {
                authority: "127.0.0.1:8001".into(),
                addr: "127.0.0.1:8001".into(),
                target: "/entities/mappings?x=1".into(),
            })
        );
        assert_eq!(
            Url::parse("http://localhost"),
            Ok(Url {
                authority: "localhost".into(),
                addr: "localhost:80".into(),
                target: "/".into(),
            })
        );
        assert_eq!(Url::parse("http://[::1]?a=b").unwrap().addr, "[::1]:80");
        assert_eq!(Url::parse("http://[::1]?a=b").unwrap().target, "/?a=b");
        assert_eq!(Url::parse("http://[::1]:9/").unwrap().addr, "[::1]:9");
        assert!(Url::parse("https://127.0.0.1/").is_err());
        assert!(Url::parse("http:///path").is_err());
        assert!(Url::parse("http://user@host/").is_err());
    }

    #[test]
    fn requests() {
        let url = Url::parse("http://127.0.0.1:9/documentation?topic=ml").unwrap();
        let get = String::from_utf8(request_bytes(&url, Method::Get, None)).unwrap();
        assert!(get.starts_with("GET /documentation?topic=ml HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"));
        assert!(get.ends_with("\r\n\r\n"));
        assert!(!get.contains("Content-Length"));
        let post = String::from_utf8(request_bytes(&url, Method::Post, Some("{\"a\":1}"))).unwrap();
        assert!(post.starts_with("POST /documentation?topic=ml HTTP/1.1\r\n"));
        assert!(post.ends_with("Content-Length: 7\r\n\r\n{\"a\":1}"));
    }
}
