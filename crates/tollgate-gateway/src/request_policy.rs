//! The strict request policy: what a request must look like before any rule is applied, in
//! both modes (reverse proxy and forward-auth).
//!
//! An authorization gateway decides on its own reading of the request; the upstream acts on
//! its reading. Whenever the two could differ, a request could match a lenient rule here and
//! a protected handler there. The policy therefore refuses (400, with a stable code) every
//! request that some common server reads differently from Tollgate, in the spirit of Spring
//! Security's `StrictHttpFirewall`: it never guesses which reading the upstream uses.
//!
//! | code | refused | why |
//! |---|---|---|
//! | `method_not_canonical` | a method with a lower-case letter (`post`, `Delete`), in the request line or the forwarded method | Werkzeug, Rack and others upper-case the method, so `post` runs the POST handler while a rule for `POST` would not apply |
//! | `method_override` | `X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override` or a `_method` query parameter naming another method | frameworks (Express `method-override`, Rails, Laravel, ASP.NET) run the overriding method's handler |
//! | `path_not_absolute` | a target that does not start with `/` | there is no path to match rules against |
//! | `fragment_in_uri` | `#` in the target or the forwarded URI | a fragment is never sent by clients; a proxy or upstream may cut at it, or not |
//! | `bad_percent_encoding` | `%` not followed by two hex digits | servers repair or reject it differently |
//! | `encoded_percent` | `%25` | a server that decodes twice reads `%252e%252e` as `..` |
//! | `encoded_separator` | `%2F`, `%5C`, `%2E` | some servers decode them before routing (`%2F` becomes a segment break, `%2E%2E` a parent) and some do not |
//! | `path_parameter` | `;` or `%3B` in the path | Tomcat, Jetty and Spring drop `;params` from segments (`/admin;x/` is `/admin/` there) |
//! | `forbidden_character` | `\`, control characters, bytes that are not UTF-8 once decoded | Windows servers read `\` as `/`; controls split log lines and headers |
//! | `dot_segment` | `.` or `..` segments | the upstream resolves them, the rule would not |
//! | `empty_segment` | `//` | some servers merge slashes, some route `//x` elsewhere |
//! | `trailing_dot_or_space` | a segment ending in `.` or a space (`/admin./x`, `/admin%20/x`) | Windows servers (IIS, http.sys) drop them, so `/admin.` is `/admin` there |
//! | `case_variant` | a path that matches a route prefix only when letter case is ignored (`/ADMIN/x` with a route `/admin/`) | ASP.NET Core and Express route case-insensitively; set `case_insensitive_paths = true` if the upstream does, and rules then match ignoring case |
//!
//! Forward-auth adds the checks of the forwarded request itself (see `forward_auth`):
//! `missing_original_uri`, `missing_original_method`, `conflicting_forwarded_headers`,
//! `identity_header_in_request`, `connection_names_protected_header` and
//! `untrusted_forwarder`.

use http::{HeaderMap, Method};
use tollgate::text::form_decode;

/// Why a request was refused by the request policy (400), before any rule was applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Violation {
    /// The method has a lower-case letter.
    MethodNotCanonical,
    /// A method-override header or `_method` parameter names another method.
    MethodOverride,
    /// The target does not start with `/`.
    PathNotAbsolute,
    /// `#` in the target.
    FragmentInUri,
    /// `%` not followed by two hex digits.
    BadPercentEncoding,
    /// `%25`.
    EncodedPercent,
    /// `%2F`, `%5C` or `%2E`.
    EncodedSeparator,
    /// `;` or `%3B` in the path.
    PathParameter,
    /// `\`, a control character, or bytes that are not UTF-8 once decoded.
    ForbiddenCharacter,
    /// A `.` or `..` segment.
    DotSegment,
    /// An empty segment (`//`).
    EmptySegment,
    /// A segment ending in `.` or a space.
    TrailingDotOrSpace,
    /// The path matches a route only when letter case is ignored.
    CaseVariant,
    /// Forward-auth: no original URI header.
    MissingOriginalUri,
    /// Forward-auth: no original method header while rules depend on the method.
    MissingOriginalMethod,
    /// Forward-auth: an original method or URI header repeated, or two that disagree.
    ConflictingForwardedHeaders,
    /// Forward-auth: the request carries a spelling of an identity header.
    IdentityHeaderInRequest,
    /// Forward-auth: `Connection` names an identity header or `Authorization`.
    ConnectionNamesProtectedHeader,
    /// Forwarded headers from a peer outside `trusted_proxies`.
    UntrustedForwarder,
}

