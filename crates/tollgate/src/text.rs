//! Attacker-sized text made safe to log and to show: [`cut`] keeps at most
//! [`MAX_SHOWN_CHARS`] characters of a value that came from a request or a token, escapes
//! control characters, and says how long the value really was.
//!
//! Every value that a client chooses (a `kid`, an `iss`, a claim, a path, a header) goes
//! through it before it reaches a log line or an `error_description`: a 12 KB `kid` costs
//! one short line, and a `\n` in a claim cannot forge a second log line.

use std::borrow::Cow;
use std::fmt;

/// The most characters of a client-chosen value that are shown (in logs and error
/// descriptions); a longer value is cut and its size in bytes is added.
pub const MAX_SHOWN_CHARS: usize = 80;

/// A value cut for display; see [`cut`].
#[derive(Clone, Copy, Debug)]
pub struct Cut<'a> {
    value: &'a str,
    max: usize,
}

/// Shows at most [`MAX_SHOWN_CHARS`] characters of `value`, control characters escaped
/// (`\n`, `\u{1b}`), then `...(N bytes)` when it was longer.
///
/// ```
/// use tollgate::text::cut;
/// assert_eq!(cut("kid-1").to_string(), "kid-1");
/// assert_eq!(cut("a\nb").to_string(), "a\\nb");
/// let long = "x".repeat(12_000);
/// assert_eq!(cut(&long).to_string(), format!("{}...(12000 bytes)", "x".repeat(80)));
/// ```
pub fn cut(value: &str) -> Cut<'_> {
    cut_to(value, MAX_SHOWN_CHARS)
}

/// [`cut`] with another limit (in characters).
pub fn cut_to(value: &str, max: usize) -> Cut<'_> {
    Cut { value, max }
}

/// True when `value` is at most `max` characters of printable ASCII: shown as it is.
fn plain(value: &str, max: usize) -> bool {
    value.len() <= max && value.bytes().all(|b| (0x20..0x7f).contains(&b))
}

impl fmt::Display for Cut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if plain(self.value, self.max) {
            return f.write_str(self.value);
        }
        for (shown, c) in self.value.chars().enumerate() {
            if shown == self.max {
                return write!(f, "...({} bytes)", self.value.len());
            }
            if c.is_control() {
                for e in c.escape_default() {
                    fmt::Write::write_char(f, e)?;
                }
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

/// `application/x-www-form-urlencoded` decoding of one component: `%XX` and `+` (a
/// space); invalid escapes are kept as they are, bytes that are not UTF-8 become U+FFFD.
/// The one decoder for form bodies and query strings (the dev issuer's token endpoint, the
/// tower layer's `access_token` parameter, the gateway's method-override check).
///
/// ```
/// use tollgate::text::form_decode;
/// assert_eq!(form_decode("a%2eb+c%zz%4"), "a.b c%zz%4");
/// assert_eq!(form_decode("%5Fmethod"), "_method");
/// ```
pub fn form_decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '+']) {
        return Cow::Borrowed(text);
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// `s` with its first character in upper case: a message fragment (`e.to_string()`, a
/// fix) turned into the start of a sentence.
///
/// ```
/// assert_eq!(tollgate::text::capitalise("the token expired"), "The token expired");
/// assert_eq!(tollgate::text::capitalise(""), "");
/// ```
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The most characters shown of a reason that may quote client-chosen text (a JSON parser's
/// message, a serde error naming a claim's value): longer than [`MAX_SHOWN_CHARS`] so the
/// sentence around the value survives, still one short log line.
pub const MAX_REASON_CHARS: usize = 240;

/// The most items of a client-chosen list (audiences, `crit` names, kids) that are shown; the
/// rest are counted (`... and 12 more`).
pub const MAX_SHOWN_ITEMS: usize = 8;

/// A value cut for display with every invisible character escaped; see [`cut_text`].
#[derive(Clone, Copy, Debug)]
pub struct CutText<'a> {
    value: &'a str,
    max: usize,
    quoted: bool,
}

/// [`cut`] that also escapes what `{:?}` escapes besides controls: invisible characters and
/// those that reorder text (bidi overrides such as U+202E, zero-width marks), so a value
/// cannot disguise itself or the text around it. Quotes and backslashes are kept as they
/// are, so a sentence that already quotes a value (`member "alg"`) reads unchanged.
///
/// ```
/// use tollgate::text::cut_text;
/// assert_eq!(cut_text("a\u{202e}b\n\"c\"").to_string(), "a\\u{202e}b\\n\"c\"");
/// ```
pub fn cut_text(value: &str) -> CutText<'_> {
    cut_text_to(value, MAX_SHOWN_CHARS)
}

/// [`cut_text`] with another limit (in characters).
pub fn cut_text_to(value: &str, max: usize) -> CutText<'_> {
    CutText {
        value,
        max,
        quoted: false,
    }
}

/// [`cut_text`] in double quotes, escaped as Rust's `{:?}` escapes a string (`"`, `\`,
/// controls, invisible and bidi characters): for a short value the same text as
/// `format!("{value:?}")`, for a long one the first [`MAX_SHOWN_CHARS`] characters, the
/// closing quote, then the size.
///
/// ```
/// use tollgate::text::cut_quoted;
/// assert_eq!(cut_quoted("k\"1\n").to_string(), format!("{:?}", "k\"1\n"));
/// let long = "x".repeat(12_000);
/// assert_eq!(cut_quoted(&long).to_string(), format!("\"{}\"...(12000 bytes)", "x".repeat(80)));
/// ```
pub fn cut_quoted(value: &str) -> CutText<'_> {
    CutText {
        value,
        max: MAX_SHOWN_CHARS,
        quoted: true,
    }
}

