//! Request parsing: RESP multibulk (`*N\r\n$len\r\n...`) and inline (telnet-style) commands.
//!
//! The parser never copies an argument. It records each argument as a [`Span`] (offsets into
//! the caller's query buffer) in a vector that the connection owns and reuses, so a steady
//! stream of GET/SET allocates nothing once that vector has grown to the widest command seen.
//!
//! It is *resumable*: when a request is cut across reads, the spans already found and the
//! position reached are kept, so a client that trickles a 1M-argument command costs O(bytes),
//! not O(bytes²). The contract with the caller is:
//! - pass the query buffer starting at the first byte of the pending request, every time;
//! - the caller may append to that buffer between calls, but MUST NOT move bytes before
//!   `consumed` until [`RequestParser::parse`] has returned a complete request;
//! - after a complete request, the caller drops `consumed` bytes from the front before the
//!   next call (offsets are then relative to the new front).
//!
//! Memory stays bounded by what arrived, never by what was declared: a `$536870912` header
//! reserves nothing.
//!
//! Error texts are Redis 7's (`networking.c`), sent as `-ERR Protocol error: ...` followed by
//! a close of the connection.

use std::ops::Range;

/// Redis's `PROTO_INLINE_MAX_SIZE`: the longest inline request, and the longest `*`/`$` header
/// line, that may sit in the buffer without its `\r\n`.
pub const INLINE_MAX_SIZE: usize = 64 * 1024;

/// Redis 7 refuses a multibulk count above `INT_MAX`.
pub const MAX_MULTIBULK_LEN: i64 = i32::MAX as i64;

/// Until a client has authenticated, Redis caps the argument count and the bulk length, so
/// that an anonymous peer cannot make the server buffer much (Redis 7 `networking.c`).
pub const UNAUTHENTICATED_MAX_MULTIBULK: i64 = 10;
pub const UNAUTHENTICATED_MAX_BULK: i64 = 16384;

/// An argument's position in the query buffer.
pub type Span = Range<usize>;

/// Limits the parser enforces, from the connection's configuration and state.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: i64,
    /// Whether the client has authenticated (or needs no authentication).
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bulk_len: 512 * 1024 * 1024, authenticated: true }
    }
}

/// A malformed request. Each variant's [`ProtocolError::message`] is Redis's text; the
/// connection replies `-ERR <message>` and closes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    TooBigInline,
    UnbalancedQuotes,
    TooBigMultibulkCount,
    InvalidMultibulkLength,
    UnauthenticatedMultibulkLength,
    TooBigBulkCount,
    ExpectedDollar(u8),
    InvalidBulkLength,
    UnauthenticatedBulkLength,
}

impl ProtocolError {
    /// The reply text without the `-ERR ` prefix, exactly as Redis 7 words it.
    pub fn message(&self) -> String {
        match self {
            ProtocolError::TooBigInline => "Protocol error: too big inline request".into(),
            ProtocolError::UnbalancedQuotes => "Protocol error: unbalanced quotes in request".into(),
            ProtocolError::TooBigMultibulkCount => "Protocol error: too big mbulk count string".into(),
            ProtocolError::InvalidMultibulkLength => "Protocol error: invalid multibulk length".into(),
            ProtocolError::UnauthenticatedMultibulkLength => {
                "Protocol error: unauthenticated multibulk length".into()
            }
            ProtocolError::TooBigBulkCount => "Protocol error: too big bulk count string".into(),
            ProtocolError::ExpectedDollar(c) => {
                format!("Protocol error: expected '$', got '{}'", *c as char)
            }
            ProtocolError::InvalidBulkLength => "Protocol error: invalid bulk length".into(),
            ProtocolError::UnauthenticatedBulkLength => "Protocol error: unauthenticated bulk length".into(),
        }
    }
}

/// The outcome of one [`RequestParser::parse`] call.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole request: its arguments are in [`RequestParser::args`] (possibly none, for an
    /// empty line or `*0`, which Redis skips silently). Drop `consumed` bytes afterwards.
    Request { consumed: usize },
    /// More bytes are needed; nothing may be dropped from the buffer yet.
    Incomplete,
}

/// Inline arguments are unquoted into this side buffer (the only case where the parser copies:
/// quoting changes the bytes, so they cannot borrow from the query buffer).
#[derive(Default)]
struct InlineArgs {
    bytes: Vec<u8>,
}

