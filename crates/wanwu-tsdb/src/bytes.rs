//! Little helpers to write and read the engine's binary formats: varints, fixed-width
//! numbers, length-prefixed strings, and checksummed frames.

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError(pub(crate) String);

pub(crate) type DecodeResult<T> = Result<T, DecodeError>;

/// Largest frame payload accepted on read; anything larger is treated as damage.
pub(crate) const MAX_FRAME_LEN: usize = 256 << 20;
const FRAME_HEADER: usize = 8;

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Appends `values` packed in the bit width of the largest: the width, then the bits.
pub(crate) fn put_bitpacked(out: &mut Vec<u8>, values: &[u64]) {
    let width = values
        .iter()
        .map(|v| 64 - v.leading_zeros())
        .max()
        .unwrap_or(0);
    out.push(width as u8);
    let (mut acc, mut bits) = (0u128, 0u32);
    for &v in values {
        acc |= u128::from(v) << bits;
        bits += width;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Appends `payload` as a frame: length, crc32c of the payload, payload.
pub(crate) fn put_frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// The frames of a file, up to the first damage.
pub(crate) struct Frames<'a> {
    /// Payloads of the intact frames, in order.
    pub(crate) payloads: Vec<&'a [u8]>,
    /// Bytes covered by intact frames.
    pub(crate) valid_len: usize,
    /// What stopped the read early, if anything did.
    pub(crate) damage: Option<String>,
}

/// Reads frames from `bytes` until the end or the first torn or corrupt frame.
pub(crate) fn read_frames(bytes: &[u8]) -> Frames<'_> {
    let mut payloads = Vec::new();
    let mut pos = 0;
    let damage = loop {
        if pos == bytes.len() {
            break None;
        }
        if bytes.len() - pos < FRAME_HEADER {
            break Some(format!("torn frame header at offset {pos}"));
        }
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4 bytes"));
        if len > MAX_FRAME_LEN || bytes.len() - pos - FRAME_HEADER < len {
            break Some(format!(
                "torn or oversized frame at offset {pos} (length {len})"
            ));
        }
        let payload = &bytes[pos + FRAME_HEADER..pos + FRAME_HEADER + len];
        if crc32c::crc32c(payload) != crc {
            break Some(format!("checksum mismatch in frame at offset {pos}"));
        }
        payloads.push(payload);
        pos += FRAME_HEADER + len;
    };
    Frames {
        payloads,
        valid_len: pos,
        damage,
    }
}

/// A cursor over bytes that fails cleanly on short or malformed input.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Bytes read so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    pub(crate) fn take(&mut self, n: usize) -> DecodeResult<&'a [u8]> {
        if self.bytes.len() - self.pos < n {
            return Err(DecodeError(format!(
                "need {n} bytes at offset {}, have {}",
                self.pos,
                self.bytes.len() - self.pos
            )));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> DecodeResult<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> DecodeResult<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    pub(crate) fn u64(&mut self) -> DecodeResult<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    pub(crate) fn i64(&mut self) -> DecodeResult<i64> {
        Ok(self.u64()? as i64)
    }

    pub(crate) fn f64(&mut self) -> DecodeResult<f64> {
        Ok(f64::from_bits(self.u64()?))
    }

    pub(crate) fn varint(&mut self) -> DecodeResult<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError("varint longer than 10 bytes".into()))
    }

    /// A varint that counts items; bounded by the bytes left so garbage cannot ask for huge allocations.
    pub(crate) fn count(&mut self) -> DecodeResult<usize> {
        let n = self.varint()?;
        if n > (self.bytes.len() - self.pos) as u64 * 8 + 8 && n > 1 << 20 {
            return Err(DecodeError(format!("implausible count {n}")));
        }
        Ok(n as usize)
    }

    pub(crate) fn str(&mut self) -> DecodeResult<&'a str> {
        let n = self.count()?;
        std::str::from_utf8(self.take(n)?).map_err(|e| DecodeError(format!("invalid utf-8: {e}")))
    }

    /// `n` values written by [`put_bitpacked`].
    pub(crate) fn bitpacked(&mut self, n: usize) -> DecodeResult<Vec<u64>> {
        let width = u32::from(self.u8()?);
        if width > 64 {
            return Err(DecodeError(format!("bit width {width} over 64")));
        }
        let len = n
            .checked_mul(width as usize)
            .ok_or_else(|| DecodeError("bit-packed section too long".into()))?
            .div_ceil(8);
        let bytes = self.take(len)?;
        let mask = if width == 0 {
            0
        } else {
            u64::MAX >> (64 - width)
        };
        let mut out = Vec::with_capacity(n);
        let (mut acc, mut bits, mut next) = (0u128, 0u32, bytes.iter());
        for _ in 0..n {
            while bits < width {
                acc |= u128::from(*next.next().expect("length checked")) << bits;
                bits += 8;
            }
            out.push(acc as u64 & mask);
            acc >>= width;
            bits -= width;
        }
        Ok(out)
    }

    /// The bytes of a length-prefixed section.
    pub(crate) fn section(&mut self) -> DecodeResult<&'a [u8]> {
        let n = self.count()?;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_round_trip() {
        let mut out = Vec::new();
        let values = [0i64, 1, -1, 63, -64, i64::MAX, i64::MIN, 1_700_000_000_000];
        for &v in &values {
            put_varint(&mut out, zigzag(v));
        }
        let mut r = Reader::new(&out);
        for &v in &values {
            assert_eq!(unzigzag(r.varint().unwrap()), v);
        }
        assert!(r.is_empty());
        assert!(r.varint().is_err());
    }

    #[test]
    fn bitpacked_values_round_trip() {
        for values in [
            vec![],
            vec![0, 0, 0],
            vec![1, 0, 1, 1, 0],
            vec![5, 17, 3, 1023, 0],
            vec![u64::MAX, 0, 1, u64::MAX >> 1],
        ] {
            let mut out = Vec::new();
            put_bitpacked(&mut out, &values);
            let mut r = Reader::new(&out);
            assert_eq!(r.bitpacked(values.len()).unwrap(), values);
            assert!(r.is_empty());
            assert!(
                Reader::new(&out[..out.len() - 1])
                    .bitpacked(values.len())
                    .is_err()
            );
        }
    }

    #[test]
    fn frames_stop_at_damage() {
        let mut out = Vec::new();
        put_frame(&mut out, b"one");
        put_frame(&mut out, b"two");
        let good = out.len();
        put_frame(&mut out, b"three");
        let frames = read_frames(&out);
        assert_eq!(frames.payloads, vec![&b"one"[..], b"two", b"three"]);
        assert!(frames.damage.is_none());

        let mut flipped = out.clone();
        flipped[good + 9] ^= 0x40;
        let frames = read_frames(&flipped);
        assert_eq!(frames.payloads.len(), 2);
        assert_eq!(frames.valid_len, good);
        assert!(frames.damage.unwrap().contains("checksum"));

        let frames = read_frames(&out[..out.len() - 2]);
        assert_eq!(frames.valid_len, good);
        assert!(frames.damage.is_some());
    }
}
