//! Criteria documents of criteria-based sharing rules: parsing from JSON,
//! validation against the table's columns, and compilation to a SQL
//! condition on the row (identifiers quoted, values as typed literals).
//!
//! ```json
//! {"conditions": [{"column": "billing_city", "op": "=", "value": "New York"},
//!                 {"column": "amount", "op": ">=", "value": 10000}],
//!  "pattern": "1 OR 2"}
//! ```

use crate::pattern::{self, Expr};
use crate::sql::{quote_ident, typed_literal};
use serde_json::Value;
use std::fmt;

/// The families of column types that decide which operators fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeFamily {
    Text,
    Number,
    Boolean,
    Temporal,
    Uuid,
    Other,
}

impl TypeFamily {
    /// Classifies a type by its `pg_type.typname` (or base type name).
    pub fn of_typname(typname: &str) -> TypeFamily {
        match typname {
            "text" | "varchar" | "bpchar" | "char" | "name" | "citext" => TypeFamily::Text,
            "int2" | "int4" | "int8" | "numeric" | "float4" | "float8" | "money" => {
                TypeFamily::Number
            }
            "bool" => TypeFamily::Boolean,
            "date" | "timestamp" | "timestamptz" | "time" | "timetz" => TypeFamily::Temporal,
            "uuid" => TypeFamily::Uuid,
            _ => TypeFamily::Other,
        }
    }
}

/// A column of the protected table as the compiler needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The type as `format_type` prints it, used in casts.
    pub sql_type: String,
    pub family: TypeFamily,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    IsNull,
    IsNotNull,
    Contains,
    StartsWith,
    EndsWith,
}

impl Op {
    pub const ALL: [Op; 13] = [
        Op::Eq,
        Op::Ne,
        Op::Lt,
        Op::Le,
        Op::Gt,
        Op::Ge,
        Op::In,
        Op::NotIn,
        Op::IsNull,
        Op::IsNotNull,
        Op::Contains,
        Op::StartsWith,
        Op::EndsWith,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::IsNull => "is_null",
            Op::IsNotNull => "is_not_null",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.as_str() == s)
    }

    fn takes_value(self) -> bool {
        !matches!(self, Op::IsNull | Op::IsNotNull)
    }

    fn fits(self, family: TypeFamily) -> bool {
        match self {
            Op::Eq | Op::Ne | Op::In | Op::NotIn | Op::IsNull | Op::IsNotNull => true,
            Op::Lt | Op::Le | Op::Gt | Op::Ge => matches!(
                family,
                TypeFamily::Text | TypeFamily::Number | TypeFamily::Temporal | TypeFamily::Uuid
            ),
            Op::Contains | Op::StartsWith | Op::EndsWith => family == TypeFamily::Text,
        }
    }
}

/// A validated condition. Values are kept as the text that will be cast to
/// the column's type.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub column: Column,
    pub op: Op,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Criteria {
    pub conditions: Vec<Condition>,
    pub pattern: Expr,
    /// The pattern as written, if one was given.
    pub pattern_text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriteriaError(pub String);

impl fmt::Display for CriteriaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Most conditions in one criteria document, and values in one `in` list.
pub const MAX_CONDITIONS: usize = 100;
pub const MAX_VALUES: usize = 1000;

fn fail<T>(msg: String) -> Result<T, CriteriaError> {
    Err(CriteriaError(msg))
}

/// Turns a JSON scalar into the text to cast. Strings are taken as they are;
/// numbers and booleans as JSON prints them.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses and validates a criteria document against `columns` of `table`.
pub fn parse(doc: &Value, columns: &[Column], table: &str) -> Result<Criteria, CriteriaError> {
    let obj = match doc {
        Value::Object(o) => o,
        _ => return fail("criteria must be a JSON object with \"conditions\"".into()),
    };
    if let Some(key) = obj.keys().find(|k| *k != "conditions" && *k != "pattern") {
        return fail(format!(
            "unknown key \"{key}\" in criteria (expected \"conditions\" and \"pattern\")"
        ));
    }
    let list = match obj.get("conditions") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(Value::Array(_)) => return fail("criteria has no conditions".into()),
        _ => return fail("criteria \"conditions\" must be an array of conditions".into()),
    };
    if list.len() > MAX_CONDITIONS {
        return fail(format!(
            "criteria has {} conditions; at most {MAX_CONDITIONS} are allowed",
            list.len()
        ));
    }
    let mut conditions = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        conditions.push(parse_condition(i + 1, item, columns, table)?);
    }
    let (pattern, pattern_text) = match obj.get("pattern") {
        None | Some(Value::Null) => (pattern::all_and(conditions.len()), None),
        Some(Value::String(p)) => (
            pattern::parse(p, conditions.len())
                .map_err(|e| CriteriaError(format!("invalid criteria pattern \"{p}\": {e}")))?,
            Some(p.clone()),
        ),
        Some(_) => return fail("criteria \"pattern\" must be a string".into()),
    };
    Ok(Criteria {
        conditions,
        pattern,
        pattern_text,
    })
}