impl Violation {
    /// Every violation, in the order of the gateway README's request policy table.
    pub const ALL: [Violation; 19] = [
        Violation::MethodNotCanonical,
        Violation::MethodOverride,
        Violation::PathNotAbsolute,
        Violation::FragmentInUri,
        Violation::BadPercentEncoding,
        Violation::EncodedPercent,
        Violation::EncodedSeparator,
        Violation::PathParameter,
        Violation::ForbiddenCharacter,
        Violation::DotSegment,
        Violation::EmptySegment,
        Violation::TrailingDotOrSpace,
        Violation::CaseVariant,
        Violation::MissingOriginalUri,
        Violation::MissingOriginalMethod,
        Violation::ConflictingForwardedHeaders,
        Violation::IdentityHeaderInRequest,
        Violation::ConnectionNamesProtectedHeader,
        Violation::UntrustedForwarder,
    ];

    /// The stable code (metrics label, `X-Tollgate-Error`, body `code`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Violation::MethodNotCanonical => "method_not_canonical",
            Violation::MethodOverride => "method_override",
            Violation::PathNotAbsolute => "path_not_absolute",
            Violation::FragmentInUri => "fragment_in_uri",
            Violation::BadPercentEncoding => "bad_percent_encoding",
            Violation::EncodedPercent => "encoded_percent",
            Violation::EncodedSeparator => "encoded_separator",
            Violation::PathParameter => "path_parameter",
            Violation::ForbiddenCharacter => "forbidden_character",
            Violation::DotSegment => "dot_segment",
            Violation::EmptySegment => "empty_segment",
            Violation::TrailingDotOrSpace => "trailing_dot_or_space",
            Violation::CaseVariant => "case_variant",
            Violation::MissingOriginalUri => "missing_original_uri",
            Violation::MissingOriginalMethod => "missing_original_method",
            Violation::ConflictingForwardedHeaders => "conflicting_forwarded_headers",
            Violation::IdentityHeaderInRequest => "identity_header_in_request",
            Violation::ConnectionNamesProtectedHeader => "connection_names_protected_header",
            Violation::UntrustedForwarder => "untrusted_forwarder",
        }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused request: the violation and one sentence saying what was found and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// Which rule.
    pub violation: Violation,
    /// What was found, why it is refused, and the fix.
    pub description: String,
}

impl Refused {
    pub(crate) fn new(violation: Violation, description: impl Into<String>) -> Refused {
        Refused {
            violation,
            description: description.into(),
        }
    }
}

/// A client-chosen value, cut and escaped for a message.
fn shown(value: &str) -> tollgate::text::Cut<'_> {
    tollgate::text::cut(value)
}

/// Checks the method: a token without lower-case letters (`GET`, `POST`, `M-SEARCH`).
///
/// ```
/// use http::Method;
/// use tollgate_gateway::request_policy::check_method;
/// assert!(check_method(&Method::POST).is_ok());
/// assert!(check_method(&Method::from_bytes(b"post").unwrap()).is_err());
/// assert!(check_method(&Method::from_bytes(b"M-SEARCH").unwrap()).is_ok());
/// ```
pub fn check_method(method: &Method) -> Result<(), Refused> {
    if method.as_str().bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(Refused::new(
            Violation::MethodNotCanonical,
            format!(
                "the method {:?} has lower-case letters; HTTP methods are case-sensitive and some servers upper-case them, so send it as {:?}",
                shown(method.as_str()),
                shown(&method.as_str().to_ascii_uppercase())
            ),
        ));
    }
    Ok(())
}

