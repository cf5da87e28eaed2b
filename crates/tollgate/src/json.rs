//! Strict JSON for JOSE: objects only, duplicate member names rejected at every depth
//! (RFC 7515 section 4 and RFC 7519 section 4 say a parser must reject or use the last one;
//! rejecting is the only choice that cannot be exploited by parser differentials).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Value};

/// Why bytes are not the strict JSON expected. `Display` is a fragment that follows what was
/// being read (`the JWKS is not valid JSON (...)`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonError {
    /// Valid JSON, but not an object where one is required.
    NotAnObject {
        /// The type found (`an array`, `a string`...).
        found: &'static str,
    },
    /// Not strict JSON: a syntax error, invalid UTF-8, a duplicate member name, trailing
    /// characters, nesting deeper than 128. `message` is the parser's, with line and column.
    Invalid {
        /// What is wrong and where.
        message: String,
    },
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::NotAnObject { found } => {
                write!(f, "is JSON but not an object (found {found})")
            }
            JsonError::Invalid { message } => write!(f, "is not valid JSON ({message})"),
        }
    }
}

impl std::error::Error for JsonError {}

/// Parses `bytes` as one JSON object, rejecting duplicate member names anywhere inside.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    match fast::object(bytes) {
        Some(map) => Ok(map),
        None => strict_object(bytes),
    }
}

/// Parses any strict JSON value (used for JWKS and discovery documents).
pub fn parse_value(bytes: &[u8]) -> Result<Value, JsonError> {
    match fast::value(bytes) {
        Some(value) => Ok(value),
        None => strict_value(bytes),
    }
}

fn strict_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    match strict_value(bytes)? {
        Value::Object(map) => Ok(map),
        other => Err(JsonError::NotAnObject {
            found: kind(&other),
        }),
    }
}

fn strict_value(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue
        .deserialize(&mut de)
        .map_err(|e| clean(e.to_string()))?;
    de.end().map_err(|e| clean(e.to_string()))?;
    Ok(value)
}

/// A short name for a JSON value's type, for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A compact rendering of a JSON value for error messages: at most `max` characters (JSON
/// escapes control characters), then `...(N bytes)` with the rendering's size when cut.
///
/// ```
/// use serde_json::json;
/// assert_eq!(tollgate::json::preview(&json!("a\nb"), 40), r#""a\nb""#);
/// assert_eq!(tollgate::json::preview(&json!("abcdef"), 4), r#""abc...(8 bytes)"#);
/// ```
pub fn preview(v: &Value, max: usize) -> String {
    let s = v.to_string();
    match s.char_indices().nth(max) {
        None => s,
        Some((end, _)) => format!("{}...({} bytes)", &s[..end], s.len()),
    }
}

/// The one fast grammar for the JSON tokens are made of: objects, arrays, strings without
/// escapes, integers and literals, with member names unique at every depth and nesting up to
/// 64. It only accepts: anything else (an escape, a fraction or exponent, an integer outside
/// 64 bits, `-0`, deeper nesting, a duplicate member, any syntax error) gives up with `None`,
/// and the strict `serde_json` path below reads the input again, so every error and every
/// unusual value comes from that one path.
///
/// The grammar is written once ([`Reader`]) and does one of two things with what it reads,
/// chosen by its [`Sink`]: [`Build`] produces exactly the `Value` the strict path produces
/// (the fast parser behind [`parse_object`](super::parse_object)); [`Look`] builds nothing
/// and reports the top-level members (the scanner behind [`scan_object`](super::scan_object)).
mod fast {
    use super::Scanned;
    use serde_json::{Map, Number, Value};

    /// Deeper input goes to the strict path (whose own limit is 128).
    const MAX_DEPTH: u32 = 64;
    /// Member names tracked at once (for duplicate detection without a map) across the open
    /// objects. Claims sets have a dozen or two; more gives up to the strict path.
    const MAX_NAMES: usize = 64;

