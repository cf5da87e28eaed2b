//! The HTTP answer of a refusal, rendered once per (code, sentence) for rejected tokens.
//!
//! A rejected token's answer (status, `WWW-Authenticate`, `X-Tollgate-Error`, JSON body) is
//! the library's [`Challenge`] for its error, and depends only on the error's code and
//! sentence (the fix is the code's). A flood of one refusal (the same altered token, the same
//! unknown kid) therefore builds and serialises it once: later refusals clone the rendered
//! headers and body (reference counts, no copy). At most [`MAX_PREPARED`] answers are kept,
//! each with a sentence of at most [`MAX_KEY_BYTES`] (longer ones are rendered every time);
//! then the cache starts again empty.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use tollgate::challenge::Challenge;

/// The most answers kept.
pub const MAX_PREPARED: usize = 1024;

/// The longest sentence whose answer is kept.
pub const MAX_KEY_BYTES: usize = 512;

/// A challenge rendered as HTTP, ready to be copied into responses.
#[derive(Debug)]
pub struct Prepared {
    /// The challenge it renders.
    pub challenge: Arc<Challenge>,
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl Prepared {
    /// Renders `challenge`.
    pub fn new(challenge: Arc<Challenge>) -> Prepared {
        let status =
            StatusCode::from_u16(challenge.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let headers = challenge
            .headers()
            .into_iter()
            .filter_map(|(name, value)| {
                Some((
                    HeaderName::from_static(name),
                    HeaderValue::from_maybe_shared(Bytes::from(value)).ok()?,
                ))
            })
            .collect();
        let body = Bytes::from(challenge.body_text());
        Prepared {
            challenge,
            status,
            headers,
            body,
        }
    }

    /// The response: status, headers and body, shared with every other copy.
    pub fn response(&self) -> Response {
        let mut response = (self.status, Body::from(self.body.clone())).into_response();
        let h = response.headers_mut();
        for (name, value) in &self.headers {
            h.insert(name.clone(), value.clone());
        }
        response
    }
}

/// Prepared answers by sentence.
#[derive(Debug, Default)]
pub struct RefusalCache {
    answers: Mutex<HashMap<String, Arc<Prepared>>>,
}

impl RefusalCache {
    /// The answer for `code` with `sentence`, from the cache or from `build` (kept when the
    /// sentence is short enough).
    pub fn get_or_build(
        &self,
        code: &str,
        sentence: &str,
        build: impl FnOnce() -> Challenge,
    ) -> Arc<Prepared> {
        if sentence.len() > MAX_KEY_BYTES {
            return Arc::new(Prepared::new(Arc::new(build())));
        }
        if let Some(p) = lock(&self.answers).get(sentence) {
            if p.challenge.code == code {
                return p.clone();
            }
        }
        let prepared = Arc::new(Prepared::new(Arc::new(build())));
        let mut answers = lock(&self.answers);
        if answers.len() >= MAX_PREPARED {
            answers.clear();
        }
        answers.insert(sentence.to_string(), prepared.clone());
        prepared
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate::challenge::ChallengeOptions;
    use tollgate::ValidationError;

    #[test]
    fn a_prepared_answer_is_the_challenge() {
        let err = ValidationError::Expired {
            exp: 1_000,
            now: 1_200,
            leeway: 60,
        };
        let c = ChallengeOptions::new().error(&err);
        let p = Prepared::new(Arc::new(c.clone()));
        let r = p.response();
        assert_eq!(r.status(), 401);
        for (name, value) in c.headers() {
            assert_eq!(r.headers()[name], value);
        }
        assert_eq!(r.headers().len(), c.headers().len());
        assert_eq!(p.body, c.body_text());
    }

    #[test]
    fn answers_are_kept_per_sentence_and_code() {
        let cache = RefusalCache::default();
        let o = ChallengeOptions::new();
        let err = ValidationError::KidMissing {
            candidates: 2,
            alg: "ES256".into(),
        };
        let s = err.to_string();
        let mut builds = 0;
        for _ in 0..3 {
            cache.get_or_build(err.code(), &s, || {
                builds += 1;
                o.error(&err)
            });
        }
        assert_eq!(builds, 1);
        // same sentence, another code: not mistaken
        let p = cache.get_or_build("missing_token", &s, || o.missing_token(&s));
        assert_eq!(p.challenge.code, "missing_token");
        // bounded
        for i in 0..(MAX_PREPARED * 2) {
            cache.get_or_build("x", &i.to_string(), || o.missing_token("x"));
        }
        assert!(lock(&cache.answers).len() <= MAX_PREPARED);
    }
}