/// Headers that frameworks read as the "real" method of a POST.
pub const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Refuses a method override (header, or `_method` in the query) that names another method
/// than `method`: the upstream could run that method's handler under this method's rule.
pub fn check_method_override(
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(), Refused> {
    let refuse = |source: &str, value: &str| {
        Refused::new(
            Violation::MethodOverride,
            format!(
                "{source} asks for method {:?} on a {method} request; frameworks that honour it would run another handler than the rule checked for; send the request with the method itself",
                shown(value)
            ),
        )
    };
    for name in METHOD_OVERRIDE_HEADERS {
        for v in headers.get_all(name) {
            let text = String::from_utf8_lossy(v.as_bytes());
            if text.trim() != method.as_str() {
                return Err(refuse(name, &text));
            }
        }
    }
    if let Some(query) = query {
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if form_decode(k).eq_ignore_ascii_case("_method") && form_decode(v) != method.as_str() {
                return Err(refuse("the query parameter _method", v));
            }
        }
    }
    Ok(())
}

/// The origin form (`/a/b?q`) of a request target: an absolute `http://host/a/b?q` loses
/// its scheme and host. The one reading of a target for the rules and for the DPoP `htu`
/// ([`crate::sender::Sender::url_of`]), so a proof is checked against the path the rules
/// matched.
pub(crate) fn origin_form(target: &str) -> &str {
    match target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        Some(rest) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => target,
    }
}

/// Normalizes a request target (`/a/b?q`, or an absolute `http://host/a/b`) to the decoded
/// path the rules are matched against (query dropped, unreserved `%XX` decoded), or refuses
/// it by the policy of this module.
///
/// ```
/// use tollgate_gateway::request_policy::{normalize_path, Violation};
/// assert_eq!(normalize_path("/orders/42?x=1").unwrap(), "/orders/42");
/// assert_eq!(normalize_path("/%6Frders/").unwrap(), "/orders/");
/// assert_eq!(normalize_path("/public/../orders/1").unwrap_err().violation, Violation::DotSegment);
/// assert_eq!(normalize_path("/admin;x/1").unwrap_err().violation, Violation::PathParameter);
/// assert_eq!(normalize_path("/%252e%252e/x").unwrap_err().violation, Violation::EncodedPercent);
/// ```
pub fn normalize_path(target: &str) -> Result<String, Refused> {
    let mut path = origin_form(target);
    if path.contains('#') {
        return Err(Refused::new(
            Violation::FragmentInUri,
            format!(
                "the request target {:?} has a '#'; clients never send fragments, and servers disagree on where such a path ends; encode it as %23 if it belongs to the path",
                shown(path)
            ),
        ));
    }
    if let Some(i) = path.find('?') {
        path = &path[..i];
    }
    if path.is_empty() {
        return Ok("/".into());
    }
    if !path.starts_with('/') {
        return Err(Refused::new(
            Violation::PathNotAbsolute,
            format!(
                "the request path must start with '/', found {:?}",
                shown(path)
            ),
        ));
    }
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b';' {
            return Err(path_parameter(path));
        }
        if b != b'%' {
            decoded.push(b);
            i += 1;
            continue;
        }
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        let Some(c) = hex else {
            return Err(Refused::new(
                Violation::BadPercentEncoding,
                format!(
                    "the request path {:?} has a '%' not followed by two hex digits; send valid percent-encodings only (a literal '%' cannot be sent: %25 is refused too)",
                    shown(path)
                ),
            ));
        };
        match c {
            b'%' => {
                return Err(Refused::new(
                    Violation::EncodedPercent,
                    format!(
                        "the request path {:?} has an encoded '%' (%25); a server that decodes twice would read another path than the rules; send the path without it",
                        shown(path)
                    ),
                ))
            }
            b'/' | b'\\' | b'.' => {
                return Err(Refused::new(
                    Violation::EncodedSeparator,
                    format!(
                        "the request path {:?} has an encoded {:?} (%{c:02X}), which some servers decode before routing and some do not; send it unencoded",
                        shown(path),
                        c as char
                    ),
                ))
            }
            b';' => return Err(path_parameter(path)),
            _ => {}
        }
        decoded.push(c);
        i += 3;
    }
    let Ok(decoded) = String::from_utf8(decoded) else {
        return Err(Refused::new(
            Violation::ForbiddenCharacter,
            format!(
                "the request path {:?} is not UTF-8 once decoded",
                shown(path)
            ),
        ));
    };
    if decoded.contains('\\') || decoded.chars().any(char::is_control) {
        return Err(Refused::new(
            Violation::ForbiddenCharacter,
            format!(
                "the request path {:?} holds a '\\' or a control character, which servers read differently",
                shown(path)
            ),
        ));
    }
    let mut segments = decoded.split('/').skip(1).peekable();
    while let Some(segment) = segments.next() {
        if segment == "." || segment == ".." {
            return Err(Refused::new(
                Violation::DotSegment,
                format!(
                    "the request path {:?} has a {segment:?} segment; send the resolved path",
                    shown(path)
                ),
            ));
        }
        if segment.ends_with(['.', ' ']) {
            return Err(Refused::new(
                Violation::TrailingDotOrSpace,
                format!(
                    "the request path {:?} has a segment ending in '.' or a space, which Windows servers drop (/admin. is /admin there); send the path without it",
                    shown(path)
                ),
            ));
        }
        // An empty last segment is the trailing slash of `/orders/`.
        if segment.is_empty() && segments.peek().is_some() {
            return Err(Refused::new(
                Violation::EmptySegment,
                format!(
                    "the request path {:?} has an empty segment ('//'); some servers merge slashes and some do not; send single slashes",
                    shown(path)
                ),
            ));
        }
    }
    Ok(decoded)
}