    /// What the grammar does with the values it reads.
    pub(super) trait Sink<'a> {
        type Value;
        type Object;
        type Array;
        /// Whether the reader finds repeated member names itself (by comparing the raw names
        /// of each open object); a sink that builds a map finds them when it inserts.
        const TRACK_NAMES: bool;
        fn string(&mut self, s: &'a str) -> Self::Value;
        fn integer(&mut self, n: i128) -> Option<Self::Value>;
        /// `Some(bool)` for `true`/`false`, `None` for `null`.
        fn literal(&mut self, v: Option<bool>) -> Self::Value;
        fn object(&mut self) -> Self::Object;
        /// A member of an object at `depth` (1: the top level); `None` on a repeated name.
        fn member(
            &mut self,
            o: &mut Self::Object,
            name: &'a str,
            v: Self::Value,
            depth: u32,
        ) -> Option<()>;
        fn close_object(&mut self, o: Self::Object) -> Self::Value;
        fn array(&mut self) -> Self::Array;
        fn item(&mut self, a: &mut Self::Array, v: Self::Value);
        /// `text` is the array from `[` to `]`.
        fn close_array(&mut self, a: Self::Array, text: &'a str) -> Self::Value;
    }

    /// Builds the `Value` the strict path builds.
    pub(super) struct Build;

    impl<'a> Sink<'a> for Build {
        type Value = Value;
        type Object = Map<String, Value>;
        type Array = Vec<Value>;
        const TRACK_NAMES: bool = false;
        #[inline]
        fn string(&mut self, s: &'a str) -> Value {
            Value::String(s.to_owned())
        }
        /// As `serde_json` stores it: non-negative into `u64`, negative into `i64`.
        #[inline]
        fn integer(&mut self, n: i128) -> Option<Value> {
            Some(Value::Number(match u64::try_from(n) {
                Ok(u) => Number::from(u),
                Err(_) => Number::from(i64::try_from(n).ok()?),
            }))
        }
        fn literal(&mut self, v: Option<bool>) -> Value {
            v.map_or(Value::Null, Value::Bool)
        }
        fn object(&mut self) -> Map<String, Value> {
            Map::new()
        }
        #[inline]
        fn member(
            &mut self,
            o: &mut Map<String, Value>,
            name: &'a str,
            v: Value,
            _: u32,
        ) -> Option<()> {
            // A name already there is a duplicate: the strict path words the error.
            o.insert(name.to_owned(), v).is_none().then_some(())
        }
        fn close_object(&mut self, o: Map<String, Value>) -> Value {
            Value::Object(o)
        }
        fn array(&mut self) -> Vec<Value> {
            Vec::new()
        }
        fn item(&mut self, a: &mut Vec<Value>, v: Value) {
            a.push(v);
        }
        fn close_array(&mut self, a: Vec<Value>, _: &'a str) -> Value {
            Value::Array(a)
        }
    }

    /// Builds nothing: each top-level member goes to the callback.
    pub(super) struct Look<F>(pub(super) F);

    impl<'a, F: FnMut(&'a str, Scanned<'a>)> Sink<'a> for Look<F> {
        type Value = Scanned<'a>;
        type Object = ();
        type Array = ();
        const TRACK_NAMES: bool = true;
        #[inline]
        fn string(&mut self, s: &'a str) -> Scanned<'a> {
            Scanned::Str(s)
        }
        #[inline]
        fn integer(&mut self, n: i128) -> Option<Scanned<'a>> {
            Some(Scanned::Int(n))
        }
        fn literal(&mut self, _: Option<bool>) -> Scanned<'a> {
            Scanned::Other
        }
        fn object(&mut self) {}
        #[inline]
        fn member(&mut self, _: &mut (), name: &'a str, v: Scanned<'a>, depth: u32) -> Option<()> {
            if depth == 1 {
                (self.0)(name, v);
            }
            Some(())
        }
        fn close_object(&mut self, _: ()) -> Scanned<'a> {
            Scanned::Other
        }
        fn array(&mut self) {}
        fn item(&mut self, _: &mut (), _: Scanned<'a>) {}
        fn close_array(&mut self, _: (), text: &'a str) -> Scanned<'a> {
            Scanned::Array(text)
        }
    }

    /// A whole input that is one JSON object, built.
    pub(super) fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
        match read_object(bytes, Build)? {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// A whole input that is one JSON value, built.
    pub(super) fn value(bytes: &[u8]) -> Option<Value> {
        let mut r = Reader::new(bytes, Build)?;
        let v = r.value()?;
        r.end()?;
        Some(v)
    }

    /// A whole input that is one JSON object, read by `sink`.
    #[inline]
    pub(super) fn read_object<'a, S: Sink<'a>>(bytes: &'a [u8], sink: S) -> Option<S::Value> {
        let mut r = Reader::new(bytes, sink)?;
        r.ws();
        if r.peek()? != b'{' {
            return None;
        }
        let v = r.object()?;
        r.end()?;
        Some(v)
    }

    pub(super) struct Reader<'a, S> {
        /// The input, validated as UTF-8 once: a string's content is then a slice of it
        /// between two quotes, ASCII positions that are always character boundaries.
        text: &'a str,
        b: &'a [u8],
        i: usize,
        depth: u32,
        /// With `S::TRACK_NAMES`: the (start, end) of the names of the members seen in the
        /// open objects.
        names: [(u16, u16); MAX_NAMES],
        count: usize,
        sink: S,
    }

    impl<'a, S: Sink<'a>> Reader<'a, S> {
        /// `None` when the input is not UTF-8 (the strict path says where).
        pub(super) fn new(bytes: &'a [u8], sink: S) -> Option<Reader<'a, S>> {
            let text = std::str::from_utf8(bytes).ok()?;
            // Name positions are stored as u16 (payloads are bounded by the token size).
            if S::TRACK_NAMES && bytes.len() > u16::MAX as usize {
                return None;
            }
            Some(Reader {
                text,
                b: bytes,
                i: 0,
                depth: 0,
                names: [(0, 0); MAX_NAMES],
                count: 0,
                sink,
            })
        }

        #[inline]
        fn peek(&self) -> Option<u8> {
            self.b.get(self.i).copied()
        }

        /// JSON whitespace (RFC 8259 section 2): space, tab, line feed, carriage return.
        #[inline]
        fn ws(&mut self) {
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
                self.i += 1;
            }
        }

        fn end(&mut self) -> Option<()> {
            self.ws();
            (self.i == self.b.len()).then_some(())
        }

        fn value(&mut self) -> Option<S::Value> {
            self.ws();
            match self.peek()? {
                b'{' => self.object(),
                b'[' => self.array(),
                b'"' => {
                    let s = self.string()?;
                    Some(self.sink.string(s))
                }
                b't' => self.literal(b"true", Some(true)),
                b'f' => self.literal(b"false", Some(false)),
                b'n' => self.literal(b"null", None),
                b'-' | b'0'..=b'9' => {
                    let n = super::read_integer(self.b, &mut self.i)?;
                    self.sink.integer(n)
                }
                _ => None,
            }
        }

        fn literal(&mut self, word: &[u8], v: Option<bool>) -> Option<S::Value> {
            if self.b.get(self.i..self.i + word.len())? == word {
                self.i += word.len();
                Some(self.sink.literal(v))
            } else {
                None
            }
        }

        /// Whether `name` (at `start`) repeats a member of the innermost open object (from
        /// `base`); records it otherwise. `None` when it repeats or too many are open.
        #[inline]
        fn record_name(&mut self, base: usize, start: usize, name: &str) -> Option<()> {
            let bytes = name.as_bytes();
            for &(s, e) in &self.names[base..self.count] {
                let other = &self.b[s as usize..e as usize];
                // Length and first byte first: most names differ there, without a call to
                // memcmp.
                if other.len() == bytes.len() && other.first() == bytes.first() && other == bytes {
                    return None;
                }
            }
            if self.count == MAX_NAMES {
                return None;
            }
            self.names[self.count] = (start as u16, (start + bytes.len()) as u16);
            self.count += 1;
            Some(())
        }

        /// At `{`.
        #[inline]
        fn object(&mut self) -> Option<S::Value> {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return None;
            }
            self.i += 1;
            let mut o = self.sink.object();
            self.ws();
            if self.peek()? == b'}' {
                self.i += 1;
                self.depth -= 1;
                return Some(self.sink.close_object(o));
            }
            let base = self.count;
            loop {
                self.ws();
                if self.peek()? != b'"' {
                    return None;
                }
                let start = self.i + 1;
                let name = self.string()?;
                if S::TRACK_NAMES {
                    self.record_name(base, start, name)?;
                }
                self.ws();
                if self.peek()? != b':' {
                    return None;
                }
                self.i += 1;
                let v = self.value()?;
                self.sink.member(&mut o, name, v, self.depth)?;
                self.ws();
                match self.peek()? {
                    b',' => self.i += 1,
                    b'}' => {
                        self.i += 1;
                        self.depth -= 1;
                        self.count = base;
                        return Some(self.sink.close_object(o));
                    }
                    _ => return None,
                }
            }
        }

