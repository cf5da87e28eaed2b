//! A token's payload JSON, decoded once and scanned once: the allocation-free scanner
//! ([`json::scan_object`]) checks it and records where each top-level member is, so that
//! the issuer lookup, the claims checks and every later read of a claim (`iss`, `sub`,
//! `exp`, `cnf`, identity headers) find members without scanning again or building a map.

use crate::json;

/// Payload JSON, with its top-level members indexed when the scanner accepted it.
#[derive(Clone, Debug)]
pub(crate) struct Payload {
    /// The payload as text, or its bytes when they are not UTF-8.
    text: Result<String, Vec<u8>>,
    /// `Some` when the scanner accepted the text: strict JSON without escapes, no
    /// duplicate names (so the strict parser reads the same members, see
    /// [`json::scan_object`]).
    index: Option<Vec<Member>>,
}

impl Default for Payload {
    fn default() -> Payload {
        Payload {
            text: Ok(String::new()),
            index: None,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Member {
    name: Span,
    value: Indexed,
}

/// A byte range of the payload.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u32,
    end: u32,
}

#[derive(Clone, Copy, Debug)]
enum Indexed {
    Str(Span),
    Int(i64),
    BigInt,
    Array(Span),
    Other,
}

/// A member's value as the scanner read it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Found<'a> {
    /// A string without escapes: exactly the map's `Value::String`.
    Str(&'a str),
    /// An integer that fits `i64`.
    Int(i64),
    /// An integer beyond `i64` (read it from the map, as `numeric_date` does).
    BigInt,
    /// An array, `[` to `]` (read its strings with [`json::array_strings`]).
    Array(&'a str),
    /// An object, `true`, `false` or `null`.
    Other,
}

/// What the index says of one member.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Lookup<'a> {
    /// Not indexed (the scanner declined the payload, or the claims came from a map): ask
    /// the map.
    Unindexed,
    /// Indexed, and there is no such member.
    Absent,
    /// Indexed: the member's value.
    Found(Found<'a>),
}

impl Payload {
    /// Decoded payload bytes, scanned once; indexed when the scanner accepts them.
    pub(crate) fn new(bytes: Vec<u8>) -> Payload {
        // UTF-8 checked once for the whole text (the scanner accepts nothing else), so
        // that members are then sliced out of it as text without checking again.
        match String::from_utf8(bytes) {
            Ok(text) => Payload {
                index: scan(text.as_bytes()),
                text: Ok(text),
            },
            Err(e) => Payload {
                text: Err(e.into_bytes()),
                index: None,
            },
        }
    }

    /// The payload bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.text {
            Ok(text) => text.as_bytes(),
            Err(bytes) => bytes,
        }
    }

    /// The payload bytes, owned.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        match self.text {
            Ok(text) => text.into_bytes(),
            Err(bytes) => bytes,
        }
    }

    /// True when the scanner accepted the payload (and members are found by index).
    pub(crate) fn is_indexed(&self) -> bool {
        self.index.is_some()
    }

    /// The number of members indexed (0 when not indexed).
    pub(crate) fn len(&self) -> usize {
        self.index.as_ref().map_or(0, Vec::len)
    }

    /// The top-level member `name`. The answers are the strict parser's: the scanner takes
    /// no escapes, so a string's text is exactly the map's string.
    pub(crate) fn lookup(&self, name: &str) -> Lookup<'_> {
        let Some(index) = &self.index else {
            return Lookup::Unindexed;
        };
        // Lengths first: comparing them reads no text.
        let Some(member) = index.iter().find(|m| {
            m.name.end.saturating_sub(m.name.start) as usize == name.len()
                && self.text(m.name) == Some(name)
        }) else {
            return Lookup::Absent;
        };
        // A span that is not text is not reached (spans come from the scan of these bytes).
        self.found(member.value)
            .map_or(Lookup::Unindexed, Lookup::Found)
    }

    /// Every top-level member, in order (nothing when not indexed).
    pub(crate) fn members(&self) -> impl Iterator<Item = (&str, Found<'_>)> {
        self.index
            .iter()
            .flatten()
            .filter_map(|m| Some((self.text(m.name)?, self.found(m.value)?)))
    }

    /// The text at `span` (`None`: not text; not reached for spans of the scan).
    fn text(&self, span: Span) -> Option<&str> {
        self.text
            .as_ref()
            .ok()?
            .get(span.start as usize..span.end as usize)
    }

    fn found(&self, value: Indexed) -> Option<Found<'_>> {
        Some(match value {
            Indexed::Str(s) => Found::Str(self.text(s)?),
            Indexed::Int(n) => Found::Int(n),
            Indexed::BigInt => Found::BigInt,
            Indexed::Array(s) => Found::Array(self.text(s)?),
            Indexed::Other => Found::Other,
        })
    }
}

