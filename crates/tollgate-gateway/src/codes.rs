//! The gateway's own decision codes, written once: the outcomes and refusals that are not
//! a token's (`ValidationError::code`) or the request policy's
//! ([`Violation`](crate::request_policy::Violation)). Metrics labels, `X-Tollgate-Error`,
//! body `code` and log lines all come from here, so a typo is a compile error.

/// A decision code of the gateway itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GatewayCode {
    /// Allowed, with a verified token.
    Ok,
    /// Allowed, anonymous route.
    Anonymous,
    /// No `Authorization: Bearer` header (401).
    MissingToken,
    /// Valid token without a scope the route requires (403).
    InsufficientScope,
    /// Valid token without a role the route requires (403).
    InsufficientRole,
    /// Valid token whose claim does not have the value the route requires (403).
    ClaimMismatch,
    /// Valid token from an issuer the route does not accept (403).
    IssuerNotAllowed,
    /// No route matches: denied by default (403).
    NoRoute,
    /// A malformed request outside the request policy's own codes (400).
    InvalidRequest,
    /// Reverse proxy: the upstream did not answer (502).
    UpstreamUnavailable,
    /// Reverse proxy: the upstream did not answer in time (504).
    UpstreamTimeout,
}

impl GatewayCode {
    /// Every code, in the order of the gateway README.
    pub const ALL: [GatewayCode; 11] = [
        GatewayCode::Ok,
        GatewayCode::Anonymous,
        GatewayCode::MissingToken,
        GatewayCode::InsufficientScope,
        GatewayCode::InsufficientRole,
        GatewayCode::ClaimMismatch,
        GatewayCode::IssuerNotAllowed,
        GatewayCode::NoRoute,
        GatewayCode::InvalidRequest,
        GatewayCode::UpstreamUnavailable,
        GatewayCode::UpstreamTimeout,
    ];

    /// The stable code.
    pub const fn as_str(self) -> &'static str {
        match self {
            GatewayCode::Ok => "ok",
            GatewayCode::Anonymous => "anonymous",
            GatewayCode::MissingToken => "missing_token",
            GatewayCode::InsufficientScope => "insufficient_scope",
            GatewayCode::InsufficientRole => "insufficient_role",
            GatewayCode::ClaimMismatch => "claim_mismatch",
            GatewayCode::IssuerNotAllowed => "issuer_not_allowed",
            GatewayCode::NoRoute => "no_route",
            GatewayCode::InvalidRequest => "invalid_request",
            GatewayCode::UpstreamUnavailable => "upstream_unavailable",
            GatewayCode::UpstreamTimeout => "upstream_timeout",
        }
    }

    /// True for the codes of an allowed request.
    pub const fn allows(self) -> bool {
        matches!(self, GatewayCode::Ok | GatewayCode::Anonymous)
    }
}

impl std::fmt::Display for GatewayCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The codes as strings, in [`GatewayCode::ALL`] order.
pub const GATEWAY_CODES: [&str; GatewayCode::ALL.len()] = {
    let mut out = [""; GatewayCode::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = GatewayCode::ALL[i].as_str();
        i += 1;
    }
    out
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes are a public, logged vocabulary: pinned here, spelled out.
    #[test]
    fn the_codes_are_pinned() {
        assert_eq!(
            GATEWAY_CODES,
            [
                "ok",
                "anonymous",
                "missing_token",
                "insufficient_scope",
                "insufficient_role",
                "claim_mismatch",
                "issuer_not_allowed",
                "no_route",
                "invalid_request",
                "upstream_unavailable",
                "upstream_timeout",
            ]
        );
        let mut unique = GATEWAY_CODES.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), GATEWAY_CODES.len());
    }
}
