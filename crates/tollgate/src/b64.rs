//! Strict base64url (RFC 7515 section 2): URL-safe alphabet, no padding, no whitespace,
//! no non-canonical trailing bits.
//!
//! One language, two readers: a fast table-driven decoder that only accepts
//! (`decode_fast`), and the `base64` crate's strict decoder, asked only when the fast one
//! refuses, to say what is wrong ([`Base64Error`]). Property tests check that both accept
//! exactly the same inputs with the same bytes.

use std::borrow::Cow;
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Why a text is not strict base64url. `Display` is a fragment that follows what was being
/// decoded (`member "n" is not base64url: ...`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Base64Error {
    /// A character outside the base64url alphabet (padding `=`, `+` or `/` from standard
    /// base64, whitespace, any other character or byte) at `offset`.
    InvalidByte {
        /// Where, in bytes from the start.
        offset: usize,
        /// The byte found.
        byte: u8,
    },
    /// A length no base64 text has (`4n + 1` characters).
    InvalidLength {
        /// The length found, in characters.
        len: usize,
    },
    /// The final character carries bits that are not zero (a non-canonical encoding).
    NonCanonical {
        /// Where the final character is.
        offset: usize,
    },
    /// Padding, which base64url in JWS never has.
    Padding,
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Base64Error::InvalidByte { offset, byte: b } => {
                f.write_str("is not base64url: ")?;
                match b {
                    b'=' => f.write_str("padding '=' (base64url in JWS has none)")?,
                    b'+' | b'/' => write!(
                        f,
                        "{:?} from the standard base64 alphabet, not base64url",
                        b as char
                    )?,
                    b' ' | b'\n' | b'\r' | b'\t' => f.write_str("whitespace")?,
                    _ if b.is_ascii_graphic() => write!(f, "the character {:?}", b as char)?,
                    _ => write!(f, "the byte 0x{b:02x}")?,
                }
                write!(f, " at offset {offset}")
            }
            Base64Error::InvalidLength { len } => {
                write!(
                    f,
                    "is not base64url: a length of {len} characters is impossible"
                )
            }
            Base64Error::NonCanonical { offset } => {
                write!(
                    f,
                    "is not base64url: non-canonical final character at offset {offset}"
                )
            }
            Base64Error::Padding => f.write_str("is not base64url: padding is not allowed"),
        }
    }
}

impl std::error::Error for Base64Error {}

/// Decodes strict base64url.
#[inline]
pub fn decode(input: &str) -> Result<Vec<u8>, Base64Error> {
    decode_bytes(input.as_bytes())
}

/// Decodes strict base64url from bytes.
#[inline]
pub fn decode_bytes(input: &[u8]) -> Result<Vec<u8>, Base64Error> {
    let mut out = vec![0u8; decoded_len(input.len())];
    match decode_fast(input, &mut out) {
        Some(n) => {
            out.truncate(n);
            Ok(out)
        }
        None => strict(input),
    }
}

/// Decodes into `buf` when the result fits (no allocation), otherwise into a new vector.
#[inline]
pub(crate) fn decode_in<'b>(input: &str, buf: &'b mut [u8]) -> Result<Cow<'b, [u8]>, Base64Error> {
    match decode_fast(input.as_bytes(), buf) {
        Some(n) => Ok(Cow::Borrowed(&buf[..n])),
        None => decode(input).map(Cow::Owned),
    }
}

/// Encodes as base64url without padding.
pub fn encode(input: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(input)
}

/// The strict decoder, which words what is wrong.
fn strict(input: &[u8]) -> Result<Vec<u8>, Base64Error> {
    URL_SAFE_NO_PAD.decode(input).map_err(|e| match e {
        base64::DecodeError::InvalidByte(offset, byte) => Base64Error::InvalidByte { offset, byte },
        base64::DecodeError::InvalidLength(len) => Base64Error::InvalidLength { len },
        base64::DecodeError::InvalidLastSymbol(offset, _) => Base64Error::NonCanonical { offset },
        base64::DecodeError::InvalidPadding => Base64Error::Padding,
    })
}

/// Marks a byte outside the alphabet; every valid value is below 64, this has the top
/// bits set.
const INVALID: u8 = 0xff;

/// The 6-bit value of each base64url character; [`INVALID`] for every other byte.
static VALUE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// `VALUE` shifted into place for each position of a group of four characters
/// (18, 12, 6, 0 bits); an invalid character is `0xff00_0000`.
static SHIFTED: [[u32; 256]; 4] = {
    let mut t = [[0u32; 256]; 4];
    let mut pos = 0;
    while pos < 4 {
        let mut c = 0;
        while c < 256 {
            let v = VALUE[c];
            t[pos][c] = if v == INVALID {
                0xff00_0000
            } else {
                (v as u32) << (18 - 6 * pos)
            };
            c += 1;
        }
        pos += 1;
    }
    t
};

/// The decoded length of `len` characters of unpadded base64 (exact except when
/// `len % 4 == 1`, which is never valid).
#[inline]
fn decoded_len(len: usize) -> usize {
    len / 4 * 3 + (len % 4) * 3 / 4
}

