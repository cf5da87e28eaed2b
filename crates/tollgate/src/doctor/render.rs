//! The human report: a numbered checklist, the diagnosis (most likely cause first, with
//! its evidence and fix), the provider, then the decoded header and claims with readable
//! times. Plain text, or with ANSI colours for a terminal. The signature is never shown.

use serde_json::{Map, Value};

use super::checks::MAX_PLAUSIBLE_SECONDS;
use super::time;
use super::{Report, Status, Verdict};

/// Claims shown with a readable time next to them.
pub const TIME_CLAIMS: &[&str] = &["exp", "nbf", "iat", "auth_time", "updated_at"];

/// Text wraps at this width (a common terminal, minus a margin).
const WIDTH: usize = 100;

struct Paint {
    on: bool,
}

impl Paint {
    fn code(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.code("1", s)
    }
    fn status(&self, st: Status) -> String {
        let word = format!("{:<8}", st.word());
        match st {
            Status::Pass => self.code("32", &word),
            Status::Fail => self.code("1;31", &word),
            Status::Warn => self.code("33", &word),
            Status::Skip => self.code("2", &word),
        }
    }
}

/// Word-wraps `text` to [`WIDTH`], the first line after `first`, the rest indented by `indent`.
fn wrap(first: &str, indent: usize, text: &str) -> String {
    let mut out = String::from(first);
    let mut col = first.chars().count();
    let mut line_start = true;
    for word in text.split(' ') {
        let w = word.chars().count();
        // Break before a word that does not fit, unless it would not fit a fresh line either
        // (a long URL): then it stays, and the line runs long.
        if !line_start && col + 1 + w > WIDTH && indent + w <= WIDTH {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
            line_start = true;
        }
        if !line_start {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
        line_start = false;
    }
    out.push('\n');
    out
}

/// A claim's value, with a readable time for time claims.
pub fn claim_value(name: &str, value: &Value, now: i64) -> String {
    let text = value.to_string();
    if !TIME_CLAIMS.contains(&name) {
        return text;
    }
    match crate::claims::numeric_date(value) {
        Some(t) if t.unsigned_abs() > MAX_PLAUSIBLE_SECONDS as u64 => {
            format!(
                "{text}  (milliseconds? as ms: {}, {})",
                time::date(t / 1000),
                time::relative(t / 1000, now)
            )
        }
        Some(t) => format!("{text}  ({}, {})", time::date(t), time::relative(t, now)),
        None => text,
    }
}

/// Renders a map as aligned `name  value` lines.
pub fn members(map: &Map<String, Value>, now: i64, indent: &str) -> String {
    let width = map.keys().map(|k| k.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in map {
        out.push_str(&format!(
            "{indent}{k:<width$}  {}\n",
            claim_value(k, v, now)
        ));
    }
    out
}

/// Renders the report for people; `colour` adds ANSI colours.
pub fn render(report: &Report, colour: bool) -> String {
    let p = Paint { on: colour };
    let mut out = String::new();
    let verdict = match report.verdict {
        Verdict::Valid => p.code("1;32", "VALID"),
        Verdict::Invalid => p.code("1;31", "INVALID"),
        Verdict::CannotCheck => p.code("1;33", "COULD NOT BE CHECKED"),
    };
    match report.code {
        Some(code) => out.push_str(&format!("Token {verdict} ({code})\n")),
        None => out.push_str(&format!("Token {verdict}\n")),
    }
    if let Some(m) = &report.message {
        out.push_str(&wrap("  ", 2, m));
    }

    out.push('\n');
    out.push_str(&p.bold("Checks"));
    out.push('\n');
    let title_w = report
        .checks
        .iter()
        .map(|c| c.title.len())
        .max()
        .unwrap_or(0);
    for (i, c) in report.checks.iter().enumerate() {
        let first = format!(
            "{:>3}. {:<title_w$}  {} ",
            i + 1,
            c.title,
            p.status(c.status)
        );
        let visible = 3 + 2 + title_w + 2 + 8 + 1;
        // Wrap on the visible width, not counting colour codes.
        let wrapped = wrap(&" ".repeat(visible), visible, &c.summary);
        out.push_str(&first);
        out.push_str(&wrapped[visible..]);
    }

    if !report.causes.is_empty() {
        out.push('\n');
        out.push_str(&p.bold("Diagnosis"));
        out.push('\n');
        for (i, c) in report.causes.iter().enumerate() {
            if i == 1 {
                out.push_str("\n  Other possible causes:\n");
            }
            let label = if i == 0 { "Most likely" } else { "" };
            let head = if i == 0 {
                format!("  {label}: {}\n", p.bold(c.id))
            } else {
                format!("  {}. {}\n", i + 1, p.bold(c.id))
            };
            out.push_str(&head);
            out.push_str(&wrap("    ", 4, &c.summary));
            out.push_str(&wrap("    Evidence: ", 14, &c.evidence));
            out.push_str(&wrap("    Fix: ", 9, &c.fix));
        }
    }

    out.push('\n');
    out.push_str(&p.bold("Provider"));
    out.push('\n');
    let pr = &report.provider;
    let source = if pr.source == "token" {
        "recognised from the token's iss"
    } else {
        "recognised from the configured issuer"
    };
    out.push_str(&format!("  {} ({source})\n", pr.name));
    if let Some(u) = &pr.discovery_url {
        out.push_str(&format!("  discovery  {u}\n"));
    }
    if let Some(u) = &pr.jwks_url {
        out.push_str(&format!("  keys       {u}\n"));
    }
    if !pr.notes.is_empty() {
        out.push_str(&wrap("  note       ", 13, pr.notes));
    }

    if let Some(r) = &report.introspection {
        out.push('\n');
        out.push_str(&p.bold("Introspection"));
        out.push('\n');
        let active = match r.active {
            Some(true) => "yes",
            Some(false) => "no (revoked, expired or unknown)",
            None => "no answer",
        };
        let mut rows = vec![
            ("issuer", r.issuer.clone()),
            (
                "endpoint",
                r.endpoint.clone().unwrap_or_else(|| "(not found)".into()),
            ),
            ("active", active.to_string()),
        ];
        for (name, v) in [
            ("client", &r.client_id),
            ("scopes", &r.scope),
            ("subject", &r.sub),
        ] {
            if let Some(v) = v {
                rows.push((name, v.clone()));
            }
        }
        if let Some(exp) = r.exp {
            rows.push((
                "expires",
                format!("{} ({})", time::date(exp), time::relative(exp, report.now)),
            ));
        }
        if let Some(e) = &r.error {
            rows.push(("error", e.clone()));
        }
        for (name, v) in rows {
            out.push_str(&wrap(&format!("  {name:<9}  "), 13, &v));
        }
    }

    if let Some(h) = &report.header {
        out.push('\n');
        out.push_str(&p.bold("Header"));
        out.push('\n');
        out.push_str(&members(h, report.now, "  "));
    }
    if let Some(c) = &report.claims {
        out.push('\n');
        out.push_str(&p.bold("Claims"));
        out.push('\n');
        out.push_str(&members(c, report.now, "  "));
    }
    if !report.notes.is_empty() {
        out.push('\n');
        out.push_str(&p.bold("Notes"));
        out.push('\n');
        for n in &report.notes {
            out.push_str(&wrap("  - ", 4, n));
        }
    }
    out
}
