//! Injected failures: how `/jwks` (and discovery) misbehave on purpose, so validators can be
//! tested against a broken identity provider.

use std::fmt;
use std::str::FromStr;

/// How the issuer's key endpoints answer. Set with
/// [`DevIssuer::set_fault`](crate::DevIssuer::set_fault) or `POST /admin/fault`.
///
/// ```
/// use tollgate_issuer::Fault;
/// assert_eq!("500".parse::<Fault>().unwrap(), Fault::Status500);
/// assert_eq!(Fault::DropKeys.as_str(), "drop_keys");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Normal behaviour.
    #[default]
    None,
    /// `/jwks` and discovery answer `500 Internal Server Error`.
    Status500,
    /// `/jwks` and discovery accept the request and never answer (until the fault is cleared
    /// or the issuer stops): a validator's timeout is exercised.
    Hang,
    /// `/jwks` answers `200` with a body that is not JSON.
    Garbage,
    /// `/jwks` answers a well-formed set without the current signing key (only keys still in
    /// their rotation grace, if any): tokens get `kid_not_found`.
    DropKeys,
    /// `/jwks` answers `{"keys": []}`.
    EmptyKeys,
}

impl Fault {
    /// Every fault, in the order documented.
    pub const ALL: [Fault; 6] = [
        Fault::None,
        Fault::Status500,
        Fault::Hang,
        Fault::Garbage,
        Fault::DropKeys,
        Fault::EmptyKeys,
    ];

    /// The name used by `/admin/fault` and `/admin/state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::Status500 => "500",
            Fault::Hang => "hang",
            Fault::Garbage => "garbage",
            Fault::DropKeys => "drop_keys",
            Fault::EmptyKeys => "empty",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Fault, String> {
        match s {
            "none" | "" => Ok(Fault::None),
            "500" | "status500" => Ok(Fault::Status500),
            "hang" => Ok(Fault::Hang),
            "garbage" => Ok(Fault::Garbage),
            "drop_keys" => Ok(Fault::DropKeys),
            "empty" | "empty_keys" => Ok(Fault::EmptyKeys),
            other => Err(format!(
                "unknown fault {other:?}; expected one of none, 500, hang, garbage, drop_keys, empty"
            )),
        }
    }
}