/// Resumable request parser; one per connection.
#[derive(Default)]
pub struct RequestParser {
    spans: Vec<Span>,
    /// Arguments still expected in the current multibulk; 0 when between requests.
    remaining: usize,
    /// Offset where parsing resumes.
    pos: usize,
    /// Whether the spans point into [`InlineArgs`] rather than the query buffer.
    inline: bool,
    inline_args: InlineArgs,
}

/// A parsed request's arguments, borrowed from the query buffer.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    buf: &'a [u8],
    spans: &'a [Span],
}

impl<'a> Args<'a> {
    /// Arguments at `spans` of `buf` (for requests kept for later, such as MULTI's queue).
    pub fn from_parts(buf: &'a [u8], spans: &'a [Span]) -> Self {
        Args { buf, spans }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
    /// Argument `i`. Panics when out of range, like slice indexing: callers check arity first.
    pub fn get(&self, i: usize) -> &'a [u8] {
        &self.buf[self.spans[i].clone()]
    }
    /// The arguments from `i` on (a command inside a command, as in ACL DRYRUN).
    pub fn slice_from(&self, i: usize) -> Args<'a> {
        Args { buf: self.buf, spans: &self.spans[i.min(self.spans.len())..] }
    }
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let buf = self.buf;
        self.spans.iter().map(move |s| &buf[s.clone()])
    }
}

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// The arguments of the request that the last call to `parse` completed. `buf` MUST be the
    /// same buffer that was passed to that call.
    pub fn args<'a>(&'a self, buf: &'a [u8]) -> Args<'a> {
        let buf = if self.inline { &self.inline_args.bytes[..] } else { buf };
        Args { buf, spans: &self.spans }
    }

    /// Forgets a request in progress, keeping the buffers' capacity (for a parser that reads
    /// ahead and stops at an incomplete request).
    pub fn reset(&mut self) {
        self.spans.clear();
        self.remaining = 0;
        self.pos = 0;
        self.inline = false;
    }

    /// Whether a request has been started but not finished (for the query-buffer limit and
    /// for closing cleanly).
    pub fn in_progress(&self) -> bool {
        self.remaining > 0 || self.pos > 0
    }

    /// Parses the next request from `buf` (see the module docs for the buffer contract).
    pub fn parse(&mut self, buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
        if self.remaining == 0 && self.pos == 0 {
            self.spans.clear();
            self.inline = false;
            match buf.first() {
                None => return Ok(Parsed::Incomplete),
                Some(b'*') => {}
                Some(_) => return self.parse_inline(buf),
            }
            let Some(line_end) = find_crlf(buf, 1) else {
                if buf.len() > INLINE_MAX_SIZE {
                    return Err(ProtocolError::TooBigMultibulkCount);
                }
                return Ok(Parsed::Incomplete);
            };
            let count = parse_i64(&buf[1..line_end]);
            let count = match count {
                Some(n) if n <= MAX_MULTIBULK_LEN => n,
                _ => return Err(ProtocolError::InvalidMultibulkLength),
            };
            if count > UNAUTHENTICATED_MAX_MULTIBULK && !limits.authenticated {
                return Err(ProtocolError::UnauthenticatedMultibulkLength);
            }
            let after = line_end + 2;
            if count <= 0 {
                // Redis skips `*0` and `*-1` without a reply.
                return Ok(Parsed::Request { consumed: after });
            }
            self.remaining = count as usize;
            self.pos = after;
            // Reserve for what can arrive, not for what was declared.
            self.spans.reserve(self.remaining.min(1024));
        }
        while self.remaining > 0 {
            let start = self.pos;
            let Some(&first) = buf.get(start) else {
                return Ok(Parsed::Incomplete);
            };
            if first != b'$' {
                return Err(ProtocolError::ExpectedDollar(first));
            }
            let Some(line_end) = find_crlf(buf, start + 1) else {
                if buf.len() - start > INLINE_MAX_SIZE {
                    return Err(ProtocolError::TooBigBulkCount);
                }
                return Ok(Parsed::Incomplete);
            };
            let len = match parse_i64(&buf[start + 1..line_end]) {
                Some(n) if n >= 0 && n <= limits.max_bulk_len => n,
                _ => return Err(ProtocolError::InvalidBulkLength),
            };
            if len > UNAUTHENTICATED_MAX_BULK && !limits.authenticated {
                return Err(ProtocolError::UnauthenticatedBulkLength);
            }
            let data = line_end + 2;
            let end = data + len as usize;
            if buf.len() < end + 2 {
                return Ok(Parsed::Incomplete);
            }
            // Redis does not check that the payload is followed by CRLF; it skips two bytes.
            self.spans.push(data..end);
            self.pos = end + 2;
            self.remaining -= 1;
        }
        let consumed = self.pos;
        self.pos = 0;
        Ok(Parsed::Request { consumed })
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Parsed, ProtocolError> {
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > INLINE_MAX_SIZE {
                return Err(ProtocolError::TooBigInline);
            }
            return Ok(Parsed::Incomplete);
        };
        let consumed = nl + 1;
        let line = &buf[..nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.inline = true;
        self.inline_args.bytes.clear();
        split_inline(line, &mut self.inline_args.bytes, &mut self.spans)?;
        Ok(Parsed::Request { consumed })
    }
}

