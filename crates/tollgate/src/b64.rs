//! Strict base64url (RFC 7515 section 2): URL-safe alphabet, no padding, no whitespace,
//! no non-canonical trailing bits.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Decodes strict base64url.
pub fn decode(input: &str) -> Result<Vec<u8>, String> {
    decode_bytes(input.as_bytes())
}

/// Decodes strict base64url from bytes.
pub fn decode_bytes(input: &[u8]) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD.decode(input).map_err(describe)
}

/// Encodes as base64url without padding.
pub fn encode(input: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(input)
}

fn describe(e: base64::DecodeError) -> String {
    use base64::DecodeError::*;
    match e {
        InvalidByte(pos, b) => {
            let what = match b {
                b'=' => "padding '=' (base64url in JWS has none)".to_string(),
                b'+' | b'/' => format!(
                    "{:?} from the standard base64 alphabet, not base64url",
                    b as char
                ),
                b' ' | b'\n' | b'\r' | b'\t' => "whitespace".to_string(),
                _ if b.is_ascii_graphic() => format!("the character {:?}", b as char),
                _ => format!("the byte 0x{b:02x}"),
            };
            format!("is not base64url: {what} at offset {pos}")
        }
        InvalidLength(n) => format!("is not base64url: a length of {n} characters is impossible"),
        InvalidLastSymbol(pos, _) => {
            format!("is not base64url: non-canonical final character at offset {pos}")
        }
        InvalidPadding => "is not base64url: padding is not allowed".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict() {
        assert_eq!(decode("YQ").unwrap(), b"a");
        assert!(decode("YQ==").unwrap_err().contains("padding"));
        assert!(decode("Y+").unwrap_err().contains("standard base64"));
        assert!(decode("YR").unwrap_err().contains("non-canonical"));
        assert!(decode("Y Q").is_err());
        assert_eq!(encode(b"a"), "YQ");
    }
}
