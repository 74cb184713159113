//! Redis's listpack (the packed encoding of small hashes, sorted sets and list nodes in RDB
//! version 10): `<total bytes u32><count u16><entry>...<0xFF>`, each entry an encoding byte,
//! its data, and its own length written backwards.

/// Strings that are the canonical text of an i64 are stored as integers, as Redis does.
fn as_int(s: &[u8]) -> Option<i64> {
    match cachet_store::Value::string(s) {
        cachet_store::Value::Int(i) => Some(i),
        _ => None,
    }
}

fn backlen(l: usize, out: &mut Vec<u8>) {
    let l = l as u64;
    if l <= 127 {
        out.push(l as u8);
    } else if l < 16383 {
        out.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
    } else if l < 2_097_151 {
        out.extend_from_slice(&[(l >> 14) as u8, ((l >> 7) & 127) as u8 | 128, (l & 127) as u8 | 128]);
    } else if l < 268_435_455 {
        out.extend_from_slice(&[
            (l >> 21) as u8,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    } else {
        out.extend_from_slice(&[
            (l >> 28) as u8,
            ((l >> 21) & 127) as u8 | 128,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    }
}

/// Appends one entry.
fn push_entry(out: &mut Vec<u8>, s: &[u8]) {
    let start = out.len();
    if let Some(v) = as_int(s) {
        if (0..=127).contains(&v) {
            out.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u16) & 0x1fff;
            out.extend_from_slice(&[0xc0 | (u >> 8) as u8, (u & 0xff) as u8]);
        } else if (-32768..=32767).contains(&v) {
            out.push(0xf1);
            out.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            out.push(0xf2);
            out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            out.push(0xf3);
            out.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            out.push(0xf4);
            out.extend_from_slice(&v.to_le_bytes());
        }
    } else if s.len() < 64 {
        out.push(0x80 | s.len() as u8);
        out.extend_from_slice(s);
    } else if s.len() < 4096 {
        out.extend_from_slice(&[0xe0 | (s.len() >> 8) as u8, (s.len() & 0xff) as u8]);
        out.extend_from_slice(s);
    } else {
        out.push(0xf0);
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s);
    }
    let len = out.len() - start;
    backlen(len, out);
}

/// A listpack holding `items` in order.
pub fn encode<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = vec![0u8; 6];
    let mut n = 0usize;
    for s in items {
        push_entry(&mut out, s);
        n += 1;
    }
    out.push(0xff);
    let total = out.len() as u32;
    out[..4].copy_from_slice(&total.to_le_bytes());
    out[4..6].copy_from_slice(&(n.min(65535) as u16).to_le_bytes());
    out
}

/// The entries of a listpack, integers as their decimal text; None if it is malformed.
pub fn decode(lp: &[u8]) -> Option<Vec<Vec<u8>>> {
    if lp.len() < 7 || u32::from_le_bytes(lp[..4].try_into().ok()?) as usize != lp.len() {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 6;
    loop {
        let b = *lp.get(i)?;
        if b == 0xff {
            break;
        }
        let start = i;
        let item: Vec<u8> = if b & 0x80 == 0 {
            i += 1;
            (b as i64).to_string().into_bytes()
        } else if b & 0xc0 == 0x80 {
            let n = (b & 0x3f) as usize;
            let s = lp.get(i + 1..i + 1 + n)?;
            i += 1 + n;
            s.to_vec()
        } else if b & 0xe0 == 0xc0 {
            let u = (((b & 0x1f) as u16) << 8) | *lp.get(i + 1)? as u16;
            // 13-bit two's complement.
            let v = if u & 0x1000 != 0 { u as i64 - 0x2000 } else { u as i64 };
            i += 2;
            v.to_string().into_bytes()
        } else if b & 0xf0 == 0xe0 {
            let n = (((b & 0x0f) as usize) << 8) | *lp.get(i + 1)? as usize;
            let s = lp.get(i + 2..i + 2 + n)?;
            i += 2 + n;
            s.to_vec()
        } else {
            let (v, used): (i64, usize) = match b {
                0xf0 => {
                    let n = u32::from_le_bytes(lp.get(i + 1..i + 5)?.try_into().ok()?) as usize;
                    let s = lp.get(i + 5..i + 5 + n)?;
                    i += 5 + n;
                    out.push(s.to_vec());
                    let entry_len = i - start;
                    skip_backlen(lp, &mut i, entry_len)?;
                    continue;
                }
                0xf1 => (i16::from_le_bytes(lp.get(i + 1..i + 3)?.try_into().ok()?) as i64, 3),
                0xf2 => {
                    let b3 = lp.get(i + 1..i + 4)?;
                    let raw = (b3[0] as i32) | ((b3[1] as i32) << 8) | ((b3[2] as i8 as i32) << 16);
                    (raw as i64, 4)
                }
                0xf3 => (i32::from_le_bytes(lp.get(i + 1..i + 5)?.try_into().ok()?) as i64, 5),
                0xf4 => (i64::from_le_bytes(lp.get(i + 1..i + 9)?.try_into().ok()?), 9),
                _ => return None,
            };
            i += used;
            v.to_string().into_bytes()
        };
        out.push(item);
        let entry_len = i - start;
        skip_backlen(lp, &mut i, entry_len)?;
    }
    (i == lp.len() - 1).then_some(out)
}

fn skip_backlen(lp: &[u8], i: &mut usize, entry_len: usize) -> Option<()> {
    let mut b = Vec::new();
    backlen(entry_len, &mut b);
    if lp.get(*i..*i + b.len())? != b.as_slice() {
        return None;
    }
    *i += b.len();
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_strings_and_every_integer_width() {
        let items: Vec<Vec<u8>> = [
            "a",
            "",
            "0",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "4096",
            "-32768",
            "32767",
            "40000",
            "-8388608",
            "8388607",
            "9000000",
            "2147483647",
            "-2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "007",
            "+1",
            "1.5",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([vec![b'x'; 100], vec![b'y'; 5000]])
        .collect();
        let lp = encode(items.iter().map(|v| v.as_slice()));
        assert_eq!(decode(&lp).unwrap(), items);
    }

    #[test]
    fn matches_redis_bytes_for_a_small_hash() {
        // A Redis 7.0 DUMP of HSET h f v g 1 carries this listpack.
        let lp = encode([&b"f"[..], b"v", b"g", b"1"]);
        assert_eq!(lp, b"\x12\x00\x00\x00\x04\x00\x81f\x02\x81v\x02\x81g\x02\x01\x01\xff");
    }

    #[test]
    fn refuses_truncated_or_inconsistent_data() {
        let lp = encode([&b"hello"[..], b"12"]);
        assert!(decode(&lp[..lp.len() - 1]).is_none());
        let mut bad = lp.clone();
        bad[7] ^= 0x01;
        assert!(decode(&bad).is_none() || decode(&bad).unwrap() != decode(&lp).unwrap());
    }
}