/// Splits a line into arguments the way Redis splits inline commands and config-file lines.
pub fn split_args(line: &[u8]) -> Result<Vec<Vec<u8>>, ProtocolError> {
    let mut bytes = Vec::new();
    let mut spans = Vec::new();
    split_inline(line, &mut bytes, &mut spans)?;
    Ok(spans.into_iter().map(|s| bytes[s].to_vec()).collect())
}

/// Splits an inline line into arguments with Redis's `sdssplitargs` rules: spaces separate,
/// `"..."` allows `\n \r \t \b \a \\ \" \xHH` escapes, `'...'` allows `\'`, and a closing quote
/// must be followed by a space or the end.
fn split_inline(line: &[u8], out: &mut Vec<u8>, spans: &mut Vec<Span>) -> Result<(), ProtocolError> {
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Ok(());
        }
        let start = out.len();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && is_hex(line[i + 2])
                    && is_hex(line[i + 3])
                {
                    out.push(hex_val(line[i + 2]) * 16 + hex_val(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    out.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                }
            } else if in_sq {
                if i >= n {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    out.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    out.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => out.push(c),
                }
            }
            i += 1;
        }
        spans.push(start..out.len());
    }
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Position of the `\r` of the first `\r\n` at or after `from`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < buf.len() {
        match buf[i..buf.len() - 1].iter().position(|&b| b == b'\r') {
            None => return None,
            Some(p) => {
                let r = i + p;
                if buf[r + 1] == b'\n' {
                    return Some(r);
                }
                i = r + 1;
            }
        }
    }
    None
}