        /// At `[`.
        fn array(&mut self) -> Option<S::Value> {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return None;
            }
            let start = self.i;
            self.i += 1;
            let mut a = self.sink.array();
            self.ws();
            if self.peek()? != b']' {
                loop {
                    let v = self.value()?;
                    self.sink.item(&mut a, v);
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => break,
                        _ => return None,
                    }
                }
            }
            self.i += 1;
            self.depth -= 1;
            let text = self.text.get(start..self.i)?;
            Some(self.sink.close_array(a, text))
        }

        /// The whole input is an array of strings: each one to `each`.
        pub(super) fn strings_of_array(&mut self, each: &mut dyn FnMut(&'a str)) -> Option<()> {
            self.ws();
            if self.peek()? != b'[' {
                return None;
            }
            self.i += 1;
            self.ws();
            if self.peek()? == b']' {
                self.i += 1;
            } else {
                loop {
                    self.ws();
                    if self.peek()? != b'"' {
                        return None;
                    }
                    each(self.string()?);
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
            }
            self.end()
        }

        /// At `"`: the content, when it has no escape and no control character (those go
        /// to the strict path); non-ASCII bytes are UTF-8 (the whole input was checked).
        #[inline]
        fn string(&mut self) -> Option<&'a str> {
            let start = self.i + 1;
            let end = super::plain_string_end(self.b, start)?;
            self.i = end + 1;
            self.text.get(start..end)
        }
    }
}

