//! # Tollgate
//!
//! Validate JWT bearer tokens, and when one is rejected, say exactly why.
//!
//! ```
//! use serde_json::json;
//! use tollgate::{jws, Algorithm, JwkSet, LocalValidator, Policy, SigningKey};
//!
//! // An issuer's key (in real life: its JWKS).
//! let key = SigningKey::generate(Algorithm::RS256, "2024-01").unwrap();
//! let jwks = json!({"keys": [key.public_jwk()]});
//!
//! let validator = LocalValidator::new(
//!     JwkSet::from_value(&jwks).unwrap(),
//!     Policy::new().issuer("https://login.example.com/").audience("api://orders"),
//! );
//! let token = jws::sign(
//!     &json!({"typ": "at+jwt"}),
//!     &json!({"iss": "https://login.example.com/", "aud": "orders", "exp": 4_000_000_000u64}),
//!     &key,
//! ).unwrap();
//! let err = validator.validate(&token).unwrap_err();
//! assert_eq!(err.code(), "audience_mismatch");
//! println!("{err}"); // the audience "orders" is not accepted; expected "api://orders"
//! ```
//!
//! Modules follow the data: [`jws`] reads and signs compact tokens, [`jwk`] parses keys,
//! `crypto` is the one seam to `aws-lc-rs`, [`claims`] holds the policy, [`validate`] runs
//! the pipeline, [`error`] is the failure vocabulary.

pub mod alg;
pub mod b64;
pub mod challenge;
pub mod claims;
pub mod clock;
mod crypto;
pub mod doctor;
pub mod error;
pub mod json;
pub mod jwk;
pub mod jws;
#[cfg(feature = "remote")]
pub mod keys;
#[cfg(feature = "tower")]
pub mod tower;
pub mod validate;
#[cfg(feature = "remote")]
pub mod validator;

pub use alg::{Algorithm, Curve, KeyFamily};
pub use claims::{Claims, Policy, TypPolicy};
pub use clock::{Clock, FixedClock, SystemClock};
pub use crypto::{random_bytes, sha256, KeyError, SigningKey};
pub use error::{TokenPart, ValidationError};
pub use jwk::{Jwk, JwkSet, SkippedKey};
#[cfg(feature = "remote")]
pub use keys::{CacheOptions, IssuerConfig};
pub use validate::{LocalValidator, Verified};
#[cfg(feature = "remote")]
pub use validator::{ConfigError, Validator};
