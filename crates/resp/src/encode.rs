//! Reply encoding into a connection's plaintext out-buffer.
//!
//! Every function appends to a `Vec<u8>` that the connection reuses, so encoding a reply
//! allocates only when that buffer must grow. Integers go through `itoa` (no `format!`).
//! Where RESP2 and RESP3 differ (null, maps, sets, doubles, verbatim strings) the writer picks
//! the form for the protocol the client negotiated with `HELLO`.

/// The protocol a connection speaks, chosen by `HELLO` (RESP2 until then).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

impl Protocol {
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// Appends replies to `out` in `proto`'s encoding.
pub struct ReplyWriter<'a> {
    pub out: &'a mut Vec<u8>,
    pub proto: Protocol,
}

impl<'a> ReplyWriter<'a> {
    pub fn new(out: &'a mut Vec<u8>, proto: Protocol) -> Self {
        ReplyWriter { out, proto }
    }

    /// `+OK`-style status reply. `s` MUST NOT contain `\r` or `\n`.
    pub fn simple(&mut self, s: &[u8]) {
        self.out.push(b'+');
        self.out.extend_from_slice(s);
        self.out.extend_from_slice(b"\r\n");
    }

    /// Bytes already in RESP form, appended as they are.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    /// An error reply. `msg` carries its own code (`ERR ...`, `WRONGTYPE ...`); newlines are
    /// replaced by spaces as Redis's `addReplyErrorLength` does, so a reply can never be split.
    pub fn error(&mut self, msg: &[u8]) {
        self.out.push(b'-');
        let start = self.out.len();
        self.out.extend_from_slice(msg);
        for b in &mut self.out[start..] {
            if *b == b'\r' || *b == b'\n' {
                *b = b' ';
            }
        }
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn integer(&mut self, v: i64) {
        self.out.push(b':');
        self.number(v);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.out.push(b'$');
        self.number(data.len() as i64);
        self.out.extend_from_slice(data);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A bulk string of an integer's decimal text (`INCR` replies are integers; this is for
    /// values such as `CONFIG GET` fields).
    pub fn bulk_integer(&mut self, v: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(v).as_bytes());
    }

    /// The null bulk string: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.out.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    /// The null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.out.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    pub fn array(&mut self, len: usize) {
        self.out.push(b'*');
        self.number(len as i64);
    }

    /// An out-of-band push (pub/sub messages): `>len` in RESP3, an array in RESP2.
    pub fn push(&mut self, len: usize) {
        match self.proto {
            Protocol::Resp2 => self.array(len),
            Protocol::Resp3 => {
                self.out.push(b'>');
                self.number(len as i64);
            }
        }
    }

    /// A map of `len` pairs: `%len` in RESP3, a flat array of `2*len` in RESP2.
    pub fn map(&mut self, len: usize) {
        match self.proto {
            Protocol::Resp2 => self.array(len * 2),
            Protocol::Resp3 => {
                self.out.push(b'%');
                self.number(len as i64);
            }
        }
    }

    /// A set: `~len` in RESP3, an array in RESP2.
    pub fn set(&mut self, len: usize) {
        match self.proto {
            Protocol::Resp2 => self.array(len),
            Protocol::Resp3 => {
                self.out.push(b'~');
                self.number(len as i64);
            }
        }
    }

    /// A double already formatted as text: a bulk string in RESP2, `,` in RESP3.
    pub fn double_text(&mut self, text: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.out.push(b',');
                self.out.extend_from_slice(text);
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Long text such as `INFO`'s: a verbatim string (`=len\r\ntxt:...`) in RESP3, a bulk string
    /// in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.out.push(b'=');
                self.number(text.len() as i64 + 4);
                self.out.extend_from_slice(b"txt:");
                self.out.extend_from_slice(text);
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    fn number(&mut self, v: i64) {
        let mut b = itoa::Buffer::new();
        self.out.extend_from_slice(b.format(v).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(proto: Protocol, f: impl FnOnce(&mut ReplyWriter)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut ReplyWriter::new(&mut out, proto));
        out
    }

    #[test]
    fn scalar_replies_match_redis_bytes() {
        assert_eq!(enc(Protocol::Resp2, |w| w.ok()), b"+OK\r\n");
        assert_eq!(enc(Protocol::Resp2, |w| w.integer(-42)), b":-42\r\n");
        assert_eq!(enc(Protocol::Resp2, |w| w.bulk(b"")), b"$0\r\n\r\n");
        assert_eq!(enc(Protocol::Resp2, |w| w.bulk(b"hi")), b"$2\r\nhi\r\n");
        assert_eq!(enc(Protocol::Resp2, |w| w.error(b"ERR a\r\nb")), b"-ERR a  b\r\n");
    }

    #[test]
    fn null_and_aggregates_follow_the_negotiated_protocol() {
        assert_eq!(enc(Protocol::Resp2, |w| w.null()), b"$-1\r\n");
        assert_eq!(enc(Protocol::Resp3, |w| w.null()), b"_\r\n");
        assert_eq!(enc(Protocol::Resp2, |w| w.map(2)), b"*4\r\n");
        assert_eq!(enc(Protocol::Resp3, |w| w.map(2)), b"%2\r\n");
        assert_eq!(enc(Protocol::Resp3, |w| w.verbatim(b"a")), b"=5\r\ntxt:a\r\n");
        assert_eq!(enc(Protocol::Resp2, |w| w.verbatim(b"a")), b"$1\r\na\r\n");
    }
}
