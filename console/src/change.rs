//! Changes to the sharing model: how each one is previewed (the access diff
//! of the configuration document with the change made to it) and applied
//! (the specific SQL API function, so errors and the audit log are precise).

use serde::Deserialize;
use serde_json::{json, Value};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient};

use crate::db::DbError;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RuleSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub rule_type: String,
    #[serde(default)]
    pub from_type: Option<String>,
    #[serde(default)]
    pub from_name: Option<String>,
    #[serde(default)]
    pub criteria: Option<Value>,
    pub to_type: String,
    #[serde(default)]
    pub to_name: Option<String>,
    pub access: String,
    #[serde(default)]
    pub superiors_allowed: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    CreateRule {
        table: String,
        rule: RuleSpec,
    },
    AlterRule {
        rule_id: i64,
        rule: RuleSpec,
    },
    SetRuleActive {
        rule_id: i64,
        active: bool,
    },
    CloneRule {
        rule_id: i64,
        new_name: String,
    },
    DropRule {
        rule_id: i64,
    },
    SetDefaultAccess {
        table: String,
        access: String,
    },
    SetHierarchy {
        table: String,
        grant_via_hierarchy: bool,
    },
}

/// A rule as the configuration document names it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleKey {
    pub table: String,
    pub name: String,
}

impl Change {
    /// What the change does, in words; `key` names the rule it is about.
    pub fn describe(&self, key: Option<&RuleKey>) -> String {
        let rule = |id: &i64| match key {
            Some(k) => format!("rule \"{}\"", k.name),
            None => format!("rule {id}"),
        };
        match self {
            Change::CreateRule { table, rule } => {
                format!(
                    "create {} rule \"{}\" on {table}",
                    rule.rule_type, rule.name
                )
            }
            Change::AlterRule { rule_id, .. } => format!("change {}", rule(rule_id)),
            Change::SetRuleActive { rule_id, active } => format!(
                "{} {}",
                if *active { "activate" } else { "deactivate" },
                rule(rule_id)
            ),
            Change::CloneRule { rule_id, new_name } => {
                format!("clone {} as \"{new_name}\"", rule(rule_id))
            }
            Change::DropRule { rule_id } => format!("drop {}", rule(rule_id)),
            Change::SetDefaultAccess { table, access } => {
                format!("set the default access of {table} to {access}")
            }
            Change::SetHierarchy {
                table,
                grant_via_hierarchy,
            } => format!(
                "{} access through the role hierarchy on {table}",
                if *grant_via_hierarchy {
                    "grant"
                } else {
                    "do not grant"
                }
            ),
        }
    }

    fn rule_id(&self) -> Option<i64> {
        match self {
            Change::AlterRule { rule_id, .. }
            | Change::SetRuleActive { rule_id, .. }
            | Change::CloneRule { rule_id, .. }
            | Change::DropRule { rule_id } => Some(*rule_id),
            _ => None,
        }
    }
}

fn rule_doc(table: &str, r: &RuleSpec) -> Value {
    let mut v = json!({
        "table": table, "name": r.name, "type": r.rule_type, "to_type": r.to_type,
        "access": r.access, "superiors_allowed": r.superiors_allowed, "active": true,
    });
    if let Some(n) = &r.to_name {
        v["to_name"] = json!(n);
    }
    if r.rule_type == "criteria" {
        v["criteria"] = r.criteria.clone().unwrap_or(Value::Null);
    } else {
        v["from_type"] = json!(r.from_type);
        v["from_name"] = json!(r.from_name);
    }
    v
}

fn doc_error(message: String) -> DbError {
    DbError::new(message)
}

