//! Reading tokens and files given on the command line.

use std::io::Read;

/// Reads the token argument: the value itself, or standard input for `-` or when absent.
/// Accepts a leading `Bearer ` and surrounding whitespace.
pub fn read_token(arg: Option<&str>) -> Result<String, String> {
    let raw = match arg {
        Some("-") | None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("cannot read the token from standard input: {e}"))?;
            s
        }
        Some(t) => t.to_string(),
    };
    let token = tollgate::jws::strip_bearer(&raw).to_string();
    if token.is_empty() {
        return Err("no token given (pass it as an argument or on standard input)".into());
    }
    Ok(token)
}

/// Reads a whole file, with the path in the error.
pub fn read_file(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}