/// A top-level member's value as the allocation-free scanner ([`scan_object`]) saw it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Scanned<'a> {
    /// A string without escapes: its content, exactly the `Value::String` the parsers build.
    Str(&'a str),
    /// An integer (no fraction, no exponent, not `-0`): as `i128` so that every `u64` and
    /// `i64` fits.
    Int(i128),
    /// An array: its text from `[` to `]`, already validated (read it with [`array_strings`]).
    Array(&'a str),
    /// An object, `true`, `false` or `null`.
    Other,
}

/// Validates `bytes` as one JSON object without building anything, calling `member` with
/// each top-level member name and value. Returns `true` only when the input is in the
/// language the fast parser accepts (UTF-8; strings without escapes; integers; no duplicate
/// member name at any depth; nesting up to 64): then [`parse_object`] is guaranteed to
/// succeed on it. On `false` the caller uses [`parse_object`], which says what is wrong (or
/// parses what the scanner does not handle). Duplicates are found by comparing the raw names
/// within each object; objects with more members than the scanner tracks give up.
pub(crate) fn scan_object<'a>(bytes: &'a [u8], member: impl FnMut(&'a str, Scanned<'a>)) -> bool {
    fast::read_object(bytes, fast::Look(member)).is_some()
}

/// The strings of an array that [`scan_object`] reported as [`Scanned::Array`]; `false`
/// when an element is not a string.
pub(crate) fn array_strings<'a>(array: &'a str, mut each: impl FnMut(&'a str)) -> bool {
    let mut s = match fast::Reader::new(array.as_bytes(), fast::Look(|_, _| {})) {
        Some(s) => s,
        None => return false,
    };
    s.strings_of_array(&mut each).is_some()
}

