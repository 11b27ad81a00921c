//! Which byte values occur in a value, as a 256-bit set.
//!
//! One pass over a value builds its set; after that, "does it contain any
//! of these bytes" and "is it made only of these bytes" cost a few word
//! operations, so every check can refuse a value without reading it again.

/// The one-byte set of every byte value.
static ONE_HOT: [[u64; 4]; 256] = {
    let mut table = [[0u64; 4]; 256];
    let mut b = 0;
    while b < 256 {
        table[b][b >> 6] = 1u64 << (b & 63);
        b += 1;
    }
    table
};

#[inline(always)]
fn or4(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
    [a[0] | b[0], a[1] | b[1], a[2] | b[2], a[3] | b[3]]
}

/// A set of byte values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByteSet([u64; 4]);

impl ByteSet {
    /// The set of the bytes listed.
    pub const fn from_bytes(bytes: &[u8]) -> Self {
        let mut words = [0u64; 4];
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            words[(b >> 6) as usize] |= 1u64 << (b & 63);
            i += 1;
        }
        ByteSet(words)
    }

    /// The set of the bytes in `lo..=hi`, added to `self`.
    pub const fn with_range(self, lo: u8, hi: u8) -> Self {
        let mut words = self.0;
        let mut b = lo as usize;
        while b <= hi as usize {
            words[b >> 6] |= 1u64 << (b & 63);
            b += 1;
        }
        ByteSet(words)
    }

    /// The union of two sets.
    pub const fn union(self, other: ByteSet) -> Self {
        ByteSet([
            self.0[0] | other.0[0],
            self.0[1] | other.0[1],
            self.0[2] | other.0[2],
            self.0[3] | other.0[3],
        ])
    }

    /// `self` without the bytes listed.
    pub const fn without(self, bytes: &[u8]) -> Self {
        let remove = ByteSet::from_bytes(bytes);
        ByteSet([
            self.0[0] & !remove.0[0],
            self.0[1] & !remove.0[1],
            self.0[2] & !remove.0[2],
            self.0[3] & !remove.0[3],
        ])
    }

    /// The bytes that occur in `value`.
    pub fn of(value: &[u8]) -> Self {
        // OR-ing one-hot sets from a table keeps the whole set in registers.
        // Setting bits in a set held in memory is slower: the address of each
        // update depends on the byte, and updates of the same word wait on
        // each other (and on the processor's memory-ordering checks).
        let mut even = [0u64; 4];
        let mut odd = [0u64; 4];
        let mut pairs = value.chunks_exact(2);
        for pair in &mut pairs {
            if let [a, b] = pair {
                even = or4(even, ONE_HOT[usize::from(*a)]);
                odd = or4(odd, ONE_HOT[usize::from(*b)]);
            }
        }
        for &b in pairs.remainder() {
            even = or4(even, ONE_HOT[usize::from(b)]);
        }
        ByteSet(or4(even, odd))
    }

    pub fn contains(&self, b: u8) -> bool {
        self.0
            .get(usize::from(b >> 6))
            .is_some_and(|word| word & (1u64 << (b & 63)) != 0)
    }

    /// Whether any of `bytes` is in the set.
    pub fn has_any(&self, bytes: &[u8]) -> bool {
        bytes.iter().any(|&b| self.contains(b))
    }

    /// Whether the two sets share a byte.
    pub fn intersects(&self, other: &ByteSet) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }

    /// Whether every byte of `self` is in `other`.
    pub fn is_subset(&self, other: &ByteSet) -> bool {
        self.0.iter().zip(&other.0).all(|(a, b)| a & !b == 0)
    }

    pub fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_a_plain_scan(value in proptest::collection::vec(any::<u8>(), 0..64), probe in any::<u8>()) {
            let set = ByteSet::of(&value);
            prop_assert_eq!(set.contains(probe), value.contains(&probe));
            prop_assert_eq!(set, ByteSet::from_bytes(&value));
            let letters = ByteSet::default().with_range(b'a', b'z');
            prop_assert_eq!(set.is_subset(&letters), value.iter().all(u8::is_ascii_lowercase));
            prop_assert_eq!(set.intersects(&letters), value.iter().any(u8::is_ascii_lowercase));
        }
    }

    #[test]
    fn set_algebra() {
        let digits = ByteSet::default().with_range(b'0', b'9');
        assert!(digits.contains(b'0') && digits.contains(b'9') && !digits.contains(b'a'));
        let odd = digits.without(b"02468");
        assert!(odd.contains(b'7') && !odd.contains(b'8'));
        assert!(odd.is_subset(&digits) && !digits.is_subset(&odd));
        let high = ByteSet::default().with_range(0x80, 0xff);
        assert!(high.contains(0xff) && high.union(digits).contains(b'5'));
        assert!(ByteSet::of(b"").is_empty());
    }
}