fn parse_condition(
    n: usize,
    item: &Value,
    columns: &[Column],
    table: &str,
) -> Result<Condition, CriteriaError> {
    let obj = match item {
        Value::Object(o) => o,
        _ => return fail(format!("criteria condition {n} must be an object")),
    };
    if let Some(key) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "column" | "op" | "value"))
    {
        return fail(format!("unknown key \"{key}\" in criteria condition {n}"));
    }
    let col_name = match obj.get("column") {
        Some(Value::String(s)) => s,
        _ => return fail(format!("criteria condition {n} needs a \"column\" string")),
    };
    let column = match columns.iter().find(|c| &c.name == col_name) {
        Some(c) => c.clone(),
        None => {
            return fail(format!(
                "unknown column \"{col_name}\" in criteria condition {n} for table {table}"
            ))
        }
    };
    let op_text = match obj.get("op") {
        Some(Value::String(s)) => s,
        _ => return fail(format!("criteria condition {n} needs an \"op\" string")),
    };
    let op = match Op::parse(op_text) {
        Some(op) => op,
        None => {
            return fail(format!(
                "unknown op \"{op_text}\" in criteria condition {n} (expected one of {})",
                Op::ALL.map(|o| o.as_str()).join(", ")
            ))
        }
    };
    if !op.fits(column.family) {
        return fail(format!(
            "op \"{op_text}\" does not fit column \"{col_name}\" of type {} in criteria condition {n}",
            column.sql_type
        ));
    }
    let value = obj.get("value");
    let values = match (op, value) {
        (Op::IsNull | Op::IsNotNull, None | Some(Value::Null)) => Vec::new(),
        (Op::IsNull | Op::IsNotNull, Some(_)) => {
            return fail(format!(
                "op \"{op_text}\" takes no value in criteria condition {n}"
            ))
        }
        (Op::In | Op::NotIn, Some(Value::Array(items))) => {
            if items.is_empty() {
                return fail(format!(
                    "op \"{op_text}\" needs a non-empty array value in criteria condition {n}"
                ));
            }
            if items.len() > MAX_VALUES {
                return fail(format!(
                    "criteria condition {n} has {} values; at most {MAX_VALUES} are allowed",
                    items.len()
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match scalar_text(item) {
                    Some(t) => out.push(t),
                    None => {
                        return fail(format!(
                            "value {item} in criteria condition {n} must be a string, number or boolean"
                        ))
                    }
                }
            }
            out
        }
        (Op::In | Op::NotIn, _) => {
            return fail(format!(
                "op \"{op_text}\" needs an array value in criteria condition {n}"
            ))
        }
        (_, Some(v)) => match scalar_text(v) {
            Some(t) => vec![t],
            None => {
                return fail(format!(
                    "value {v} in criteria condition {n} must be a string, number or boolean"
                ))
            }
        },
        (_, None) => {
            return fail(format!(
                "op \"{op_text}\" needs a \"value\" in criteria condition {n}"
            ))
        }
    };
    debug_assert_eq!(op.takes_value(), !values.is_empty());
    // A policy keeps the value as parsed when it is generated; a value
    // that means a different moment each day would be frozen at whatever
    // day the policies were last regenerated.
    if column.family == TypeFamily::Temporal {
        if let Some(v) = values.iter().find(|v| is_relative_time(v)) {
            return fail(format!(
                "value \"{v}\" in criteria condition {n} is relative to the current time; \
                 column \"{col_name}\" needs a fixed date or time"
            ));
        }
    }
    Ok(Condition { column, op, values })
}

/// Whether a date/time input names a moment relative to now (`now`,
/// `today`, `tomorrow`, `yesterday`, alone or with a time).
fn is_relative_time(value: &str) -> bool {
    let v = value.to_lowercase();
    ["now", "today", "tomorrow", "yesterday"]
        .iter()
        .any(|w| v.contains(w))
}

impl Condition {
    /// The condition as SQL over the row's columns; `prefix` qualifies the
    /// column (e.g. `t.`) or is empty.
    pub fn to_sql(&self, prefix: &str) -> String {
        let col = format!("{prefix}{}", quote_ident(&self.column.name));
        let lit = |v: &str| typed_literal(v, &self.column.sql_type);
        let text_lit = |v: &str| typed_literal(v, "text");
        match self.op {
            Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                let sym = if self.op == Op::Ne {
                    "<>"
                } else {
                    self.op.as_str()
                };
                format!("{col} {sym} {}", lit(&self.values[0]))
            }
            Op::In | Op::NotIn => {
                let items: Vec<String> = self.values.iter().map(|v| lit(v)).collect();
                let kw = if self.op == Op::In { "IN" } else { "NOT IN" };
                format!("{col} {kw} ({})", items.join(", "))
            }
            Op::IsNull => format!("{col} IS NULL"),
            Op::IsNotNull => format!("{col} IS NOT NULL"),
            Op::Contains => format!(
                "strpos(lower({col}::text), lower({})) > 0",
                text_lit(&self.values[0])
            ),
            Op::StartsWith => format!(
                "starts_with(lower({col}::text), lower({}))",
                text_lit(&self.values[0])
            ),
            Op::EndsWith => {
                let v = text_lit(&self.values[0]);
                // length(lower(v)): lowering may change the length (ICU).
                format!("right(lower({col}::text), length(lower({v}))) = lower({v})")
            }
        }
    }

    /// How a person reads the condition: `billing_city = New York`.
    pub fn describe(&self) -> String {
        match self.op {
            Op::IsNull | Op::IsNotNull => format!("{} {}", self.column.name, self.op.as_str()),
            Op::In | Op::NotIn => format!(
                "{} {} ({})",
                self.column.name,
                self.op.as_str(),
                self.values.join(", ")
            ),
            _ => format!(
                "{} {} {}",
                self.column.name,
                self.op.as_str(),
                self.values[0]
            ),
        }
    }
}

