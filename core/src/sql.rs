//! Quoting helpers. Generated SQL never contains caller input that did not
//! pass through one of these.

/// Quotes an identifier the way PostgreSQL's `quote_ident` does when quoting
/// is needed; we always quote, which is never wrong.
pub fn quote_ident(ident: &str) -> String {
    let mut out = String::with_capacity(ident.len() + 2);
    out.push('"');
    for c in ident.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Quotes a string literal. Backslashes force the `E''` form so the literal
/// means the same whatever `standard_conforming_strings` says.
pub fn quote_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 3);
    let escape = value.contains('\\');
    if escape {
        out.push('E');
    }
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A literal of a given SQL type: `'New York'::text`. `sql_type` comes from
/// the server's catalog (`format_type`), never from caller input.
pub fn typed_literal(value: &str, sql_type: &str) -> String {
    format!("{}::{}", quote_literal(value), sql_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_always_quoted() {
        assert_eq!(quote_ident("owner_id"), "\"owner_id\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn literals_double_quotes_and_escape_backslashes() {
        assert_eq!(quote_literal("O'Brien"), "'O''Brien'");
        assert_eq!(quote_literal("a\\b"), "E'a\\\\b'");
        assert_eq!(typed_literal("10", "numeric"), "'10'::numeric");
    }
}
