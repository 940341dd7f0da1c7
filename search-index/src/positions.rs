//! A posting row's list of requests: ascending indexes into its block's id list, stored as the
//! gaps between them in LEB128 varints (one byte per gap below 128), so a word most requests of a
//! block hold costs about a byte per request.

use crate::varint::{push_varint, read_varint};

pub fn encode_positions(positions: &[u32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(positions.len() + 4);
    let mut previous = 0u32;
    for (i, &position) in positions.iter().enumerate() {
        debug_assert!(i == 0 || position > previous, "positions must ascend");
        push_varint(&mut bytes, u64::from(if i == 0 { position } else { position - previous }));
        previous = position;
    }
    bytes
}

/// The positions back; `None` when the bytes are not a list this module wrote.
pub fn decode_positions(mut bytes: &[u8]) -> Option<Vec<u32>> {
    let mut positions = Vec::with_capacity(bytes.len());
    let mut previous: Option<u32> = None;
    while !bytes.is_empty() {
        let (gap, rest) = read_varint(bytes, 5)?;
        let gap = u32::try_from(gap).ok()?;
        let position = match previous {
            None => gap,
            Some(previous) => previous.checked_add(gap)?,
        };
        positions.push(position);
        previous = Some(position);
        bytes = rest;
    }
    Some(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip() {
        for positions in [vec![], vec![0], vec![0, 1, 2, 3], vec![5, 127, 128, 300, 70_000, 4_000_000_000]] {
            assert_eq!(decode_positions(&encode_positions(&positions)), Some(positions));
        }
    }

    #[test]
    fn dense_lists_cost_a_byte_each() {
        let positions: Vec<u32> = (0..1000).collect();
        assert_eq!(encode_positions(&positions).len(), 1000);
    }

    #[test]
    fn damaged_bytes_are_refused() {
        assert_eq!(decode_positions(&[0x80]), None);
        assert_eq!(decode_positions(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), None);
    }
}