fn path_parameter(path: &str) -> Refused {
    Refused::new(
        Violation::PathParameter,
        format!(
            "the request path {:?} has a ';' (or %3B); Tomcat, Jetty and Spring read it as path parameters and route without them; send the path without ';'",
            shown(path)
        ),
    )
}

/// Folds letter case the way case-insensitive servers compare (upper-case then lower-case,
/// so `ſ`, `K` (Kelvin) and `ß` meet their ASCII look-alikes); ASCII stays cheap.
pub fn fold_case(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars()
        .flat_map(char::to_uppercase)
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn violation(target: &str) -> Violation {
        normalize_path(target)
            .map(|p| panic!("{target:?} was accepted as {p:?}"))
            .unwrap_err()
            .violation
    }

    #[test]
    fn each_ambiguous_spelling_has_its_code() {
        use Violation::*;
        for (target, want) in [
            ("/a/../b", DotSegment),
            ("/a/./b", DotSegment),
            ("/..", DotSegment),
            ("/public/..;/orders/x", PathParameter),
            ("/public/..%3b/orders/x", PathParameter),
            ("/public/..%3B/orders/x", PathParameter),
            ("/admin;/x", PathParameter),
            ("/admin;jsessionid=1/x", PathParameter),
            ("/admin%3b/x", PathParameter),
            ("/orders;x/1", PathParameter),
            ("/public/%252e%252e/orders/x", EncodedPercent),
            ("/%25", EncodedPercent),
            ("/public/#/../../orders/x", FragmentInUri),
            ("/a#", FragmentInUri),
            ("/a%2fb", EncodedSeparator),
            ("/a%2Fb", EncodedSeparator),
            ("/a%5cb", EncodedSeparator),
            ("/%2e%2e/x", EncodedSeparator),
            ("/%2E/x", EncodedSeparator),
            ("/a\\b", ForbiddenCharacter),
            ("/a%0a", ForbiddenCharacter),
            ("/a%00b", ForbiddenCharacter),
            ("/a%ff", ForbiddenCharacter),
            ("/a%zz", BadPercentEncoding),
            ("/a%4", BadPercentEncoding),
            ("/a%+1", BadPercentEncoding),
            ("relative", PathNotAbsolute),
            ("//admin/x", EmptySegment),
            ("/admin//x", EmptySegment),
            ("/admin./x", TrailingDotOrSpace),
            ("/admin%2E/x", EncodedSeparator),
            ("/admin%20/x", TrailingDotOrSpace),
            ("/admin /x", TrailingDotOrSpace),
            ("/admin...", TrailingDotOrSpace),
            ("/x/report.", TrailingDotOrSpace),
        ] {
            assert_eq!(violation(target), want, "{target}");
        }
    }

    #[test]
    fn plain_paths_are_kept() {
        assert_eq!(normalize_path("").unwrap(), "/");
        assert_eq!(normalize_path("/").unwrap(), "/");
        assert_eq!(normalize_path("/a/b/").unwrap(), "/a/b/");
        assert_eq!(normalize_path("http://h:1/x?y").unwrap(), "/x");
        assert_eq!(normalize_path("/a%20b").unwrap(), "/a b");
        assert_eq!(normalize_path("/a..b/c.d").unwrap(), "/a..b/c.d");
        assert_eq!(
            normalize_path("/x?a=;&b=%25#").unwrap_err().violation,
            Violation::FragmentInUri
        );
        assert_eq!(normalize_path("/x?a=;&b=%25").unwrap(), "/x");
        assert_eq!(normalize_path("/caf%C3%A9").unwrap(), "/café");
    }

    #[test]
    fn methods_must_be_canonical() {
        for m in ["post", "Post", "pOST", "delete", "get", "m-search"] {
            let m = Method::from_bytes(m.as_bytes()).unwrap();
            assert_eq!(
                check_method(&m).unwrap_err().violation,
                Violation::MethodNotCanonical
            );
        }
        for m in ["GET", "PATCH", "M-SEARCH", "PROPFIND"] {
            assert!(check_method(&Method::from_bytes(m.as_bytes()).unwrap()).is_ok());
        }
    }

    #[test]
    fn method_overrides_must_agree() {
        let mut h = HeaderMap::new();
        assert!(check_method_override(&Method::POST, &h, None).is_ok());
        h.insert("x-http-method-override", HeaderValue::from_static("POST"));
        assert!(check_method_override(&Method::POST, &h, None).is_ok());
        // A second copy naming another method is refused, whichever comes first.
        h.append("x-http-method-override", HeaderValue::from_static("DELETE"));
        assert!(check_method_override(&Method::POST, &h, None).is_err());
        let mut h = HeaderMap::new();
        h.insert("x-http-method-override", HeaderValue::from_static("post"));
        assert!(check_method_override(&Method::POST, &h, None).is_err());
        for name in METHOD_OVERRIDE_HEADERS {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static("DELETE"));
            assert_eq!(
                check_method_override(&Method::POST, &h, None)
                    .unwrap_err()
                    .violation,
                Violation::MethodOverride
            );
        }
        let h = HeaderMap::new();
        for q in [
            "_method=DELETE",
            "a=1&_method=delete",
            "%5Fmethod=PUT",
            "_METHOD=PUT",
        ] {
            assert!(
                check_method_override(&Method::POST, &h, Some(q)).is_err(),
                "{q}"
            );
        }
        assert!(check_method_override(&Method::POST, &h, Some("_method=POST&x=1")).is_ok());
        assert!(check_method_override(&Method::POST, &h, Some("method=DELETE")).is_ok());
    }

    #[test]
    fn case_folding_meets_look_alikes() {
        assert_eq!(fold_case("/ADMIN/x"), "/admin/x");
        assert_eq!(fold_case("/\u{212A}ey"), "/key");
        assert_eq!(fold_case("/\u{17F}ecret"), "/secret");
    }

    #[test]
    fn codes_are_unique_and_listed_once() {
        let mut codes: Vec<_> = Violation::ALL.iter().map(|v| v.as_str()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), Violation::ALL.len());
    }
}