/// The position of the quote closing a string whose content starts at `start`, when the
/// content has no backslash (an escape) and no control character; `None` otherwise (left to
/// the strict path). Eight bytes at a time: in each word the bytes equal to `"` or `\\` or
/// below 0x20 are flagged (the lowest flag is exact; borrows only spread upwards).
#[inline]
fn plain_string_end(b: &[u8], start: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = start;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        let flags = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | x.wrapping_sub(ONES * 0x20) & !x)
            & HIGH;
        if flags != 0 {
            let at = i + (flags.trailing_zeros() / 8) as usize;
            return (b[at] == b'"').then_some(at);
        }
        i += 8;
    }
    for (at, &c) in b.get(i..)?.iter().enumerate() {
        if c == b'"' {
            return Some(i + at);
        }
        if c < 0x20 || c == b'\\' {
            return None;
        }
    }
    None
}

/// Reads a JSON integer at `b[*i..]` as `serde_json` would store it without a float: a
/// `u64` when non-negative, an `i64` when negative. `-0`, a fraction, an exponent, a leading
/// zero or overflow give up (`None`), and the strict path decides. Shared by the fast parser
/// and the allocation-free scanner so both read numbers the same way.
#[inline]
fn read_integer(b: &[u8], i: &mut usize) -> Option<i128> {
    let negative = b.get(*i) == Some(&b'-');
    if negative {
        *i += 1;
    }
    let first = *b.get(*i)?;
    if !first.is_ascii_digit() {
        return None;
    }
    *i += 1;
    let mut n = u64::from(first - b'0');
    if first == b'0' {
        if b.get(*i).is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
    } else {
        while let Some(c @ b'0'..=b'9') = b.get(*i).copied() {
            n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            *i += 1;
        }
    }
    if let Some(b'.' | b'e' | b'E') = b.get(*i) {
        return None;
    }
    if !negative {
        return Some(i128::from(n));
    }
    if n == 0 || n > 1 << 63 {
        return None;
    }
    Some(-i128::from(n))
}

fn clean(message: String) -> JsonError {
    JsonError::Invalid { message }
}

struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictValue)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(StrictValue)?;
            // One search of the map both detects a duplicate and finds where to insert.
            match map.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(slot) => {
                    return Err(de::Error::custom(format_args!(
                        "duplicate member name {}",
                        crate::text::cut_quoted(slot.key())
                    )));
                }
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_duplicates_at_any_depth() {
        assert!(parse_object(br#"{"a":1,"a":2}"#)
            .unwrap_err()
            .to_string()
            .contains("duplicate member name \"a\""));
        assert!(parse_object(br#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(parse_object(br#"{"a":[{"b":1,"b":1}]}"#).is_err());
        assert!(parse_object(br#"{"a":1,"b":2}"#).is_ok());
    }

    /// The fast path gives up rather than decide anything unusual: these all go to the
    /// strict path, and come out as it says.
    #[test]
    fn fast_path_defers_edge_cases() {
        for text in [
            "-0",
            "01",
            "-01",
            "1.0",
            "1e5",
            "1E5",
            "-",
            "18446744073709551616",
            "-9223372036854775809",
            "\"a\\nb\"",
            "\"\u{1}\"",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{\"a\":1,\"a\":1}",
            "tru",
            "nul",
            "\u{feff}{}",
            "{} {}",
            "",
            "   ",
        ] {
            assert_eq!(fast::value(text.as_bytes()), None, "{text:?}");
        }
        assert_eq!(fast::value(b"\"a\xff\""), None);
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(fast::value(deep.as_bytes()), None);
        assert!(parse_value(deep.as_bytes()).is_ok());
        assert_eq!(parse_value(b"-0").unwrap(), serde_json::json!(-0.0));
    }

    #[test]
    fn fast_path_reads_the_usual() {
        for text in [
            "18446744073709551615",
            "-9223372036854775808",
            "0",
            "-1",
            " {\"a\" : [ 1 , -2 , true , false , null , \"\u{e9}t\u{e9}\" , {} , [] ] } ",
        ] {
            let fast = fast::value(text.as_bytes()).unwrap_or_else(|| panic!("{text:?}"));
            assert_eq!(Ok(fast), strict_value(text.as_bytes()), "{text:?}");
        }
        let claims = br#"{"iss":"https://login.example.com/","sub":"8d0c2f1e","aud":["api://orders","api://billing"],"exp":1700003600,"iat":1699999990,"nbf":1699999990,"jti":"b1f0c7a2","client_id":"web","scope":"orders:read profile","roles":["orders.reader","support.agent"]}"#;
        assert!(fast::object(claims).is_some());
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,8}".prop_map(Value::String),
            "[a-z]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c]{0,2}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Whatever the fast path accepts, the strict path accepts as the same value.
        #[test]
        fn fast_path_agrees_on_valid_json(v in arb_json(), pretty in proptest::bool::ANY) {
            let text = if pretty {
                serde_json::to_string_pretty(&v).unwrap()
            } else {
                serde_json::to_string(&v).unwrap()
            };
            if let Some(fast) = fast::value(text.as_bytes()) {
                proptest::prop_assert_eq!(Ok(fast), strict_value(text.as_bytes()));
            }
            proptest::prop_assert_eq!(parse_value(text.as_bytes()), strict_value(text.as_bytes()));
        }

        /// Token soup: near-JSON with every edge the grammar has. Same results either way.
        #[test]
        fn fast_path_agrees_on_soup(parts in proptest::collection::vec(proptest::sample::select(vec![
            "{", "}", "[", "]", ",", ":", " ", "\n", "\"a\"", "\"b\"", "\"", "\\", "\\n",
            "\u{1}", "\u{e9}", "0", "1", "9", "-", ".", "e", "+", "true", "fals", "null",
            "18446744073709551615", "9223372036854775808",
        ]), 0..24)) {
            let text = parts.concat();
            if let Some(fast) = fast::value(text.as_bytes()) {
                proptest::prop_assert_eq!(Ok(fast), strict_value(text.as_bytes()), "{:?}", text);
            }
            if let Some(fast) = fast::object(text.as_bytes()) {
                proptest::prop_assert_eq!(Ok(fast), strict_object(text.as_bytes()), "{:?}", text);
            }
            proptest::prop_assert_eq!(parse_value(text.as_bytes()), strict_value(text.as_bytes()));
            proptest::prop_assert_eq!(parse_object(text.as_bytes()), strict_object(text.as_bytes()));
        }
    }

    /// What the allocation-free scanner accepts, the parsers read, with the same top-level
    /// members; what it refuses is left to them.
    fn scan_agrees(text: &str) -> Result<(), String> {
        let mut seen = Vec::new();
        let scanned = scan_object(text.as_bytes(), |k, v| seen.push((k.to_string(), v_of(v))));
        if scanned {
            let map = fast::object(text.as_bytes()).ok_or("fast parser refused")?;
            if Ok(&map) != strict_object(text.as_bytes()).as_ref() {
                return Err("strict differs".into());
            }
            let seen: Map<String, Value> = seen.into_iter().collect();
            for (k, v) in &map {
                match (v, seen.get(k)) {
                    (Value::String(_) | Value::Number(_), Some(s)) if s == v => {}
                    (Value::Array(items), Some(Value::Bool(true))) => {
                        let mut strings = Vec::new();
                        let all = {
                            let mut raw = None;
                            scan_object(text.as_bytes(), |name, val| {
                                if name == k {
                                    raw = Some(val);
                                }
                            });
                            match raw {
                                Some(Scanned::Array(a)) => {
                                    array_strings(a, |s| strings.push(Value::from(s)))
                                }
                                _ => return Err("array not reported".into()),
                            }
                        };
                        if all != items.iter().all(Value::is_string) || (all && &strings != items) {
                            return Err(format!("array {k} differs"));
                        }
                    }
                    (Value::Object(_) | Value::Bool(_) | Value::Null, Some(Value::Null)) => {}
                    _ => return Err(format!("member {k} differs")),
                }
            }
            if seen.len() != map.len() {
                return Err("member count differs".into());
            }
        }
        Ok(())
    }

    /// A scanned value in comparable form: strings and numbers as themselves, arrays as
    /// `true`, everything else as null.
    fn v_of(v: Scanned<'_>) -> Value {
        match v {
            Scanned::Str(s) => Value::from(s),
            Scanned::Int(n) => u64::try_from(n)
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(n as i64)),
            Scanned::Array(_) => Value::Bool(true),
            Scanned::Other => Value::Null,
        }
    }

    proptest::proptest! {
        /// The word-at-a-time string scan finds what a byte loop finds.
        #[test]
        fn plain_string_end_agrees_with_a_byte_loop(
            bytes in proptest::collection::vec(proptest::sample::select(vec![
                b'a', b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xc3, 0xff, b'!', b'#', b']',
            ]), 0..40),
            start in 0usize..42,
        ) {
            let naive = || {
                for (at, &c) in bytes.get(start..)?.iter().enumerate() {
                    match c {
                        b'"' => return Some(start + at),
                        0..=0x1f | b'\\' => return None,
                        _ => {}
                    }
                }
                None
            };
            proptest::prop_assert_eq!(plain_string_end(&bytes, start), naive());
        }
    }

    #[test]
    fn scanner_edges() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":{"b":1,"b":1}}"#,
            r#"{"a":[{"b":1},{"b":1}]}"#,
            r#"{"a":{"b":1},"b":1}"#,
            r#"{"a":[1,"x"],"b":["x","y"],"c":[]}"#,
            r#"{"a":-0}"#,
            r#"{"a":18446744073709551615,"b":-9223372036854775808}"#,
            r#"{"a":"\n"}"#,
            "{\"a\":\"\u{1}\"}",
        ] {
            scan_agrees(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        assert!(!scan_object(br#"{"a":1,"a":2}"#, |_, _| {}));
        assert!(!scan_object(br#"{"a":[{"b":1,"b":1}]}"#, |_, _| {}));
        assert!(scan_object(br#"{"a":[{"b":1},{"b":1}]}"#, |_, _| {}));
        assert!(scan_object(br#"{"a":{"b":1},"b":1}"#, |_, _| {}));
        // More names than tracked: left to the parsers, which read it.
        let many: Map<String, Value> = (0..200)
            .map(|i| (format!("k{i}"), Value::from(i)))
            .collect();
        let text = Value::Object(many).to_string();
        assert!(!scan_object(text.as_bytes(), |_, _| {}));
        assert!(parse_object(text.as_bytes()).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn scanner_agrees_on_valid_json(v in arb_json(), pretty in proptest::bool::ANY) {
            let v = match v { Value::Object(m) => Value::Object(m), other => serde_json::json!({"x": other, "y": [other]}) };
            let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { v.to_string() };
            if let Err(e) = scan_agrees(&text) {
                proptest::prop_assert!(false, "{}: {}", text, e);
            }
        }

        #[test]
        fn scanner_agrees_on_soup(parts in proptest::collection::vec(proptest::sample::select(vec![
            "{", "}", "[", "]", ",", ":", " ", "\n", "\"a\"", "\"b\"", "\"", "\\", "\\n",
            "\u{1}", "\u{e9}", "0", "1", "9", "-", ".", "e", "+", "true", "fals", "null",
            "18446744073709551615", "9223372036854775808",
        ]), 0..24)) {
            let text = parts.concat();
            for t in [text.clone(), format!("{{{text}}}")] {
                if let Err(e) = scan_agrees(&t) {
                    proptest::prop_assert!(false, "{:?}: {}", t, e);
                }
            }
        }
    }

    #[test]
    fn objects_only() {
        assert_eq!(
            parse_object(b"[1]").unwrap_err(),
            JsonError::NotAnObject { found: "an array" }
        );
        assert!(parse_object(b"[1]")
            .unwrap_err()
            .to_string()
            .contains("not an object"));
        assert!(parse_object(b"{} x").is_err());
        assert!(parse_object(b"").is_err());
    }
}
