//! `tollgate decode`: a token's header and claims with readable times. Nothing is verified
//! and nothing is fetched; JWE and opaque tokens are described, not rejected.

use std::io::IsTerminal;

use serde_json::{json, Map, Value};
use tollgate::doctor::{input, render, time, token};

/// Arguments of `tollgate decode`.
#[derive(clap::Args)]
pub struct Args {
    /// The token (`-` or absent: read standard input). Accepts `Bearer <t>`, an
    /// `Authorization:` line, quotes, a JSON token response or a URL with `access_token=`.
    pub token: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// "Now" for relative times, in Unix seconds (default: the system clock).
    #[arg(long, value_name = "UNIX")]
    pub now: Option<i64>,
}

fn times(claims: &Map<String, Value>, now: i64) -> Value {
    let mut out = Map::new();
    for name in render::TIME_CLAIMS {
        if let Some(t) = claims.get(*name).and_then(Value::as_i64) {
            out.insert(
                name.to_string(),
                json!({"unix": t, "utc": time::date(t), "relative": time::relative(t, now)}),
            );
        }
    }
    Value::Object(out)
}

/// Runs the command.
pub fn run(args: Args) -> u8 {
    let raw = match crate::doctor::read_raw(args.token.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tollgate decode: {e}");
            return crate::exit::USAGE;
        }
    };
    let normalized = match input::normalize(&raw) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("tollgate decode: {e}");
            return crate::exit::USAGE;
        }
    };
    let now = args.now.unwrap_or_else(tollgate::clock::unix_now);
    let insp = token::inspect(&normalized.token);
    let readable = insp.header.is_some();
    let code = if readable {
        crate::exit::OK
    } else {
        crate::exit::INVALID
    };
    let mut notes = normalized.notes.clone();
    if let Some((prefix, who, why)) = insp.known_format {
        notes.push(format!("starts with \"{prefix}\": a {who} token; {why}"));
    }
    if insp.shape == token::Shape::Jwe {
        notes.push(
            "the payload is encrypted: only the holder of the decryption key can read the claims"
                .into(),
        );
    }

    if args.json {
        let out = json!({
            "shape": insp.shape,
            "segments": insp.segments,
            "bytes": insp.len,
            "verified": false,
            "header": insp.header,
            "claims": insp.claims,
            "times": insp.claims.as_ref().map(|c| times(c, now)),
            "problem": insp.problem,
            "notes": notes,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return code;
    }

    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let bold = |s: &str| {
        if colour {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = format!(
        "{}: {} segment(s), {} bytes (not verified)\n",
        tollgate::text::capitalise(insp.shape.describe()),
        insp.segments,
        insp.len
    );
    if let Some(p) = &insp.problem {
        out.push_str(&format!("  {p}\n"));
    }
    if let Some(h) = &insp.header {
        out.push_str(&format!("\n{}\n", bold("Header")));
        out.push_str(&render::members(h, now, "  "));
    }
    if let Some(c) = &insp.claims {
        out.push_str(&format!("\n{}\n", bold("Claims")));
        out.push_str(&render::members(c, now, "  "));
    }
    if !notes.is_empty() {
        out.push_str(&format!("\n{}\n", bold("Notes")));
        for n in &notes {
            out.push_str(&format!("  - {n}\n"));
        }
    }
    print!("{out}");
    code
}