/// The fast decoder: `input` into the front of `out`, returning the length; `None` when
/// `input` is not strict base64url or `out` is too small. Four characters to three bytes
/// at a time, through tables of pre-shifted values (independent loads OR-ed instead of a
/// chain of shifts). It only accepts; the strict decoder says what is wrong.
#[inline]
pub(crate) fn decode_fast(input: &[u8], out: &mut [u8]) -> Option<usize> {
    if input.len() % 4 == 1 {
        return None;
    }
    let n = decoded_len(input.len());
    let out = out.get_mut(..n)?;
    // Every value looked up is or-ed in here: one check at the end finds any invalid
    // character.
    let mut seen = 0u8;
    let quads = input.len() / 4;
    let (body_in, tail_in) = input.split_at(quads * 4);
    let (body_out, tail_out) = out.split_at_mut(quads * 3);
    // Four characters to three bytes: four lookups in tables of pre-shifted values,
    // OR-ed (independent, so they run in parallel); an invalid character sets the top
    // byte, collected in `seen_word`.
    let mut seen_word = 0u32;
    for (chars, bytes) in body_in.chunks_exact(4).zip(body_out.chunks_exact_mut(3)) {
        let w = SHIFTED[0][chars[0] as usize]
            | SHIFTED[1][chars[1] as usize]
            | SHIFTED[2][chars[2] as usize]
            | SHIFTED[3][chars[3] as usize];
        seen_word |= w;
        bytes.copy_from_slice(&w.to_be_bytes()[1..]);
    }
    if seen_word >> 24 != 0 {
        return None;
    }
    // At most three characters left: none, two or three.
    let mut acc = 0u64;
    for &c in tail_in {
        let v = VALUE[c as usize];
        seen |= v;
        acc = acc << 6 | u64::from(v & 0x3f);
    }
    if seen & 0xc0 != 0 {
        return None;
    }
    let bits = tail_in.len() * 6;
    let spare = bits % 8;
    // The final character's unused low bits must be zero (canonical encoding).
    if acc & ((1 << spare) - 1) != 0 {
        return None;
    }
    let acc = acc >> spare;
    let len = bits / 8;
    for (i, b) in tail_out.iter_mut().enumerate().take(len) {
        *b = (acc >> (8 * (len - 1 - i))) as u8;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_errors() {
        let e = |s: &str| decode(s).unwrap_err().to_string();
        assert_eq!(decode("YQ").unwrap(), b"a");
        assert!(e("YQ==").contains("padding"));
        assert!(e("Y+").contains("standard base64"));
        assert!(e("YR").contains("non-canonical"));
        assert!(decode("Y Q").is_err());
        assert_eq!(encode(b"a"), "YQ");
    }

    fn fast(s: &str) -> Option<Vec<u8>> {
        let mut out = vec![0u8; decoded_len(s.len())];
        decode_fast(s.as_bytes(), &mut out).map(|n| out[..n].to_vec())
    }

    fn agree(s: &str) {
        match (fast(s), strict(s.as_bytes())) {
            (Some(v), Ok(w)) => assert_eq!(v, w, "{s:?}"),
            (None, Err(_)) => {}
            (f, c) => panic!("{s:?}: fast {f:?}, strict {c:?}"),
        }
    }

    #[test]
    fn agrees_on_edges() {
        for s in [
            "",
            "A",
            "AA",
            "AQ",
            "AB",
            "AAA",
            "AAE",
            "AAB",
            "AAAA",
            "YQ",
            "YR",
            "YQ==",
            "Y+",
            "Y/",
            "Y Q",
            "-_-_",
            "_w",
            "_x",
            "\u{e9}AAA",
            "AAAA\n",
            "AAAAAAAA",
            "AAAAAAAAA",
            "AAAAAAAAAQ",
            "AAAAAAAAAR",
            "AAAAAAAAAAE",
            "AAAAAAAAAAF",
            "AAAAAAAAAAAA",
            "AAAAAAAAAAAAAQ",
            "AAAAAAAAAAAAAAE",
            "AAAAAAA=",
            "AAAA+AAA",
        ] {
            agree(s);
        }
        let mut small = [0u8; 2];
        assert_eq!(decode_fast(b"AAAA", &mut small), None);
    }

    proptest::proptest! {
        /// Accepts exactly what the strict decoder accepts, with the same bytes.
        #[test]
        fn agrees_with_the_strict_decoder(s in "[A-Za-z0-9_=+/ -]{0,40}") {
            agree(&s);
        }

        /// Near-valid input: valid text with one character changed.
        #[test]
        fn agrees_on_one_wrong_character(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            at in proptest::num::usize::ANY,
            c in proptest::sample::select(vec!['=', '+', '/', ' ', 'A', 'B', 'Q', 'w', '_', '\u{e9}']),
        ) {
            let mut s: Vec<char> = encode(&bytes).chars().collect();
            if !s.is_empty() {
                let i = at % s.len();
                s[i] = c;
            }
            agree(&s.into_iter().collect::<String>());
        }

        #[test]
        fn round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..100)) {
            let s = encode(&bytes);
            proptest::prop_assert_eq!(fast(&s), Some(bytes));
        }
    }
}