/// Parses a decimal integer the way Redis's `string2ll` does: optional `-`, no `+`, no leading
/// zeros, no spaces, within i64.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut p = RequestParser::new();
        let mut buf = input;
        let mut out = Vec::new();
        while let Parsed::Request { consumed } = p.parse(buf, &Limits::default())? {
            out.push(p.args(buf).iter().map(|a| a.to_vec()).collect());
            buf = &buf[consumed..];
        }
        Ok(out)
    }

    #[test]
    fn pipelined_multibulk_requests_all_parse_with_borrowed_arguments() {
        let reqs = parse_all(b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\n").unwrap();
        assert_eq!(reqs, vec![vec![b"PING".to_vec()], vec![b"SET".to_vec(), b"k".to_vec(), b"vv".to_vec()]]);
    }

    #[test]
    fn a_request_split_at_every_byte_resumes_to_the_same_result() {
        let whole = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        for cut in 1..whole.len() {
            let mut p = RequestParser::new();
            assert_eq!(p.parse(&whole[..cut], &Limits::default()).unwrap(), Parsed::Incomplete, "cut {cut}");
            let r = p.parse(whole, &Limits::default()).unwrap();
            assert_eq!(r, Parsed::Request { consumed: whole.len() });
            assert_eq!(p.args(whole).get(2), b"value");
        }
    }

    #[test]
    fn inline_commands_follow_redis_quoting_rules() {
        let reqs = parse_all(b"set k \"a\\x41\\n\" 'it\\'s'\r\nPING\n").unwrap();
        assert_eq!(reqs[0], vec![b"set".to_vec(), b"k".to_vec(), b"aA\n".to_vec(), b"it's".to_vec()]);
        assert_eq!(reqs[1], vec![b"PING".to_vec()]);
        assert_eq!(parse_all(b"set \"a\"b\r\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(parse_all(b"set \"ab\r\n"), Err(ProtocolError::UnbalancedQuotes));
    }

    #[test]
    fn empty_lines_and_nonpositive_counts_are_skipped_without_a_reply() {
        let reqs = parse_all(b"\r\n*0\r\n*-10\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(reqs.len(), 4);
        assert!(reqs[..3].iter().all(|r| r.is_empty()));
    }

    #[test]
    fn malformed_headers_get_redis_protocol_errors() {
        assert_eq!(parse_all(b"*3000000000\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(parse_all(b"*x\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(
            parse_all(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n").unwrap_err().message(),
            "Protocol error: expected '$', got 'f'"
        );
        assert_eq!(
            parse_all(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        let limits = Limits { max_bulk_len: 10, authenticated: true };
        assert_eq!(
            RequestParser::new().parse(b"*1\r\n$11\r\n", &limits),
            Err(ProtocolError::InvalidBulkLength)
        );
    }

    #[test]
    fn unauthenticated_clients_get_small_limits() {
        let limits = Limits { authenticated: false, ..Limits::default() };
        assert_eq!(
            RequestParser::new().parse(b"*11\r\n", &limits),
            Err(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(
            RequestParser::new().parse(b"*1\r\n$16385\r\n", &limits),
            Err(ProtocolError::UnauthenticatedBulkLength)
        );
    }

    #[test]
    fn headers_without_crlf_are_bounded() {
        let mut big = b"*".to_vec();
        big.extend(std::iter::repeat_n(b'1', INLINE_MAX_SIZE + 1));
        assert_eq!(parse_all(&big), Err(ProtocolError::TooBigMultibulkCount));
        let inline = vec![b'a'; INLINE_MAX_SIZE + 1];
        assert_eq!(parse_all(&inline), Err(ProtocolError::TooBigInline));
    }

    #[test]
    fn a_huge_declared_bulk_reserves_nothing() {
        let mut p = RequestParser::new();
        assert_eq!(p.parse(b"*1\r\n$536870912\r\nabc", &Limits::default()).unwrap(), Parsed::Incomplete);
        assert!(p.spans.capacity() <= 1024);
    }

    #[test]
    fn integers_parse_like_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"-"), None);
    }

    /// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Runs the parser over `input` fed in pieces cut at `cuts`, the way a connection feeds it
    /// (appending, dropping consumed bytes); returns the requests or the first error.
    fn feed(input: &[u8], cuts: &[usize]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let limits = Limits { max_bulk_len: 1 << 20, authenticated: true };
        let mut p = RequestParser::new();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let mut fed = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            buf.extend_from_slice(&input[fed..cut]);
            fed = cut;
            while let Parsed::Request { consumed } = p.parse(&buf, &limits)? {
                out.push(p.args(&buf).iter().map(|a| a.to_vec()).collect());
                buf.drain(..consumed);
            }
        }
        Ok(out)
    }

    #[test]
    fn random_and_mutated_input_never_panics_and_splits_do_not_matter() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let seeds: [&[u8]; 4] = [
            b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
            b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n*1\r\n$4\r\nPING\r\n",
            b"set k \"a b\\x41\" 'c'\r\nPING\n",
            b"*0\r\n\r\n*-1\r\n",
        ];
        for _ in 0..20_000 {
            let mut input: Vec<u8> = if rng.below(4) == 0 {
                (0..rng.below(64)).map(|_| rng.next() as u8).collect()
            } else {
                let mut v = seeds[rng.below(seeds.len())].to_vec();
                for _ in 0..rng.below(4) {
                    let i = rng.below(v.len());
                    match rng.below(3) {
                        0 => v[i] = b"*$\r\n-0123456789ax\"'"[rng.below(17)],
                        1 => {
                            v.remove(i);
                        }
                        _ => v.insert(i, rng.next() as u8),
                    }
                    if v.is_empty() {
                        v.push(b'*');
                    }
                }
                v
            };
            input.truncate(256);
            let whole = feed(&input, &[]);
            let mut cuts: Vec<usize> = (0..rng.below(4)).map(|_| rng.below(input.len() + 1)).collect();
            cuts.sort_unstable();
            assert_eq!(
                feed(&input, &cuts),
                whole,
                "input {:?} cut at {cuts:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}