/// The configuration document with the change made to it. `key` is the
/// table and name of the rule the change is about (looked up by id).
pub fn apply_to_doc(
    doc: &mut Value,
    change: &Change,
    key: Option<&RuleKey>,
) -> Result<(), DbError> {
    let find_rule = |doc: &mut Value| -> Result<usize, DbError> {
        let key = key.ok_or_else(|| doc_error("rule not found".into()))?;
        doc["rules"]
            .as_array()
            .and_then(|rules| {
                rules.iter().position(|r| {
                    r["table"].as_str() == Some(key.table.as_str())
                        && r["name"].as_str() == Some(key.name.as_str())
                })
            })
            .ok_or_else(|| {
                doc_error(format!(
                    "rule \"{}\" on {} is not in the configuration document",
                    key.name, key.table
                ))
            })
    };
    let find_table = |doc: &mut Value, table: &str| -> Result<usize, DbError> {
        doc["tables"]
            .as_array()
            .and_then(|t| t.iter().position(|t| t["table"].as_str() == Some(table)))
            .ok_or_else(|| doc_error(format!("table {table} is not protected")))
    };
    if !doc["rules"].is_array() {
        doc["rules"] = json!([]);
    }
    match change {
        Change::CreateRule { table, rule } => {
            doc["rules"]
                .as_array_mut()
                .unwrap()
                .push(rule_doc(table, rule));
        }
        Change::AlterRule { rule, .. } => {
            let i = find_rule(doc)?;
            let old = doc["rules"][i].clone();
            let table = old["table"].as_str().unwrap_or_default().to_string();
            let mut new = rule_doc(&table, rule);
            new["active"] = old.get("active").cloned().unwrap_or(json!(true));
            new["type"] = old["type"].clone();
            doc["rules"][i] = new;
        }
        Change::SetRuleActive { active, .. } => {
            let i = find_rule(doc)?;
            doc["rules"][i]["active"] = json!(active);
        }
        Change::CloneRule { new_name, .. } => {
            let i = find_rule(doc)?;
            let mut copy = doc["rules"][i].clone();
            copy["name"] = json!(new_name);
            doc["rules"].as_array_mut().unwrap().push(copy);
        }
        Change::DropRule { .. } => {
            let i = find_rule(doc)?;
            doc["rules"].as_array_mut().unwrap().remove(i);
        }
        Change::SetDefaultAccess { table, access } => {
            let i = find_table(doc, table)?;
            doc["tables"][i]["default_access"] = json!(access);
        }
        Change::SetHierarchy {
            table,
            grant_via_hierarchy,
        } => {
            let i = find_table(doc, table)?;
            doc["tables"][i]["grant_via_hierarchy"] = json!(grant_via_hierarchy);
        }
    }
    Ok(())
}

/// The changes object of sharing.alter_rule for a rule edited in the form.
pub fn alter_changes(rule: &RuleSpec) -> Value {
    let mut c = json!({
        "name": rule.name, "to_type": rule.to_type, "to_name": rule.to_name,
        "access": rule.access, "superiors_allowed": rule.superiors_allowed,
    });
    if rule.rule_type == "criteria" {
        c["criteria"] = rule.criteria.clone().unwrap_or(Value::Null);
    } else {
        c["from_type"] = json!(rule.from_type);
        c["from_name"] = json!(rule.from_name);
    }
    c
}

async fn rule_key<C: GenericClient>(client: &C, rule_id: i64) -> Result<RuleKey, DbError> {
    let row = client
        .query_opt(
            "SELECT tbl::text, name FROM sharing.rules WHERE id = $1",
            &[&rule_id],
        )
        .await?
        .ok_or_else(|| DbError::new(format!("rule {rule_id} does not exist")))?;
    Ok(RuleKey {
        table: row.get(0),
        name: row.get(1),
    })
}

async fn export_doc<C: GenericClient>(client: &C) -> Result<Value, DbError> {
    Ok(client
        .query_one("SELECT sharing.export_config()", &[])
        .await?
        .get(0))
}

