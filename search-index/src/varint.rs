//! LEB128 varints: seven bits a byte, low bits first, the high bit set on every byte but the last.

pub fn push_varint(bytes: &mut Vec<u8>, mut value: u64) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(low);
            return;
        }
        bytes.push(low | 0x80);
    }
}

/// The value at the start of `bytes` and the bytes after it; `None` when they end mid-varint or
/// it runs past `max_bytes`.
pub fn read_varint(bytes: &[u8], max_bytes: usize) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(max_bytes) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}