/// One scan of `bytes`: the index of its top-level members, or `None` when the scanner
/// declines them (or a position does not fit in 32 bits).
fn scan(bytes: &[u8]) -> Option<Vec<Member>> {
    let mut index = Vec::with_capacity(16);
    let mut fits = true;
    let accepted = json::scan_object(bytes, |name, value| match record(bytes, name, value) {
        Some(m) => index.push(m),
        None => fits = false,
    });
    (accepted && fits).then_some(index)
}

/// A member the scanner reported while reading `bytes` (its name and value borrow from
/// them), by position; `None` when a slice is not within `bytes` or does not fit 32 bits.
fn record(bytes: &[u8], name: &str, value: json::Scanned<'_>) -> Option<Member> {
    let span = |text: &str| -> Option<Span> {
        let start = (text.as_ptr() as usize).checked_sub(bytes.as_ptr() as usize)?;
        let end = start.checked_add(text.len())?;
        if end > bytes.len() {
            return None;
        }
        Some(Span {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
        })
    };
    let value = match value {
        json::Scanned::Str(s) => Indexed::Str(span(s)?),
        json::Scanned::Int(n) => i64::try_from(n).map_or(Indexed::BigInt, Indexed::Int),
        json::Scanned::Array(a) => Indexed::Array(span(a)?),
        json::Scanned::Other => Indexed::Other,
    };
    Some(Member {
        name: span(name)?,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_found_where_the_scan_put_them() {
        let p = Payload::new(
            br#"{"iss":"https://i","n":-7,"a":["x"],"o":{"k":1},"b":18446744073709551615}"#
                .to_vec(),
        );
        assert!(p.is_indexed());
        assert_eq!(p.lookup("iss"), Lookup::Found(Found::Str("https://i")));
        assert_eq!(p.lookup("n"), Lookup::Found(Found::Int(-7)));
        assert_eq!(p.lookup("a"), Lookup::Found(Found::Array(r#"["x"]"#)));
        assert_eq!(p.lookup("o"), Lookup::Found(Found::Other));
        assert_eq!(p.lookup("b"), Lookup::Found(Found::BigInt));
        assert_eq!(p.lookup("is"), Lookup::Absent);
        assert_eq!(p.lookup(""), Lookup::Absent);
        let names: Vec<&str> = p.members().map(|(n, _)| n).collect();
        assert_eq!(names, ["iss", "n", "a", "o", "b"]);
    }

    #[test]
    fn payloads_the_scanner_declines_are_not_indexed() {
        for bad in [
            &br#"{"iss":"a\/b"}"#[..],
            br#"{"a":1,"a":2}"#,
            br#"{"a":1.5}"#,
            b"{\"a\":\"\xff\"}",
            b"[1]",
            b"",
        ] {
            let p = Payload::new(bad.to_vec());
            assert!(!p.is_indexed(), "{bad:?}");
            assert_eq!(p.lookup("a"), Lookup::Unindexed);
            assert_eq!(p.members().count(), 0);
            assert_eq!(p.bytes(), bad);
        }
    }

    /// A slice outside the scanned bytes is never recorded.
    #[test]
    fn only_slices_of_the_scanned_bytes_are_recorded() {
        let bytes = br#"{"a":"b"}"#.to_vec();
        let other = String::from("elsewhere");
        assert!(record(&bytes, &other, json::Scanned::Other).is_none());
        assert!(record(&bytes, "a", json::Scanned::Array(&other)).is_none());
        let inside = std::str::from_utf8(&bytes[2..3]).unwrap();
        assert!(record(&bytes, inside, json::Scanned::Int(1)).is_some());
    }
}