/// Runs the change with its SQL API function; returns what it returned.
async fn run<C: GenericClient>(client: &C, change: &Change) -> Result<Value, DbError> {
    async fn one<C: GenericClient>(
        client: &C,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Value, DbError> {
        let row = client.query_one(sql, params).await?;
        Ok(row.get::<_, Option<Value>>(0).unwrap_or(Value::Null))
    }
    match change {
        Change::CreateRule { table, rule } if rule.rule_type == "criteria" => {
            let criteria = rule.criteria.clone().unwrap_or(Value::Null);
            one(
                client,
                "SELECT to_jsonb(sharing.create_criteria_rule($1::text::regclass, $2, $3::jsonb, $4, $5, $6, $7))",
                &[table, &rule.name, &criteria, &rule.to_type, &rule.to_name, &rule.access, &rule.superiors_allowed],
            )
            .await
        }
        Change::CreateRule { table, rule } if rule.rule_type == "owner" => {
            one(
                client,
                "SELECT to_jsonb(sharing.create_owner_rule($1::text::regclass, $2, $3, $4, $5, $6, $7, $8))",
                &[
                    table, &rule.name, &rule.from_type, &rule.from_name, &rule.to_type, &rule.to_name,
                    &rule.access, &rule.superiors_allowed,
                ],
            )
            .await
        }
        Change::CreateRule { rule, .. } => Err(DbError::new(format!(
            "unknown rule type {:?}: expected owner or criteria",
            rule.rule_type
        ))),
        Change::AlterRule { rule_id, rule } => {
            let changes = alter_changes(rule);
            client
                .execute("SELECT sharing.alter_rule($1, $2::jsonb)", &[rule_id, &changes])
                .await?;
            Ok(Value::Null)
        }
        Change::SetRuleActive { rule_id, active } => {
            client
                .execute("SELECT sharing.set_rule_active($1, $2)", &[rule_id, active])
                .await?;
            Ok(Value::Null)
        }
        Change::CloneRule { rule_id, new_name } => {
            one(
                client,
                "SELECT to_jsonb(sharing.clone_rule($1, $2))",
                &[rule_id, new_name],
            )
            .await
        }
        Change::DropRule { rule_id } => {
            client
                .execute("SELECT sharing.drop_rule($1)", &[rule_id])
                .await?;
            Ok(Value::Null)
        }
        Change::SetDefaultAccess { table, access } => {
            client
                .execute(
                    "SELECT sharing.set_default_access($1::text::regclass, $2)",
                    &[table, access],
                )
                .await?;
            Ok(Value::Null)
        }
        Change::SetHierarchy { .. } => {
            // No function of its own: the switch changes through
            // apply_config, with the current document changed in one place.
            let mut doc = export_doc(client).await?;
            apply_to_doc(&mut doc, change, None)?;
            one(
                client,
                "SELECT coalesce(jsonb_agg(c), '[]') FROM sharing.apply_config($1::jsonb) c",
                &[&doc],
            )
            .await
        }
    }
}

/// What the change would do: first the change itself inside a transaction
/// that is rolled back (so a bad change gets the function's own error), then
/// the access diff of the configuration document with the change made.
pub async fn preview(client: &mut Client, change: &Change) -> Value {
    let key = match change.rule_id() {
        Some(id) => rule_key(client, id).await.ok(),
        None => None,
    };
    let description = change.describe(key.as_ref());
    let validation = async {
        let tx = client.transaction().await?;
        let r = run(&tx, change).await;
        tx.rollback().await?;
        r
    }
    .await;
    if let Err(e) = validation {
        return json!({ "change": description, "ok": false, "error": e });
    }
    let diff = async {
        let mut doc = export_doc(client).await?;
        apply_to_doc(&mut doc, change, key.as_ref())?;
        let row = client
            .query_one(
                "SELECT coalesce(jsonb_agg(to_jsonb(d) ORDER BY d.user_id, d.tbl::text), '[]')
                   FROM sharing.access_diff($1::jsonb) d",
                &[&doc],
            )
            .await?;
        Ok::<Value, DbError>(row.get(0))
    }
    .await;
    match diff {
        Ok(d) => json!({ "change": description, "ok": true, "diff": d }),
        Err(e) => json!({ "change": description, "ok": true, "diff": null, "diff_error": e }),
    }
}

pub async fn apply(client: &mut Client, change: &Change) -> Result<Value, DbError> {
    let tx = client.transaction().await?;
    let key = match change.rule_id() {
        Some(id) => rule_key(&tx, id).await.ok(),
        None => None,
    };
    let result = run(&tx, change).await?;
    tx.commit().await?;
    Ok(json!({ "change": change.describe(key.as_ref()), "ok": true, "result": result }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({
            "version": 1,
            "tables": [{"table": "public.accounts", "default_access": "private", "grant_via_hierarchy": true}],
            "rules": [{"table": "public.accounts", "name": "NY", "type": "criteria",
                       "criteria": {"conditions": [{"column": "billing_city", "op": "=", "value": "New York"}]},
                       "to_type": "role", "to_name": "Support", "access": "read",
                       "superiors_allowed": false, "active": true}]
        })
    }

    fn key() -> RuleKey {
        RuleKey {
            table: "public.accounts".into(),
            name: "NY".into(),
        }
    }

    #[test]
    fn toggles_clones_and_drops_by_table_and_name() {
        let mut d = doc();
        apply_to_doc(
            &mut d,
            &Change::SetRuleActive {
                rule_id: 1,
                active: false,
            },
            Some(&key()),
        )
        .unwrap();
        assert_eq!(d["rules"][0]["active"], json!(false));
        apply_to_doc(
            &mut d,
            &Change::CloneRule {
                rule_id: 1,
                new_name: "NY 2".into(),
            },
            Some(&key()),
        )
        .unwrap();
        assert_eq!(d["rules"][1]["name"], json!("NY 2"));
        assert_eq!(d["rules"][1]["criteria"], d["rules"][0]["criteria"]);
        apply_to_doc(&mut d, &Change::DropRule { rule_id: 1 }, Some(&key())).unwrap();
        assert_eq!(d["rules"].as_array().unwrap().len(), 1);
        assert_eq!(d["rules"][0]["name"], json!("NY 2"));
        let missing = apply_to_doc(&mut d, &Change::DropRule { rule_id: 1 }, Some(&key()));
        assert!(missing.is_err());
    }

    #[test]
    fn creates_owner_rules_and_changes_tables() {
        let mut d = doc();
        let rule = RuleSpec {
            name: "Reps".into(),
            rule_type: "owner".into(),
            from_type: Some("role".into()),
            from_name: Some("Sales Rep".into()),
            criteria: None,
            to_type: "all_users".into(),
            to_name: None,
            access: "read".into(),
            superiors_allowed: false,
        };
        apply_to_doc(
            &mut d,
            &Change::CreateRule {
                table: "public.accounts".into(),
                rule,
            },
            None,
        )
        .unwrap();
        let r = &d["rules"][1];
        assert_eq!(r["from_name"], json!("Sales Rep"));
        assert!(r.get("to_name").is_none());
        assert!(r.get("criteria").is_none());
        apply_to_doc(
            &mut d,
            &Change::SetDefaultAccess {
                table: "public.accounts".into(),
                access: "public_read".into(),
            },
            None,
        )
        .unwrap();
        assert_eq!(d["tables"][0]["default_access"], json!("public_read"));
        let unknown = Change::SetHierarchy {
            table: "public.nope".into(),
            grant_via_hierarchy: false,
        };
        assert!(apply_to_doc(&mut d, &unknown, None).is_err());
    }

    #[test]
    fn alter_keeps_active_and_type() {
        let mut d = doc();
        apply_to_doc(
            &mut d,
            &Change::SetRuleActive {
                rule_id: 1,
                active: false,
            },
            Some(&key()),
        )
        .unwrap();
        let rule = RuleSpec {
            name: "NY or Boston".into(),
            rule_type: "criteria".into(),
            from_type: None,
            from_name: None,
            criteria: Some(json!({"conditions": [], "pattern": "1"})),
            to_type: "group".into(),
            to_name: Some("Team".into()),
            access: "read_write".into(),
            superiors_allowed: true,
        };
        apply_to_doc(
            &mut d,
            &Change::AlterRule {
                rule_id: 1,
                rule: rule.clone(),
            },
            Some(&key()),
        )
        .unwrap();
        assert_eq!(d["rules"][0]["active"], json!(false));
        assert_eq!(d["rules"][0]["name"], json!("NY or Boston"));
        assert_eq!(d["rules"][0]["to_name"], json!("Team"));
        let c = alter_changes(&rule);
        assert!(c.get("from_type").is_none());
        assert_eq!(c["access"], json!("read_write"));
    }
}
