//! Newline-delimited framing (MCP's stdio framing, used unchanged on the socket).
//!
//! The decoder never buffers more than `max_line` bytes of one line: a longer line is
//! reported as [`FrameError::TooLong`] instead of growing memory with the sender's input.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

#[derive(Debug)]
pub enum FrameError {
    /// A line exceeded the configured limit; the connection must be closed.
    TooLong {
        limit: usize,
    },
    Io(std::io::Error),
}

impl From<std::io::Error> for FrameError {
    fn from(e: std::io::Error) -> Self {
        FrameError::Io(e)
    }
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooLong { limit } => write!(f, "message longer than {limit} bytes"),
            FrameError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Splits a byte stream into lines (without the `\n`, and without a trailing `\r`).
#[derive(Debug, Clone)]
pub struct LineCodec {
    max_line: usize,
    /// Bytes already searched for `\n`, so a slow trickle is not rescanned each time.
    scanned: usize,
}

impl LineCodec {
    pub fn new(max_line: usize) -> Self {
        LineCodec {
            max_line,
            scanned: 0,
        }
    }
}

impl Decoder for LineCodec {
    type Item = BytesMut;
    type Error = FrameError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        loop {
            let newline = memchr::memchr(b'\n', &buf[self.scanned..]);
            let Some(pos) = newline else {
                self.scanned = buf.len();
                if buf.len() > self.max_line {
                    return Err(FrameError::TooLong {
                        limit: self.max_line,
                    });
                }
                return Ok(None);
            };
            let end = self.scanned + pos;
            self.scanned = 0;
            if end > self.max_line {
                return Err(FrameError::TooLong {
                    limit: self.max_line,
                });
            }
            let mut line = buf.split_to(end + 1);
            line.truncate(end);
            if line.last() == Some(&b'\r') {
                line.truncate(end - 1);
            }
            // Blank lines are keep-alives some clients send; skip them.
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(line));
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        if let Some(line) = self.decode(buf)? {
            return Ok(Some(line));
        }
        // A final line without `\n` is still a message.
        self.scanned = 0;
        if buf.iter().all(u8::is_ascii_whitespace) {
            buf.clear();
            return Ok(None);
        }
        Ok(Some(buf.split()))
    }
}

/// Writes one already-serialized message per line.
impl Encoder<Bytes> for LineCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        dst.reserve(item.len() + 1);
        dst.extend_from_slice(&item);
        dst.extend_from_slice(b"\n");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Result<Vec<u8>, String>> {
        let mut codec = LineCodec::new(max);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(l)) => out.push(Ok(l.to_vec())),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    break;
                }
            }
        }
        out
    }

    #[test]
    fn splits_lines_and_strips_cr() {
        let got = lines(b"{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\"", 100);
        assert_eq!(
            got,
            vec![Ok(b"{\"a\":1}".to_vec()), Ok(b"{\"b\":2}".to_vec())]
        );
    }

    #[test]
    fn refuses_a_line_over_the_limit_without_a_newline() {
        let got = lines(&[b'x'; 11], 10);
        assert_eq!(got, vec![Err("message longer than 10 bytes".into())]);
    }

    #[test]
    fn refuses_a_complete_line_over_the_limit() {
        let mut input = vec![b'x'; 11];
        input.push(b'\n');
        assert!(lines(&input, 10)[0].is_err());
        let mut ok = vec![b'x'; 10];
        ok.push(b'\n');
        assert_eq!(lines(&ok, 10), vec![Ok(vec![b'x'; 10])]);
    }

    #[test]
    fn trickled_input_is_found_once_complete() {
        let mut codec = LineCodec::new(100);
        let mut buf = BytesMut::from(&b"{\"a\""[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b":1}\n");
        assert_eq!(&codec.decode(&mut buf).unwrap().unwrap()[..], b"{\"a\":1}");
    }

    #[test]
    fn last_line_without_newline_is_a_message_at_eof() {
        let mut codec = LineCodec::new(100);
        let mut buf = BytesMut::from(&b"{\"a\":1}"[..]);
        assert_eq!(
            &codec.decode_eof(&mut buf).unwrap().unwrap()[..],
            b"{\"a\":1}"
        );
        assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    }
}