impl Criteria {
    /// The whole criteria as one parenthesised SQL condition on the row.
    pub fn to_sql(&self, prefix: &str) -> String {
        self.pattern
            .render(&mut |n| format!("({})", self.conditions[n - 1].to_sql(prefix)))
    }

    /// The criteria as a person reads them.
    pub fn describe(&self) -> String {
        let text = self
            .pattern
            .render(&mut |n| self.conditions[n - 1].describe());
        // The outermost parentheses add nothing for a reader.
        match text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
            Some(inner) if matches!(self.pattern, Expr::And(_) | Expr::Or(_)) => inner.to_string(),
            _ => text,
        }
    }

    /// Every (condition number, value, SQL type) whose cast the server must
    /// check before the rule is accepted.
    pub fn literals(&self) -> Vec<(usize, &str, &str)> {
        self.conditions
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                c.values
                    .iter()
                    .map(move |v| (i + 1, v.as_str(), c.column.sql_type.as_str()))
            })
            .filter(|(i, _, _)| {
                !matches!(
                    self.conditions[i - 1].op,
                    Op::Contains | Op::StartsWith | Op::EndsWith
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn columns() -> Vec<Column> {
        [
            ("billing_city", "text"),
            ("type", "text"),
            ("amount", "numeric"),
            ("closed", "bool"),
            ("created", "date"),
        ]
        .iter()
        .map(|(n, t)| Column {
            name: n.to_string(),
            sql_type: if *t == "bool" {
                "boolean".into()
            } else {
                t.to_string()
            },
            family: TypeFamily::of_typname(t),
        })
        .collect()
    }

    #[test]
    fn compiles_the_spec_example() {
        let doc = json!({"conditions": [
            {"column": "billing_city", "op": "=", "value": "New York"},
            {"column": "type", "op": "=", "value": "Business"},
            {"column": "amount", "op": ">=", "value": 10000}],
            "pattern": "(1 AND 2) OR 3"});
        let c = parse(&doc, &columns(), "accounts").unwrap();
        assert_eq!(
            c.to_sql(""),
            "(((\"billing_city\" = 'New York'::text) AND (\"type\" = 'Business'::text)) OR (\"amount\" >= '10000'::numeric))"
        );
        assert_eq!(
            c.describe(),
            "(billing_city = New York AND type = Business) OR amount >= 10000"
        );
    }

    #[test]
    fn default_pattern_ands_everything() {
        let doc = json!({"conditions": [
            {"column": "billing_city", "op": "is_not_null"},
            {"column": "type", "op": "in", "value": ["A", "B"]}]});
        let c = parse(&doc, &columns(), "accounts").unwrap();
        assert_eq!(
            c.to_sql("t."),
            "((t.\"billing_city\" IS NOT NULL) AND (t.\"type\" IN ('A'::text, 'B'::text)))"
        );
    }

    #[test]
    fn text_ops_are_case_insensitive_and_quoted() {
        let doc =
            json!({"conditions": [{"column": "billing_city", "op": "contains", "value": "O'x\\"}]});
        let sql = parse(&doc, &columns(), "accounts").unwrap().to_sql("");
        assert_eq!(
            sql,
            "(strpos(lower(\"billing_city\"::text), lower(E'O''x\\\\'::text)) > 0)"
        );
    }

    fn error_of(doc: Value) -> String {
        parse(&doc, &columns(), "accounts").unwrap_err().0
    }

    #[test]
    fn errors_name_the_offending_part() {
        assert_eq!(
            error_of(
                json!({"conditions": [{"column": "a", "op": "=", "value": 1},
                                           {"column": "bilingcity", "op": "=", "value": "x"}]})
            ),
            "unknown column \"a\" in criteria condition 1 for table accounts"
        );
        assert_eq!(
            error_of(
                json!({"conditions": [{"column": "type", "op": "=", "value": "x"},
                                           {"column": "bilingcity", "op": "=", "value": "x"}]})
            ),
            "unknown column \"bilingcity\" in criteria condition 2 for table accounts"
        );
        assert!(error_of(json!({"conditions": [{"column": "amount", "op": "contains", "value": "1"}]}))
            .contains("op \"contains\" does not fit column \"amount\" of type numeric in criteria condition 1"));
        assert!(error_of(
            json!({"conditions": [{"column": "amount", "op": "like", "value": "1"}]})
        )
        .contains("unknown op \"like\""));
        assert!(
            error_of(json!({"conditions": [{"column": "type", "op": "in", "value": "x"}]}))
                .contains("needs an array value")
        );
        assert!(
            error_of(json!({"conditions": [{"column": "type", "op": "in", "value": []}]}))
                .contains("non-empty array")
        );
        assert!(
            error_of(json!({"conditions": [{"column": "type", "op": "is_null", "value": 1}]}))
                .contains("takes no value")
        );
        assert!(
            error_of(json!({"conditions": [{"column": "type", "op": "="}]}))
                .contains("needs a \"value\"")
        );
        assert!(error_of(
            json!({"conditions": [{"column": "type", "op": "=", "value": {"a": 1}}]})
        )
        .contains("must be a string, number or boolean"));
        assert!(error_of(json!({"conditions": [{"column": "type", "op": "=", "value": "x"}], "pattern": "1 OR 2"}))
            .contains("invalid criteria pattern \"1 OR 2\": condition 2 does not exist"));
        assert!(error_of(json!({"conditions": []})).contains("no conditions"));
        assert!(error_of(json!([1])).contains("JSON object"));
        assert!(
            error_of(json!({"conditions": [{"column": "closed", "op": "<", "value": true}]}))
                .contains("does not fit")
        );
    }

    #[test]
    fn relative_times_are_refused_for_temporal_columns() {
        for v in ["today", "Now", "yesterday 10:00", "tomorrow"] {
            let e =
                error_of(json!({"conditions": [{"column": "created", "op": ">=", "value": v}]}));
            assert!(
                e.contains(&format!(
                    "value \"{v}\" in criteria condition 1 is relative to the current time"
                )),
                "{e}"
            );
        }
        // Text columns may hold such words.
        parse(
            &json!({"conditions": [{"column": "type", "op": "=", "value": "today"}]}),
            &columns(),
            "accounts",
        )
        .unwrap();
        parse(
            &json!({"conditions": [{"column": "created", "op": "<", "value": "2024-01-01"}]}),
            &columns(),
            "accounts",
        )
        .unwrap();
    }

    #[test]
    fn literals_to_check_skip_text_search_ops() {
        let doc = json!({"conditions": [
            {"column": "amount", "op": "in", "value": [1, "x"]},
            {"column": "billing_city", "op": "contains", "value": "y"}]});
        let c = parse(&doc, &columns(), "accounts").unwrap();
        assert_eq!(c.literals(), vec![(1, "1", "numeric"), (1, "x", "numeric")]);
    }

    /// A string that ends a literal early would have to contain an odd run
    /// of quotes outside `''` pairs. After removing every literal we
    /// generated, nothing of the caller's input may remain.
    fn strip_literals(sql: &str) -> String {
        let mut out = String::new();
        let chars: Vec<char> = sql.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '\'' || (chars[i] == 'E' && chars.get(i + 1) == Some(&'\'')) {
                if chars[i] == 'E' {
                    i += 1;
                }
                i += 1;
                loop {
                    assert!(i < chars.len(), "unterminated literal in {sql}");
                    if chars[i] == '\\' {
                        i += 2;
                        continue;
                    }
                    if chars[i] == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                out.push('L');
            } else if chars[i] == '"' {
                i += 1;
                loop {
                    assert!(i < chars.len(), "unterminated identifier in {sql}");
                    if chars[i] == '"' {
                        if chars.get(i + 1) == Some(&'"') {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                out.push('I');
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        out
    }

    proptest! {
        #[test]
        fn no_input_panics_or_escapes_quoting(
            col in prop_oneof![Just("billing_city".to_string()), Just("amount".to_string()), ".*"],
            op in prop_oneof![Just("=".to_string()), Just("contains".to_string()), Just("in".to_string()), ".*"],
            value in ".*",
            pattern in prop_oneof![Just("1".to_string()), "[0-9 ()ANDOR]*", ".*"],
        ) {
            let doc = json!({"conditions": [{"column": col, "op": op, "value": if op == "in" { json!([value]) } else { json!(value) }}],
                             "pattern": pattern});
            if let Ok(c) = parse(&doc, &columns(), "accounts") {
                let sql = c.to_sql("");
                let skeleton = strip_literals(&sql);
                // Only our own keywords, functions and punctuation remain.
                let allowed = ["::text", "::numeric", "lower", "strpos", "starts_with", "right", "length",
                               "NULL", "NOT", "AND", "IN", "IS", "OR", "I", "L", ">", "<", "=", ",", "(", ")", " ", "0"];
                let mut rest = skeleton.clone();
                for a in allowed { rest = rest.replace(a, ""); }
                prop_assert!(rest.trim().is_empty(), "unexpected SQL left over: {rest:?} in {sql}");
            }
        }

        #[test]
        fn arbitrary_json_never_panics(s in ".{0,200}") {
            if let Ok(v) = serde_json::from_str::<Value>(&s) {
                let _ = parse(&v, &columns(), "accounts");
            }
        }
    }
}
