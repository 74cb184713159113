//! Finds where each reply ends and what kind it is, without copying or allocating: the load
//! generator only needs to count hits, misses and errors.

/// What a complete reply was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `+...`, `:...` or any aggregate.
    Value,
    /// A bulk string: a GET hit.
    Bulk,
    /// `$-1`, `*-1` or RESP3 `_`: a GET miss.
    Nil,
    /// `-...`: the error text (without `-` and CRLF) is `buf[start..end]`.
    Error { start: usize, end: usize },
}

/// The reply could not be RESP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Aggregates nest at most this deep (a reply to GET or SET never nests at all).
const MAX_DEPTH: usize = 32;
/// A bulk longer than this is taken as garbage rather than buffered: the generator reads back
/// only values it wrote, and `--data-size` is at most 512 MB.
const MAX_BULK: i64 = 1 << 30;

fn line(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let nl = buf.get(from..)?.iter().position(|&b| b == b'\n')? + from;
    if nl == from || buf[nl - 1] != b'\r' {
        return Some((nl, nl + 1)); // tolerated: bare LF ends the line too
    }
    Some((nl - 1, nl + 1))
}

fn int(s: &[u8]) -> Result<i64, Malformed> {
    std::str::from_utf8(s).ok().and_then(|s| s.parse().ok()).ok_or(Malformed)
}

/// The first reply in `buf`: `Ok(Some((length, kind)))`, `Ok(None)` when it is not all there.
pub fn scan(buf: &[u8]) -> Result<Option<(usize, Reply)>, Malformed> {
    scan_at(buf, 0, 0)
}

fn scan_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(usize, Reply)>, Malformed> {
    if depth > MAX_DEPTH {
        return Err(Malformed);
    }
    let Some(&tag) = buf.get(at) else { return Ok(None) };
    let Some((eol, next)) = line(buf, at + 1) else { return Ok(None) };
    let head = &buf[at + 1..eol];
    match tag {
        b'+' | b':' | b',' | b'#' | b'(' => Ok(Some((next, Reply::Value))),
        b'_' => Ok(Some((next, Reply::Nil))),
        b'-' => Ok(Some((next, Reply::Error { start: at + 1, end: eol }))),
        b'$' | b'=' | b'!' => {
            let n = int(head)?;
            if n < 0 {
                return Ok(Some((next, Reply::Nil)));
            }
            if n > MAX_BULK {
                return Err(Malformed);
            }
            let end = next.checked_add(n as usize + 2).ok_or(Malformed)?;
            if buf.len() < end {
                return Ok(None);
            }
            if tag == b'!' {
                return Ok(Some((end, Reply::Error { start: next, end: end - 2 })));
            }
            Ok(Some((end, Reply::Bulk)))
        }
        b'*' | b'%' | b'~' | b'>' | b'|' => {
            let n = int(head)?;
            if n < 0 {
                return Ok(Some((next, Reply::Nil)));
            }
            let items = if matches!(tag, b'%' | b'|') { n.checked_mul(2).ok_or(Malformed)? } else { n };
            let mut pos = next;
            for _ in 0..items {
                match scan_at(buf, pos, depth + 1)? {
                    Some((end, _)) => pos = end,
                    None => return Ok(None),
                }
            }
            Ok(Some((pos, Reply::Value)))
        }
        _ => Err(Malformed),
    }
}

/// The kind of an error reply, for counting: its first word (`ERR`, `WRONGTYPE`, `NOAUTH`),
/// at most 32 bytes, borrowed from the reply (no allocation per error).
pub fn error_kind(text: &[u8]) -> &str {
    let word = text.split(|&b| b == b' ').next().unwrap_or(b"");
    let word = std::str::from_utf8(word).ok().filter(|w| !w.is_empty()).unwrap_or("ERR");
    let mut n = word.len().min(32);
    while !word.is_char_boundary(n) {
        n -= 1;
    }
    &word[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_and_its_length() {
        assert_eq!(scan(b"+OK\r\n"), Ok(Some((5, Reply::Value))));
        assert_eq!(scan(b"$3\r\nabc\r\n+OK\r\n"), Ok(Some((9, Reply::Bulk))));
        assert_eq!(scan(b"$-1\r\n"), Ok(Some((5, Reply::Nil))));
        assert_eq!(scan(b"_\r\n"), Ok(Some((3, Reply::Nil))));
        assert_eq!(scan(b":12\r\n"), Ok(Some((5, Reply::Value))));
        let e = b"-WRONGTYPE Operation against a key\r\n";
        let Ok(Some((n, Reply::Error { start, end }))) = scan(e) else { panic!() };
        assert_eq!(n, e.len());
        assert_eq!(error_kind(&e[start..end]), "WRONGTYPE");
        assert_eq!(scan(b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n"), Ok(Some((19, Reply::Value))));
        assert_eq!(scan(b"%1\r\n+a\r\n+b\r\n"), Ok(Some((12, Reply::Value))));
        // a bulk may hold CRLF
        assert_eq!(scan(b"$4\r\n\r\n\r\n\r\n"), Ok(Some((10, Reply::Bulk))));
    }

    #[test]
    fn partial_replies_wait_for_more() {
        let whole = b"*2\r\n$5\r\nhello\r\n$-1\r\n";
        for cut in 0..whole.len() {
            assert_eq!(scan(&whole[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(scan(whole), Ok(Some((whole.len(), Reply::Value))));
    }

    #[test]
    fn garbage_and_absurd_nesting_are_malformed_not_a_panic() {
        assert_eq!(scan(b"?what\r\n"), Err(Malformed));
        assert_eq!(scan(b"$abc\r\n"), Err(Malformed));
        assert_eq!(scan(b"$9223372036854775807\r\n"), Err(Malformed));
        assert_eq!(scan(&b"*1\r\n".repeat(100)), Err(Malformed));
        assert_eq!(scan(b"%4611686018427387904\r\n"), Err(Malformed));
    }
}
