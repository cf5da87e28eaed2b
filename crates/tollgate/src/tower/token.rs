//! Where the layer looks for the token: the `Authorization: Bearer` header (RFC 6750 section
//! 2.1) always; a cookie and a query parameter (RFC 6750 section 2.3) only when configured.

use std::borrow::Cow;

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, Uri};

use crate::challenge::{credentials, AuthScheme};

/// Where a token was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    AuthorizationHeader,
    /// The named cookie ([`JwtLayer::cookie`](super::JwtLayer::cookie)).
    Cookie(String),
    /// The named query parameter ([`JwtLayer::query_param`](super::JwtLayer::query_param)).
    Query(String),
}

/// The optional places, besides the header.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sources {
    pub cookie: Option<String>,
    pub query: Option<String>,
}

/// The outcome of looking for the token.
#[derive(Debug, PartialEq)]
pub(crate) enum Found<'a> {
    /// One token, where it was, and its scheme (`DPoP` only from the header).
    Token(Cow<'a, str>, TokenSource, AuthScheme),
    /// No usable token; why (a sentence, without the header's value).
    Missing(String),
    /// The request is ambiguous (two methods, a repeated parameter): 400 `invalid_request`.
    Conflict(String),
}

impl Sources {
    /// Looks for the token: the `Authorization` header first, then the query parameter, then
    /// the cookie. A bearer header together with the query parameter is a conflict (RFC 6750
    /// section 3.1: one method per request); a cookie is ignored when the header or the
    /// query parameter carries a token, because browsers send cookies on their own.
    pub fn find<'a>(&self, headers: &'a HeaderMap, uri: &'a Uri) -> Found<'a> {
        let values: Vec<&[u8]> = headers
            .get_all(AUTHORIZATION)
            .iter()
            .map(|v| v.as_bytes())
            .collect();
        let header = (!values.is_empty()).then(|| credentials(&values));

        let query = match &self.query {
            Some(name) => match query_value(uri, name) {
                Ok(v) => v,
                Err(conflict) => return Found::Conflict(conflict),
            },
            None => None,
        };
        if let (Some(Ok(_)), Some(_)) = (&header, &query) {
            return Found::Conflict(format!(
                "the request carries a token both in the Authorization header and in the query \
                 parameter {:?}; send it in one place only",
                self.query.as_deref().unwrap_or_default()
            ));
        }
        if let Some(Ok((scheme, token))) = header {
            return Found::Token(
                Cow::Borrowed(token),
                TokenSource::AuthorizationHeader,
                scheme,
            );
        }
        if let (Some(token), Some(name)) = (query, &self.query) {
            return Found::Token(token, TokenSource::Query(name.clone()), AuthScheme::Bearer);
        }
        if let Some(name) = &self.cookie {
            match cookie_value(headers, name) {
                Ok(Some(token)) => {
                    return Found::Token(
                        token,
                        TokenSource::Cookie(name.clone()),
                        AuthScheme::Bearer,
                    )
                }
                Ok(None) => {}
                Err(conflict) => return Found::Conflict(conflict),
            }
        }
        match header {
            Some(Err(why)) => Found::Missing(why),
            _ => Found::Missing(self.nothing_found()),
        }
    }

    fn nothing_found(&self) -> String {
        let mut places = vec!["no Authorization header".to_string()];
        if let Some(c) = &self.cookie {
            places.push(format!("no cookie {c:?}"));
        }
        if let Some(q) = &self.query {
            places.push(format!("no query parameter {q:?}"));
        }
        let last = places.pop().unwrap_or_default();
        let list = if places.is_empty() {
            last
        } else {
            format!("{} and {last}", places.join(", "))
        };
        format!("the request has {list}; send Authorization: Bearer <access token>")
    }
}

/// The value of query parameter `name`, percent-decoded; an error when it appears twice.
fn query_value<'a>(uri: &'a Uri, name: &str) -> Result<Option<Cow<'a, str>>, String> {
    let Some(query) = uri.query() else {
        return Ok(None);
    };
    let mut found = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if crate::text::form_decode(key) != name {
            continue;
        }
        if found.is_some() {
            return Err(format!(
                "the query parameter {name:?} appears more than once; send one token"
            ));
        }
        found = Some(crate::text::form_decode(value));
    }
    Ok(found.filter(|v| !v.is_empty()))
}

