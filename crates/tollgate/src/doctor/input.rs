//! Forgiving token input: whatever people paste (a bare token, `Bearer <t>`, a whole
//! `Authorization:` header line, quotes, line breaks, a JSON token response, a redirect URL
//! with `access_token=`) becomes the token, plus notes saying what was removed.

use serde_json::Value;

/// A token extracted from pasted input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    /// The token itself.
    pub token: String,
    /// What was done to the input, for the report (e.g. "removed the Bearer scheme").
    pub notes: Vec<String>,
}

/// Extracts the token from pasted input.
///
/// ```
/// use tollgate::doctor::input::normalize;
/// let n = normalize("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n").unwrap();
/// assert_eq!(n.token, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
/// let n = normalize(r#"{"access_token": "abc.def.ghi", "token_type": "Bearer"}"#).unwrap();
/// assert_eq!(n.token, "abc.def.ghi");
/// let n = normalize("https://app.example.com/cb#access_token=abc.def.ghi&token_type=Bearer").unwrap();
/// assert_eq!(n.token, "abc.def.ghi");
/// ```
pub fn normalize(input: &str) -> Result<Normalized, String> {
    let mut notes = Vec::new();
    let mut s = input.trim().to_string();
    if s.is_empty() {
        return Err("no token given (pass it as an argument or on standard input)".into());
    }

    // A JSON token response (or a JSON string).
    if s.starts_with('{') {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&s) {
            let found = ["access_token", "token", "id_token", "refresh_token"]
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_str).map(|v| (*k, v)));
            match found {
                Some((key, value)) => {
                    notes.push(format!("took \"{key}\" from a JSON token response"));
                    if key == "id_token" || key == "refresh_token" {
                        notes.push(format!(
                            "the JSON has no access_token; an API expects the access token, not the {}",
                            key.replace('_', " ")
                        ));
                    }
                    s = value.trim().to_string();
                }
                None => {
                    return Err("the input is a JSON object without an access_token member".into())
                }
            }
        }
    }

    // A header line.
    if let Some(rest) = strip_prefix_ci(&s, "authorization:") {
        notes.push("removed the \"Authorization:\" header name".into());
        s = rest.trim().to_string();
    }

    // Quotes (JSON.stringify, shell).
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            s = s[1..s.len() - 1].trim().to_string();
            notes.push("removed surrounding quotes".into());
        }
    }

    // The scheme, possibly doubled.
    let mut schemes = 0;
    while let Some(rest) = strip_prefix_ci(&s, "bearer") {
        if !rest.starts_with(char::is_whitespace) {
            break;
        }
        s = rest.trim().to_string();
        schemes += 1;
    }
    match schemes {
        0 => {}
        1 => notes.push("removed the Bearer scheme".into()),
        n => notes.push(format!(
            "removed the Bearer scheme {n} times: the client sends \"Bearer Bearer ...\""
        )),
    }
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            s = s[1..s.len() - 1].trim().to_string();
            notes.push("removed surrounding quotes".into());
        }
    }

    // A URL or form body with access_token=.
    if let Some(value) = param(&s, "access_token") {
        notes.push("took access_token from a URL or form parameter".into());
        s = value;
    } else if let Some(value) = param(&s, "id_token") {
        notes.push("took id_token from a URL or form parameter (there is no access_token)".into());
        s = value;
    }

    // Line breaks and spaces inside (wrapped copy).
    if s.contains(char::is_whitespace) {
        s.retain(|c| !c.is_whitespace());
        notes.push("removed whitespace and line breaks inside the token".into());
    }
    if s.contains('%') {
        let decoded = percent_decode(&s);
        if decoded != s {
            s = decoded;
            notes.push("percent-decoded the token (it was URL-encoded)".into());
        }
    }
    if s.is_empty() {
        return Err("the input holds no token".into());
    }
    Ok(Normalized { token: s, notes })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix))
    .then(|| &s[prefix.len()..])
}

/// The value of `name=` in a URL query, fragment or form body.
fn param(s: &str, name: &str) -> Option<String> {
    let key = format!("{name}=");
    let mut search = 0;
    while let Some(pos) = s[search..].find(&key) {
        let at = search + pos;
        let boundary = at == 0 || matches!(s.as_bytes()[at - 1], b'?' | b'#' | b'&' | b';');
        if boundary {
            let value = &s[at + key.len()..];
            let end = value.find(['&', '#', ';']).unwrap_or(value.len());
            let v = percent_decode(value[..end].trim());
            return (!v.is_empty()).then_some(v);
        }
        search = at + key.len();
    }
    None
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";

    #[test]
    fn forgiving_forms() {
        let forms = [
            T.to_string(),
            format!("Bearer {T}"),
            format!("bearer   {T}  "),
            format!("Authorization: Bearer {T}"),
            format!("authorization: bearer \"{T}\""),
            format!("\"{T}\""),
            format!("'Bearer {T}'"),
            format!("Bearer Bearer {T}"),
            format!("{}\n{}", &T[..10], &T[10..]),
            format!("{{\"access_token\":\"{T}\",\"expires_in\":3600}}"),
            format!("https://app/cb?code=x&access_token={T}&state=s"),
            format!("https://app/cb#access_token={T}"),
            format!("access_token={T}&token_type=Bearer"),
            T.replace('.', "%2E"),
        ];
        for f in forms {
            let n = normalize(&f).unwrap();
            assert_eq!(n.token, T, "input {f:?}");
        }
        assert!(normalize(&format!("Bearer Bearer {T}")).unwrap().notes[0].contains("2 times"));
        assert!(normalize("   ").is_err());
        assert!(normalize("{\"error\":\"invalid_grant\"}").is_err());
        let n = normalize(&format!("{{\"id_token\":\"{T}\"}}")).unwrap();
        assert!(n.notes.iter().any(|x| x.contains("not the id token")));
    }
}
