//! The one rule for every URL keys are fetched from: `https`, or plain `http` on a loopback
//! host only (for development). The key fetcher, the [`Validator`](crate::Validator) and
//! `tollgate serve`'s configuration all ask [`check_remote_url`].
//!
//! The URL is parsed by the `url` crate (the WHATWG URL standard, as reqwest reads it), so
//! the host checked is the host connected to: `http://127.0.0.1@evil.example/` is refused
//! (credentials), `http://127.0.0.1.nip.io/` is a name, not loopback.

use url::{Host, Url};

use super::fetch::{FetchError, Fetched};

/// Checks that `url` may be fetched: `https`, or plain `http` only on a loopback host: an
/// IP address in `127.0.0.0/8`, `[::1]`, or the name `localhost` (any case; not
/// `localhost.`, which resolvers may send to DNS). Credentials in the URL are refused.
///
/// ```
/// use tollgate::keys::check_remote_url;
/// assert!(check_remote_url("https://login.example.com/.well-known/openid-configuration").is_ok());
/// assert!(check_remote_url("http://127.0.0.1:8080/jwks").is_ok());
/// assert!(check_remote_url("http://login.example.com/jwks").is_err());
/// ```
pub fn check_remote_url(url: &str) -> Result<(), FetchError> {
    parse_remote_url(url).map(|_| ())
}

fn insecure(url: &str, reason: impl Into<String>) -> FetchError {
    FetchError::InsecureUrl {
        what: Fetched::Jwks,
        url: url.to_string(),
        reason: reason.into(),
    }
}

/// [`check_remote_url`], returning the parsed URL.
pub(crate) fn parse_remote_url(url: &str) -> Result<Url, FetchError> {
    let parsed = Url::parse(url).map_err(|e| insecure(url, format!("not a valid URL ({e})")))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(insecure(url, "the URL has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(insecure(url, "credentials in the URL are not allowed"));
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err(insecure(
            url,
            "keys and metadata must be fetched over https (plain http is allowed only on loopback: 127.0.0.0/8, [::1], localhost)",
        )),
        other => Err(insecure(
            url,
            format!("scheme {other:?} is not allowed; use https"),
        )),
    }
}

/// A loopback IP address, or `localhost`. The `url` crate has already lowercased the host
/// and normalised IPv4 forms (`0x7f.1` is `127.0.0.1`).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_or_loopback_http() {
        for ok in [
            "https://idp.example.com/x",
            "http://127.0.0.1:9/x",
            "http://127.0.0.2/",
            "http://localhost:8080/",
            "http://LOCALHOST/jwks",
            "http://[::1]:80/jwks",
            "http://0x7f.1/jwks",
        ] {
            assert!(check_remote_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example.com/x",
            "http://0.0.0.0/jwks",
            "http://localhost./jwks",
            "http://localhost.evil.com/",
            "http://127.0.0.1.nip.io/jwks",
            "http://127.0.0.1@evil.example/jwks",
            "http://user:pw@127.0.0.1/jwks",
            "https://user:pw@idp.example.com/",
            "http://[::ffff:127.0.0.1]/jwks",
            "ftp://idp/x",
            "file:///etc/passwd",
            "not a url",
            "",
        ] {
            assert!(check_remote_url(bad).is_err(), "{bad}");
        }
        let e = check_remote_url("http://idp.example.com/jwks").unwrap_err();
        assert!(e.to_string().contains("https"), "{e}");
    }
}
