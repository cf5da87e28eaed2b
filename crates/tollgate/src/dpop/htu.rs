//! The `htu` comparison (RFC 9449 section 4.3, check 9): both URLs parsed by the `url` crate
//! (WHATWG parsing: scheme and host lower-cased, default port dropped, an empty path read as
//! `/`, dot segments resolved), then query and fragment removed and percent-encoded
//! unreserved characters decoded and hex digits upper-cased (RFC 3986 section 6.2.2).
//!
//! What is not normalised, on purpose: a trailing dot in the host (`example.com.` is another
//! name to TLS and to virtual hosting), userinfo (refused), another scheme than `http` or
//! `https`, and encoded reserved characters (`%2F` stays distinct from `/`).

use url::Url;

/// A URL reduced to what `htu` compares: `scheme://host[:port]/path`.
///
/// ```
/// use tollgate::dpop::normalize_htu;
/// assert_eq!(normalize_htu("HTTPS://API.Example.com:443/a/%7euser?q=1#f").unwrap(),
///            "https://api.example.com/a/~user");
/// assert!(normalize_htu("/relative").is_err());
/// ```
pub fn normalize_htu(input: &str) -> Result<String, String> {
    let mut url = Url::parse(input).map_err(|e| format!("not an absolute URL ({e})"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(format!(
            "the scheme {:?} is not http or https",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("it holds user information (user:password@)".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("it has no host".into());
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = normalize_percent(url.path());
    url.set_path(&path);
    Ok(url.to_string())
}

/// Decodes `%XX` that stand for unreserved characters (`A-Z a-z 0-9 - . _ ~`) and upper-cases
/// the hex digits of the others (RFC 3986 sections 6.2.2.1 and 6.2.2.2).
fn normalize_percent(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let (hi, lo) = (bytes[i + 1], bytes[i + 2]);
            if let (Some(h), Some(l)) = (hex_value(hi), hex_value(lo)) {
                let value = h * 16 + l;
                if value.is_ascii_alphanumeric() || b"-._~".contains(&value) {
                    out.push(value);
                } else {
                    out.extend_from_slice(&[
                        b'%',
                        hi.to_ascii_uppercase(),
                        lo.to_ascii_uppercase(),
                    ]);
                }
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    // The `url` crate's paths are ASCII, and only ASCII is decoded: always UTF-8.
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_variants() {
        let base = normalize_htu("https://api.example.com/orders/1").unwrap();
        for same in [
            "https://API.EXAMPLE.COM/orders/1",
            "HTTPS://api.example.com/orders/1",
            "https://api.example.com:443/orders/1",
            "https://api.example.com/orders/1?x=1",
            "https://api.example.com/orders/1#frag",
            "https://api.example.com/%6Frders/1",
            "https://api.example.com/%6frders/1",
            "https://api.example.com/a/../orders/1",
        ] {
            assert_eq!(normalize_htu(same).unwrap(), base, "{same}");
        }
        for other in [
            "http://api.example.com/orders/1",
            "https://api.example.com./orders/1",
            "https://api.example.com:8443/orders/1",
            "https://api.example.com/orders/1/",
            "https://api.example.com/Orders/1",
            "https://api.example.com/orders%2F1",
        ] {
            assert_ne!(normalize_htu(other).unwrap(), base, "{other}");
        }
        assert_eq!(
            normalize_htu("http://h/a%2fb").unwrap(),
            normalize_htu("http://h/a%2Fb").unwrap()
        );
        for bad in ["", "/orders", "ftp://h/", "https://user:pw@h/", "data:,x"] {
            assert!(normalize_htu(bad).is_err(), "{bad}");
        }
        // A lone or truncated percent sign is kept as it is.
        assert_eq!(normalize_htu("http://h/a%").unwrap(), "http://h/a%");
        assert_eq!(normalize_htu("http://h/a%4").unwrap(), "http://h/a%4");
    }
}
