//! LZF decompression (liblzf's format), for strings Redis stores compressed (`rdbcompression
//! yes`, strings over 20 bytes). cachet writes strings uncompressed, which every reader accepts.

/// Decompresses `input` into exactly `out_len` bytes; None if the data is malformed.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    // A back reference of 2 bytes yields at most 264: a claimed length beyond that ratio is
    // malformed, and must not size an allocation.
    if out_len > input.len().saturating_mul(132) {
        return None;
    }
    let mut out = Vec::with_capacity(out_len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            // A literal run of ctrl + 1 bytes.
            let n = ctrl + 1;
            let lit = input.get(i..i + n)?;
            if out.len() + n > out_len {
                return None;
            }
            out.extend_from_slice(lit);
            i += n;
        } else {
            // A back reference: length (ctrl >> 5) + 2, or a following byte when 7.
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            len += 2;
            let off = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            if off > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - off;
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn literals_and_back_references() {
        // "abcabcabc": literal "abc" (ctrl 2), then a reference of 6 bytes at offset 3:
        // ctrl = (6-2)<<5 | ((3-1)>>8) = 0x80, next byte (3-1)&0xff = 2.
        let data = [2, b'a', b'b', b'c', 0x80, 2];
        assert_eq!(super::decompress(&data, 9).unwrap(), b"abcabcabc");
        assert!(super::decompress(&data, 10).is_none());
        assert!(super::decompress(&[0x80, 5], 4).is_none(), "reference before any output");
        assert!(super::decompress(&[0, b'a'], usize::MAX).is_none(), "absurd length refused, not allocated");
    }
}
