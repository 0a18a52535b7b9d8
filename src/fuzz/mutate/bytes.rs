//! Byte-level havoc: bit flips, inserted and deleted runs, truncation; the fallback mutator.

use rand::Rng;
use rand::rngs::StdRng;

/// Applies 1 to 4 random havoc operations to `b`; returns the operation names.
pub fn havoc(b: &mut Vec<u8>, rng: &mut StdRng) -> &'static str {
    let ops = rng.random_range(1..=4);
    let mut last = "bit-flip";
    for _ in 0..ops {
        last = match rng.random_range(0..5) {
            0 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] ^= 1 << rng.random_range(0..8);
                "bit-flip"
            }
            1 => {
                let at = rng.random_range(0..=b.len());
                let n = rng.random_range(1..=8);
                let ins: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                b.splice(at..at, ins);
                "insert"
            }
            2 if b.len() > 1 => {
                let at = rng.random_range(0..b.len());
                let n = rng.random_range(1..=(b.len() - at).min(8));
                b.drain(at..at + n);
                "delete"
            }
            3 if b.len() > 1 => {
                b.truncate(rng.random_range(1..b.len()));
                "truncate"
            }
            _ if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] = [0x00, 0xff, 0x7f, 0x80][rng.random_range(0..4)];
                "interesting-byte"
            }
            _ => last,
        };
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn havoc_changes_the_bytes_deterministically() {
        let orig = vec![0x30, 0x05, 0x00, 0x01, b'a', b'h', b'i'];
        let run = |seed| {
            let mut b = orig.clone();
            let mut rng = StdRng::seed_from_u64(seed);
            havoc(&mut b, &mut rng);
            b
        };
        assert_eq!(run(7), run(7));
        assert!((0..20).any(|s| run(s) != orig));
    }
}