impl fmt::Display for CutText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quote = if self.quoted { "\"" } else { "" };
        let has_escapes = |v: &str| v.bytes().any(|b| b == b'"' || b == b'\\');
        if plain(self.value, self.max) && !(self.quoted && has_escapes(self.value)) {
            f.write_str(quote)?;
            f.write_str(self.value)?;
            return f.write_str(quote);
        }
        f.write_str(quote)?;
        for (shown, c) in self.value.chars().enumerate() {
            if shown == self.max {
                return write!(f, "{quote}...({} bytes)", self.value.len());
            }
            let literal = c == '\'' || (!self.quoted && (c == '"' || c == '\\'));
            if literal {
                fmt::Write::write_char(f, c)?;
            } else {
                for e in c.escape_debug() {
                    fmt::Write::write_char(f, e)?;
                }
            }
        }
        f.write_str(quote)
    }
}

/// Once a shown list has this many characters, the rest of its items are only counted: two
/// long items at most, so a list of hostile values stays one short line.
pub const MAX_LIST_CHARS: usize = 2 * MAX_SHOWN_CHARS;

/// A list cut for display; see [`cut_list`].
#[derive(Clone, Copy, Debug)]
pub struct CutList<'a>(&'a [String]);

/// The items of a client-chosen list, each as [`cut_quoted`], separated by `, `: at most
/// [`MAX_SHOWN_ITEMS`] items, and no more once [`MAX_LIST_CHARS`] characters are shown, then
/// `... and N more`; `(none)` when empty.
///
/// ```
/// use tollgate::text::cut_list;
/// assert_eq!(cut_list(&["a".into(), "b".into()]).to_string(), r#""a", "b""#);
/// assert_eq!(cut_list(&[]).to_string(), "(none)");
/// let many: Vec<String> = (0..20).map(|i| i.to_string()).collect();
/// assert!(cut_list(&many).to_string().ends_with(r#""7", ... and 12 more"#));
/// ```
pub fn cut_list(items: &[String]) -> CutList<'_> {
    CutList(items)
}

impl fmt::Display for CutList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(none)");
        }
        let mut written = 0;
        for (i, item) in self.0.iter().enumerate() {
            if i == MAX_SHOWN_ITEMS || written >= MAX_LIST_CHARS {
                return write!(f, ", ... and {} more", self.0.len() - i);
            }
            if i > 0 {
                f.write_str(", ")?;
            }
            let shown = cut_quoted(item).to_string();
            written += shown.chars().count();
            f.write_str(&shown)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_kept_and_controls_escaped() {
        assert_eq!(cut("").to_string(), "");
        assert_eq!(cut("é kid").to_string(), "é kid");
        assert_eq!(cut("a\r\nb\u{1b}[31m").to_string(), "a\\r\\nb\\u{1b}[31m");
        assert_eq!(cut(&"y".repeat(80)).to_string(), "y".repeat(80));
    }

    #[test]
    fn long_values_are_cut_with_their_size() {
        assert_eq!(cut_to("abcdef", 3).to_string(), "abc...(6 bytes)");
        let multibyte = "é".repeat(100);
        let shown = cut(&multibyte).to_string();
        assert!(shown.ends_with("...(200 bytes)"), "{shown}");
        assert_eq!(shown.chars().filter(|c| *c == 'é').count(), 80);
    }

    #[test]
    fn quoted_values_read_like_debug_and_lists_are_capped() {
        for v in [
            "",
            "kid-1",
            "a\"b\\c",
            "x\r\n\u{1b}[31m\u{7f}",
            "é",
            "it's",
            "a\u{202e}b\u{200b}",
        ] {
            assert_eq!(cut_quoted(v).to_string(), format!("{v:?}"));
        }
        let shown = cut_quoted(&"\n".repeat(200)).to_string();
        assert_eq!(shown, format!("\"{}\"...(200 bytes)", "\\n".repeat(80)));
        let many: Vec<String> = (0..100).map(|_| "y".repeat(1000)).collect();
        let shown = cut_list(&many).to_string();
        assert!(shown.len() < 400, "{}", shown.len());
        assert!(shown.ends_with(", ... and 98 more"), "{shown}");
        let short: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
        assert!(cut_list(&short)
            .to_string()
            .ends_with(r#""k7", ... and 12 more"#));
        assert_eq!(
            cut_text_to("a\u{200b}\u{7}\"\\bcd", 6).to_string(),
            "a\\u{200b}\\u{7}\"\\b...(10 bytes)"
        );
    }

    #[test]
    fn printable_ascii_reads_the_same_on_the_fast_path() {
        for v in ["kid-1", "a\"b", "c\\d", "it's", "", "~!@#$%^&*()"] {
            assert_eq!(cut_quoted(v).to_string(), format!("{v:?}"), "{v}");
            assert_eq!(cut_text(v).to_string(), v, "{v}");
            assert_eq!(cut(v).to_string(), v, "{v}");
        }
        let eighty = "z".repeat(80);
        assert_eq!(cut(&eighty).to_string(), eighty);
        let more = "z".repeat(81);
        assert_eq!(cut(&more).to_string(), format!("{eighty}...(81 bytes)"));
    }
}
