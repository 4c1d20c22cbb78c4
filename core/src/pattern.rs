//! The criteria `pattern` language: condition numbers (1-based), `AND`, `OR`
//! (case-insensitive) and parentheses. `AND` binds tighter than `OR`.
//!
//! ```text
//! expr   := term ("OR" term)*
//! term   := factor ("AND" factor)*
//! factor := NUMBER | "(" expr ")"
//! ```

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Cond(usize),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// 1-based character position in the pattern, when one applies.
    pub position: Option<usize>,
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{} at position {p}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Num(usize),
    And,
    Or,
    Open,
    Close,
}

/// Deepest parenthesis nesting accepted; deeper input is refused rather
/// than risking the stack.
const MAX_DEPTH: usize = 64;

fn err(position: usize, message: impl Into<String>) -> PatternError {
    PatternError {
        position: Some(position),
        message: message.into(),
    }
}

fn tokenize(input: &str) -> Result<Vec<(usize, Token)>, PatternError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            tokens.push((pos, Token::Open));
            i += 1;
        } else if c == ')' {
            tokens.push((pos, Token::Close));
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n = text
                .parse::<usize>()
                .map_err(|_| err(pos, format!("condition number {text} is too large")))?;
            tokens.push((pos, Token::Num(n)));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            match word.to_ascii_uppercase().as_str() {
                "AND" => tokens.push((pos, Token::And)),
                "OR" => tokens.push((pos, Token::Or)),
                _ => {
                    return Err(err(
                        pos,
                        format!("unexpected word \"{word}\" (expected AND or OR)"),
                    ))
                }
            }
        } else {
            return Err(err(pos, format!("unexpected character \"{c}\"")));
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    end: usize,
    conditions: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn position(&self) -> usize {
        self.tokens
            .get(self.at)
            .map(|(p, _)| *p)
            .unwrap_or(self.end)
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, PatternError> {
        let mut items = vec![self.term(depth)?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            items.push(self.term(depth)?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::Or(items)
        })
    }

    fn term(&mut self, depth: usize) -> Result<Expr, PatternError> {
        let mut items = vec![self.factor(depth)?];
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            items.push(self.factor(depth)?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::And(items)
        })
    }

    fn factor(&mut self, depth: usize) -> Result<Expr, PatternError> {
        let pos = self.position();
        match self.peek().cloned() {
            Some(Token::Num(n)) => {
                if n == 0 || n > self.conditions {
                    return Err(err(
                        pos,
                        format!(
                            "condition {n} does not exist (there {})",
                            match self.conditions {
                                1 => "is 1 condition".to_string(),
                                c => format!("are {c} conditions"),
                            }
                        ),
                    ));
                }
                self.at += 1;
                Ok(Expr::Cond(n))
            }
            Some(Token::Open) => {
                if depth >= MAX_DEPTH {
                    return Err(err(pos, "parentheses nested too deeply"));
                }
                self.at += 1;
                let inner = self.expr(depth + 1)?;
                if self.peek() != Some(&Token::Close) {
                    return Err(err(self.position(), "missing closing parenthesis"));
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Token::Close) => Err(err(pos, "unexpected \")\"")),
            Some(Token::And) | Some(Token::Or) => {
                Err(err(pos, "expected a condition number or \"(\""))
            }
            None => Err(err(
                pos,
                "pattern ends where a condition number was expected",
            )),
        }
    }
}

/// Parses `pattern` for a criteria document with `conditions` conditions.
/// Every condition must be referenced.
pub fn parse(pattern: &str, conditions: usize) -> Result<Expr, PatternError> {
    let tokens = tokenize(pattern)?;
    if tokens.is_empty() {
        return Err(PatternError {
            position: None,
            message: "pattern is empty".into(),
        });
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        end: pattern.chars().count() + 1,
        conditions,
    };
    let expr = parser.expr(0)?;
    if parser.at < parser.tokens.len() {
        return Err(err(
            parser.position(),
            "unexpected token after the end of the pattern",
        ));
    }
    let mut seen = vec![false; conditions + 1];
    mark_used(&expr, &mut seen);
    if let Some(missing) = (1..=conditions).find(|i| !seen[*i]) {
        return Err(PatternError {
            position: None,
            message: format!("pattern does not reference condition {missing}"),
        });
    }
    Ok(expr)
}

/// The pattern used when none is given: every condition ANDed.
pub fn all_and(conditions: usize) -> Expr {
    if conditions == 1 {
        Expr::Cond(1)
    } else {
        Expr::And((1..=conditions).map(Expr::Cond).collect())
    }
}

fn mark_used(expr: &Expr, seen: &mut [bool]) {
    match expr {
        Expr::Cond(n) => seen[*n] = true,
        Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| mark_used(e, seen)),
    }
}

impl Expr {
    /// Renders the expression, each condition through `render`, fully
    /// parenthesised so precedence never depends on the reader.
    pub fn render(&self, render: &mut dyn FnMut(usize) -> String) -> String {
        match self {
            Expr::Cond(n) => render(*n),
            Expr::And(items) => Self::join(items, " AND ", render),
            Expr::Or(items) => Self::join(items, " OR ", render),
        }
    }

    fn join(items: &[Expr], sep: &str, render: &mut dyn FnMut(usize) -> String) -> String {
        let parts: Vec<String> = items.iter().map(|e| e.render(render)).collect();
        format!("({})", parts.join(sep))
    }

    /// Evaluates the expression with each condition's truth from `value`.
    pub fn eval(&self, value: &dyn Fn(usize) -> bool) -> bool {
        match self {
            Expr::Cond(n) => value(*n),
            Expr::And(items) => items.iter().all(|e| e.eval(value)),
            Expr::Or(items) => items.iter().any(|e| e.eval(value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn and_binds_tighter_than_or() {
        assert_eq!(
            parse("1 AND 2 OR 3", 3).unwrap(),
            Expr::Or(vec![
                Expr::And(vec![Expr::Cond(1), Expr::Cond(2)]),
                Expr::Cond(3)
            ])
        );
        assert_eq!(
            parse("1 and (2 or 3)", 3).unwrap(),
            Expr::And(vec![
                Expr::Cond(1),
                Expr::Or(vec![Expr::Cond(2), Expr::Cond(3)])
            ])
        );
    }

    #[test]
    fn every_condition_must_be_referenced() {
        let e = parse("1 OR 2", 3).unwrap_err();
        assert_eq!(e.message, "pattern does not reference condition 3");
    }

    #[test]
    fn errors_name_the_position() {
        let e = parse("(1 AND 2", 2).unwrap_err();
        assert_eq!(e.to_string(), "missing closing parenthesis at position 9");
        let e = parse("1 AND 4", 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "condition 4 does not exist (there are 2 conditions) at position 7"
        );
        let e = parse("1 XOR 2", 2).unwrap_err();
        assert!(e.to_string().contains("\"XOR\""), "{e}");
        let e = parse("1 2", 2).unwrap_err();
        assert!(e.to_string().contains("position 3"), "{e}");
        assert!(parse("", 1).is_err());
        assert!(parse("1;", 1).unwrap_err().to_string().contains("\";\""));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let p = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&p, 1)
            .unwrap_err()
            .message
            .contains("nested too deeply"));
    }

    #[test]
    fn render_parenthesises() {
        let e = parse("1 AND 2 OR 3", 3).unwrap();
        assert_eq!(e.render(&mut |n| format!("c{n}")), "((c1 AND c2) OR c3)");
    }
}
