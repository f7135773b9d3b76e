//! Pairing claims: how the factory records that whoever reads an appliance's pairing code may
//! pair it, without storing the code. The code (16 base32 characters, 80 random bits, on the
//! appliance's label) is kept nowhere; its SHA-256, lower-case hex, is the thing attribute
//! [`PAIRING_CLAIM_ATTRIBUTE`], which the onboarding service compares with the SHA-256 of the code
//! the app sends. With 80 bits behind it, the digest cannot be reversed by trying codes.

use aws_lc_rs::digest;

/// The thing attribute holding the pairing claim (IoT attribute values allow hex digits, and up
/// to 800 characters).
pub const PAIRING_CLAIM_ATTRIBUTE: &str = "pairing_claim";

/// The base32 alphabet of pairing codes (RFC 4648): no 0/O or 1/I to confuse on a label.
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Characters in a pairing code: 16 × 5 bits = 80 bits.
pub const PAIRING_CODE_LENGTH: usize = 16;

/// The claim the factory records for `code`: its SHA-256 in lower-case hex.
pub fn claim_of(code: &str) -> String {
    digest::digest(&digest::SHA256, code.as_bytes())
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `code` is the one `claim` was recorded for. Compares every character, whatever the
/// first difference, so the time taken says nothing about how close a guess was.
pub fn claim_matches(claim: &str, code: &str) -> bool {
    let expected = claim_of(code);
    expected.len() == claim.len()
        && expected
            .bytes()
            .zip(claim.bytes())
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

/// A pairing code from 10 random bytes (the first 80 bits), as the factory prints it.
pub fn code_from_random(random: [u8; 10]) -> String {
    let mut bits: u128 = 0;
    for byte in random {
        bits = (bits << 8) | u128::from(byte);
    }
    (0..PAIRING_CODE_LENGTH)
        .rev()
        .map(|index| ALPHABET[((bits >> (index * 5)) & 0x1f) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claim_is_the_sha256_of_the_code() {
        // sha256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            claim_of("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn only_the_recorded_code_matches_its_claim() {
        let claim = claim_of("K7QW3ZP2MX4TBN5R");
        assert!(claim_matches(&claim, "K7QW3ZP2MX4TBN5R"));
        assert!(!claim_matches(&claim, "K7QW3ZP2MX4TBN5S"));
        assert!(!claim_matches(&claim, ""));
        assert!(!claim_matches("", "K7QW3ZP2MX4TBN5R"));
        assert!(!claim_matches(&claim[..63], "K7QW3ZP2MX4TBN5R"));
    }

    #[test]
    fn codes_use_every_bit_and_only_the_label_alphabet() {
        assert_eq!(code_from_random([0; 10]), "AAAAAAAAAAAAAAAA");
        assert_eq!(code_from_random([0xff; 10]), "7777777777777777");
        let code = code_from_random([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x0f, 0x1e]);
        assert_eq!(code.len(), PAIRING_CODE_LENGTH);
        assert!(code.bytes().all(|c| ALPHABET.contains(&c)));
        assert_ne!(
            code,
            code_from_random([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x0f, 0x1f])
        );
    }
}