/// The value of cookie `name` over every `Cookie` header; an error when it appears twice
/// with different values.
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<Cow<'a, str>>, String> {
    let mut found: Option<&str> = None;
    for header in headers.get_all(COOKIE) {
        let Ok(header) = header.to_str() else {
            continue;
        };
        for pair in header.split(';') {
            let Some((key, value)) = pair.trim().split_once('=') else {
                continue;
            };
            if key.trim() != name {
                continue;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            match found {
                Some(previous) if previous != value => {
                    return Err(format!(
                        "the cookie {name:?} is sent twice with different values; send one token"
                    ))
                }
                _ => found = Some(value),
            }
        }
    }
    Ok(found.filter(|v| !v.is_empty()).map(Cow::Borrowed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn all() -> Sources {
        Sources {
            cookie: Some("at".into()),
            query: Some("access_token".into()),
        }
    }

    #[test]
    fn header_query_and_cookie() {
        let uri: Uri = "/a".parse().unwrap();
        let h = headers(&[("authorization", "BEARER abc")]);
        assert_eq!(
            Sources::default().find(&h, &uri),
            Found::Token(
                "abc".into(),
                TokenSource::AuthorizationHeader,
                AuthScheme::Bearer
            )
        );

        let q: Uri = "/a?x=1&access_token=a%2Eb.c".parse().unwrap();
        assert_eq!(
            all().find(&HeaderMap::new(), &q),
            Found::Token(
                "a.b.c".into(),
                TokenSource::Query("access_token".into()),
                AuthScheme::Bearer
            )
        );
        // Not configured: the query parameter is not looked at.
        assert!(matches!(
            Sources::default().find(&HeaderMap::new(), &q),
            Found::Missing(_)
        ));

        let c = headers(&[("cookie", "theme=dark; at=\"t.o.k\"")]);
        assert_eq!(
            all().find(&c, &uri),
            Found::Token(
                "t.o.k".into(),
                TokenSource::Cookie("at".into()),
                AuthScheme::Bearer
            )
        );
        // The header wins over the cookie; a Basic header does not hide the cookie.
        let hc = headers(&[("cookie", "at=c"), ("authorization", "Bearer h")]);
        assert_eq!(
            all().find(&hc, &uri),
            Found::Token(
                "h".into(),
                TokenSource::AuthorizationHeader,
                AuthScheme::Bearer
            )
        );
        let bc = headers(&[("cookie", "at=c"), ("authorization", "Basic eA==")]);
        assert_eq!(
            all().find(&bc, &uri),
            Found::Token(
                "c".into(),
                TokenSource::Cookie("at".into()),
                AuthScheme::Bearer
            )
        );
    }

    #[test]
    fn ambiguity_and_absence() {
        let q: Uri = "/a?access_token=q".parse().unwrap();
        let h = headers(&[("authorization", "Bearer h")]);
        assert!(matches!(all().find(&h, &q), Found::Conflict(m) if m.contains("both")));
        let qq: Uri = "/a?access_token=q&access_token=r".parse().unwrap();
        assert!(
            matches!(all().find(&HeaderMap::new(), &qq), Found::Conflict(m) if m.contains("more than once"))
        );
        let cc = headers(&[("cookie", "at=a"), ("cookie", "at=b")]);
        let uri: Uri = "/".parse().unwrap();
        assert!(matches!(all().find(&cc, &uri), Found::Conflict(_)));

        assert_eq!(
            all().find(&HeaderMap::new(), &uri),
            Found::Missing("the request has no Authorization header, no cookie \"at\" and no query parameter \"access_token\"; send Authorization: Bearer <access token>".into())
        );
        let basic = headers(&[("authorization", "Basic eA==")]);
        assert!(
            matches!(Sources::default().find(&basic, &uri), Found::Missing(m) if m.contains("\"Basic\" scheme"))
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(crate::text::form_decode("a%2eb+c%zz%4"), "a.b c%zz%4");
        assert_eq!(crate::text::form_decode("plain"), "plain");
    }
}
