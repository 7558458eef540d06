//! `${...}` expansion in config strings.
//!
//! | syntax | meaning |
//! |---|---|
//! | `${VAR}` | environment variable `VAR`; an error if unset |
//! | `${VAR:-default}` | `VAR`, or `default` if unset or empty |
//! | `${env:VAR}` | same as `${VAR}` (Cursor / Windsurf spelling) |
//! | `${file:/path}` | contents of a file, trailing newline removed (for secrets) |
//! | `$${` | a literal `${` |
//!
//! A `$` not followed by `{` is kept as is.

use std::path::PathBuf;

/// Where values come from; tests substitute their own.
pub trait Env {
    /// The value of a variable, if set.
    fn var(&self, name: &str) -> Option<String>;
    /// The contents of a file.
    fn read_file(&self, path: &str) -> std::io::Result<String>;
}

/// The process environment and file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn read_file(&self, path: &str) -> std::io::Result<String> {
        let expanded = if let Some(rest) = path.strip_prefix("~/") {
            dirs::home_dir()
                .map(|h| h.join(rest))
                .unwrap_or_else(|| PathBuf::from(path))
        } else {
            PathBuf::from(path)
        };
        std::fs::read_to_string(expanded)
    }
}

/// Why a string could not be expanded.
#[derive(Debug)]
pub enum InterpolationError {
    /// A variable without default is unset.
    Missing(String),
    /// A `${file:...}` could not be read.
    File(String, std::io::Error),
    /// Syntax error.
    Syntax(String),
}

/// Expands every `${...}` in `input`.
pub fn expand(input: &str, env: &dyn Env) -> Result<String, InterpolationError> {
    if !input.contains('$') {
        return Ok(input.to_owned());
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(lit) = after.strip_prefix("${") {
            out.push_str("${");
            rest = lit;
            continue;
        }
        let Some(body_start) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body_start.find('}') else {
            return Err(InterpolationError::Syntax(
                "`${` without a closing `}` (write `$${` for a literal `${`)".into(),
            ));
        };
        let expr = &body_start[..end];
        out.push_str(&eval(expr, env)?);
        rest = &body_start[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn eval(expr: &str, env: &dyn Env) -> Result<String, InterpolationError> {
    if let Some(path) = expr.strip_prefix("file:") {
        let path = path.trim();
        if path.is_empty() {
            return Err(InterpolationError::Syntax("`${file:}` needs a path".into()));
        }
        let value = env
            .read_file(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
            .map_err(|e| InterpolationError::File(path.to_owned(), e))?;
        // Files referenced from a config hold secrets as a rule.
        mcpkey_auth::redact::mask_everywhere(&value);
        return Ok(value);
    }
    let expr = expr.strip_prefix("env:").unwrap_or(expr);
    let (name, default) = match expr.split_once(":-") {
        Some((n, d)) => (n, Some(d)),
        None => (expr, None),
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(InterpolationError::Syntax(format!(
            "`${{{}}}` is not a variable reference; names use letters, digits and _",
            // Show only the name part: a default may be a secret.
            name.chars().take(64).collect::<String>()
        )));
    }
    let value = match (env.var(name), default) {
        (Some(v), Some(d)) if v.is_empty() => d.to_owned(),
        (Some(v), _) => v,
        (None, Some(d)) => d.to_owned(),
        (None, None) => return Err(InterpolationError::Missing(name.to_owned())),
    };
    if mcpkey_auth::secret::is_credential_name(name) {
        // Masked wherever a URL is printed, even in a path (`/mcp/${TOKEN}/sse`).
        mcpkey_auth::redact::mask_everywhere(&value);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
        fn read_file(&self, path: &str) -> std::io::Result<String> {
            if path == "/secret" {
                Ok("s3cr3t\n".into())
            } else {
                Err(std::io::Error::new(std::io::ErrorKind::NotFound, "nope"))
            }
        }
    }

    fn env() -> MapEnv {
        MapEnv(HashMap::from([("TOKEN", "abc"), ("EMPTY", "")]))
    }

    #[test]
    fn forms() {
        let e = env();
        assert_eq!(expand("Bearer ${TOKEN}", &e).unwrap(), "Bearer abc");
        assert_eq!(expand("${env:TOKEN}", &e).unwrap(), "abc");
        assert_eq!(expand("${NOPE:-dflt}", &e).unwrap(), "dflt");
        assert_eq!(expand("${EMPTY:-dflt}", &e).unwrap(), "dflt");
        assert_eq!(expand("${EMPTY}", &e).unwrap(), "");
        assert_eq!(expand("${file:/secret}", &e).unwrap(), "s3cr3t");
        assert_eq!(
            expand("cost $5 and $${HOME}", &e).unwrap(),
            "cost $5 and ${HOME}"
        );
        assert_eq!(expand("no vars", &e).unwrap(), "no vars");
    }

    #[test]
    fn missing_names_the_variable() {
        match expand("x ${TOKEN} ${MISSING_ONE}", &env()) {
            Err(InterpolationError::Missing(n)) => assert_eq!(n, "MISSING_ONE"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn syntax_errors() {
        assert!(matches!(
            expand("${TOKEN", &env()),
            Err(InterpolationError::Syntax(_))
        ));
        assert!(matches!(
            expand("${a b}", &env()),
            Err(InterpolationError::Syntax(_))
        ));
        assert!(matches!(
            expand("${file:/nope}", &env()),
            Err(InterpolationError::File(..))
        ));
    }
}
