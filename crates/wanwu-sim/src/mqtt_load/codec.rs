//! The few MQTT 3.1.1 packets a load generator needs, encoded and parsed by hand: no
//! allocation per message, many packets per write.

/// Appends an MQTT variable-length integer.
fn put_length(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            return;
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// CONNECT (MQTT 3.1.1, clean session) for `client_id` with `keepalive` seconds.
pub(crate) fn connect(out: &mut Vec<u8>, client_id: &str, keepalive: u16) {
    out.push(0x10);
    put_length(out, 10 + 2 + client_id.len());
    put_str(out, b"MQTT");
    out.push(4);
    out.push(0x02);
    out.extend_from_slice(&keepalive.to_be_bytes());
    put_str(out, client_id.as_bytes());
}

/// SUBSCRIBE to `filter` at `qos`.
pub(crate) fn subscribe(out: &mut Vec<u8>, packet_id: u16, filter: &str, qos: u8) {
    out.push(0x82);
    put_length(out, 2 + 2 + filter.len() + 1);
    out.extend_from_slice(&packet_id.to_be_bytes());
    put_str(out, filter.as_bytes());
    out.push(qos);
}

/// The header at the start of every payload the load generator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// Index of the publisher.
    pub publisher: u32,
    /// The publisher's running message number.
    pub seq: u32,
    /// Send time, nanoseconds on the run's clock.
    pub sent_ns: u64,
    /// Whether the publisher counted the message in the sample. Receivers take the
    /// publisher's word rather than judge the send time against the window themselves: the
    /// window's edges reach the two sides at slightly different moments.
    pub sampled: bool,
}

impl Stamp {
    /// Bytes a stamp takes.
    pub const LEN: usize = 17;

    /// Writes the stamp at the start of `payload` (at least [`Self::LEN`] bytes).
    pub fn write(&self, payload: &mut [u8]) {
        payload[..4].copy_from_slice(&self.publisher.to_le_bytes());
        payload[4..8].copy_from_slice(&self.seq.to_le_bytes());
        payload[8..16].copy_from_slice(&self.sent_ns.to_le_bytes());
        payload[16] = u8::from(self.sampled);
    }

    /// The stamp at the start of `payload`, if it is long enough.
    pub fn read(payload: &[u8]) -> Option<Self> {
        Some(Self {
            publisher: u32::from_le_bytes(payload.get(..4)?.try_into().ok()?),
            seq: u32::from_le_bytes(payload.get(4..8)?.try_into().ok()?),
            sent_ns: u64::from_le_bytes(payload.get(8..16)?.try_into().ok()?),
            sampled: *payload.get(16)? != 0,
        })
    }
}

/// PUBLISH of `payload_len` bytes; `fill` writes the payload.
pub(crate) fn publish(
    out: &mut Vec<u8>,
    topic: &[u8],
    qos: u8,
    packet_id: u16,
    payload_len: usize,
    fill: impl FnOnce(&mut [u8]),
) {
    out.push(0x30 | (qos << 1));
    let id_len = if qos > 0 { 2 } else { 0 };
    put_length(out, 2 + topic.len() + id_len + payload_len);
    put_str(out, topic);
    if qos > 0 {
        out.extend_from_slice(&packet_id.to_be_bytes());
    }
    let start = out.len();
    out.resize(start + payload_len, 0);
    fill(&mut out[start..]);
}

/// PUBACK for `packet_id`.
pub(crate) fn puback(out: &mut Vec<u8>, packet_id: u16) {
    out.extend_from_slice(&[0x40, 0x02]);
    out.extend_from_slice(&packet_id.to_be_bytes());
}

/// PINGREQ.
pub(crate) const PINGREQ: [u8; 2] = [0xC0, 0x00];

/// A packet parsed from the stream, borrowing its body.
#[derive(Debug)]
pub(crate) struct Frame<'a> {
    /// First byte: type (high nibble) and flags.
    pub header: u8,
    /// Everything after the remaining length.
    pub body: &'a [u8],
}

impl Frame<'_> {
    /// Packet type (1..=15).
    pub fn kind(&self) -> u8 {
        self.header >> 4
    }

    /// For a PUBLISH: QoS, packet id and payload.
    pub fn publish(&self) -> Option<(u8, u16, &[u8])> {
        let qos = (self.header >> 1) & 0x03;
        let topic_len = usize::from(u16::from_be_bytes(self.body.get(..2)?.try_into().ok()?));
        let mut at = 2 + topic_len;
        let mut packet_id = 0;
        if qos > 0 {
            packet_id = u16::from_be_bytes(self.body.get(at..at + 2)?.try_into().ok()?);
            at += 2;
        }
        Some((qos, packet_id, self.body.get(at..)?))
    }
}

/// Splits whole packets off the front of `buf`; returns how many bytes they used.
pub(crate) fn parse<'a>(buf: &'a [u8], mut on_frame: impl FnMut(Frame<'a>)) -> usize {
    let mut at = 0;
    loop {
        let Some(&header) = buf.get(at) else {
            return at;
        };
        let mut len = 0usize;
        let mut shift = 0;
        let mut cursor = at + 1;
        loop {
            let Some(&byte) = buf.get(cursor) else {
                return at;
            };
            len |= usize::from(byte & 0x7f) << shift;
            cursor += 1;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
            if shift > 21 {
                return at;
            }
        }
        let Some(body) = buf.get(cursor..cursor + len) else {
            return at;
        };
        on_frame(Frame { header, body });
        at = cursor + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_round_trip_through_the_parser() {
        let mut out = Vec::new();
        publish(&mut out, b"a/b", 1, 7, 200, |p| p[0] = 42);
        puback(&mut out, 9);
        let mut frames = Vec::new();
        let used = parse(&out, |f| {
            frames.push((
                f.kind(),
                f.publish().map(|(q, id, p)| (q, id, p.len(), p[0])),
            ))
        });
        assert_eq!(used, out.len());
        assert_eq!(frames[0], (3, Some((1, 7, 200, 42))));
        assert_eq!(frames[1].0, 4);
        assert_eq!(
            parse(&out[..out.len() - 1], |_| {}),
            out.len() - 4,
            "a partial packet waits"
        );
    }

    #[test]
    fn stamps_round_trip_and_short_payloads_have_none() {
        let stamp = Stamp {
            publisher: 7,
            seq: u32::MAX - 1,
            sent_ns: 1 << 50,
            sampled: true,
        };
        let mut payload = [0u8; 100];
        stamp.write(&mut payload);
        assert_eq!(Stamp::read(&payload), Some(stamp));
        assert_eq!(Stamp::read(&payload[..Stamp::LEN - 1]), None);
    }
}
