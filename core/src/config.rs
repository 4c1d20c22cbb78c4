//! The configuration document of `sharing.export_config()` /
//! `sharing.apply_config()`: the whole model as one JSON document a team
//! keeps in git. This module parses it strictly (unknown keys, wrong types)
//! and checks that it is self-consistent (every name it refers to is defined
//! in it, no cycles, no duplicates), naming the JSON path of each problem.
//! Whether tables, columns and login roles exist is the server's to check.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub version: u32,
    #[serde(default)]
    pub roles: Vec<RoleDef>,
    #[serde(default)]
    pub profiles: Vec<ProfileDef>,
    #[serde(default)]
    pub users: Vec<UserDef>,
    #[serde(default)]
    pub groups: Vec<GroupDef>,
    #[serde(default)]
    pub tables: Vec<TableDef>,
    #[serde(default)]
    pub rules: Vec<RuleDef>,
    #[serde(default)]
    pub shares: Vec<ShareDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDef {
    pub name: String,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub share_with_peers: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionDef {
    pub table: String,
    #[serde(default = "yes")]
    pub create: bool,
    #[serde(default = "yes")]
    pub read: bool,
    #[serde(default = "yes")]
    pub edit: bool,
    #[serde(default = "yes")]
    pub delete: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDef {
    pub name: String,
    #[serde(default)]
    pub manage_sharing: bool,
    #[serde(default)]
    pub view_all: bool,
    #[serde(default)]
    pub modify_all: bool,
    #[serde(default)]
    pub permissions: Vec<PermissionDef>,
}

fn standard() -> String {
    "standard".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserDef {
    pub name: String,
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default = "standard")]
    pub profile: String,
    #[serde(default)]
    pub db_role: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberDef {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDef {
    pub name: String,
    #[serde(default)]
    pub members: Vec<MemberDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDef {
    pub table: String,
    #[serde(default)]
    pub owner_column: Option<String>,
    #[serde(default)]
    pub default_access: Option<String>,
    #[serde(default)]
    pub grant_via_hierarchy: Option<bool>,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub parent_column: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub table: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub from_type: Option<String>,
    #[serde(default)]
    pub from_name: Option<String>,
    #[serde(default)]
    pub criteria: Option<serde_json::Value>,
    pub to_type: String,
    #[serde(default)]
    pub to_name: Option<String>,
    pub access: String,
    #[serde(default)]
    pub superiors_allowed: bool,
    #[serde(default = "yes")]
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareDef {
    pub table: String,
    pub record_id: String,
    pub to_type: String,
    pub to_name: String,
    pub access: String,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// A problem in a document, at a JSON path (`$.users[2].role`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn problem(path: String, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path,
        message: message.into(),
    }
}

/// Parses a document strictly: unknown keys and wrong types are errors
/// with the path where they occur.
pub fn parse(doc: &serde_json::Value) -> Result<Config, ConfigError> {
    if !doc.is_object() {
        return Err(problem(
            "$".into(),
            "the configuration must be a JSON object",
        ));
    }
    // The version first: a document of another version is refused as such,
    // not for the keys this version does not know.
    if let Some(v) = doc.get("version").filter(|v| v.is_number()) {
        if v.as_u64() != Some(u64::from(VERSION)) {
            return Err(problem(
                "$.version".into(),
                format!("unsupported version {v} (this pg_sharing reads version {VERSION})"),
            ));
        }
    }
    let config: Config = serde_path_to_error::deserialize(doc).map_err(|e| {
        let path = e.path().to_string();
        problem(
            if path == "." {
                "$".into()
            } else {
                format!("$.{path}")
            },
            e.into_inner().to_string(),
        )
    })?;
    if config.version != VERSION {
        return Err(problem(
            "$.version".into(),
            format!(
                "unsupported version {} (this pg_sharing reads version {VERSION})",
                config.version
            ),
        ));
    }
    validate(&config)?;
    Ok(config)
}

const ACCESS: [&str; 3] = ["read", "read_write", "read_write_delete"];
const DEFAULT_ACCESS: [&str; 4] = [
    "private",
    "public_read",
    "public_read_write",
    "public_read_write_delete",
];

fn unique<'a>(
    items: impl Iterator<Item = (String, &'a str)>,
    what: &str,
) -> Result<(), ConfigError> {
    let mut seen = BTreeSet::new();
    for (path, name) in items {
        if name.trim().is_empty() {
            return Err(problem(path, format!("{what} name must not be empty")));
        }
        if !seen.insert(name.to_string()) {
            return Err(problem(path, format!("{what} \"{name}\" is defined twice")));
        }
    }
    Ok(())
}

/// Checks that the document is self-consistent.
pub fn validate(c: &Config) -> Result<(), ConfigError> {
    unique(
        c.roles
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("$.roles[{i}].name"), r.name.as_str())),
        "role",
    )?;
    unique(
        c.profiles
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("$.profiles[{i}].name"), p.name.as_str())),
        "profile",
    )?;
    unique(
        c.users
            .iter()
            .enumerate()
            .map(|(i, u)| (format!("$.users[{i}].name"), u.name.as_str())),
        "user",
    )?;
    unique(
        c.groups
            .iter()
            .enumerate()
            .map(|(i, g)| (format!("$.groups[{i}].name"), g.name.as_str())),
        "group",
    )?;
    unique(
        c.tables
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("$.tables[{i}].table"), t.table.as_str())),
        "table",
    )?;

    let roles: BTreeMap<&str, Option<&str>> = c
        .roles
        .iter()
        .map(|r| (r.name.as_str(), r.parent.as_deref()))
        .collect();
    let profiles: BTreeSet<&str> = c
        .profiles
        .iter()
        .map(|p| p.name.as_str())
        .chain(["administrator", "standard"])
        .collect();
    let users: BTreeSet<&str> = c.users.iter().map(|u| u.name.as_str()).collect();
    let groups: BTreeSet<&str> = c.groups.iter().map(|g| g.name.as_str()).collect();
    let tables: BTreeMap<&str, &TableDef> =
        c.tables.iter().map(|t| (t.table.as_str(), t)).collect();

    for (i, r) in c.roles.iter().enumerate() {
        if let Some(p) = &r.parent {
            if !roles.contains_key(p.as_str()) {
                return Err(problem(
                    format!("$.roles[{i}].parent"),
                    format!("role \"{p}\" is not defined in roles"),
                ));
            }
        }
        // Walk up: a cycle returns to where it started.
        let mut chain = vec![r.name.as_str()];
        let mut current = r.parent.as_deref();
        while let Some(p) = current {
            if chain.contains(&p) {
                chain.push(p);
                return Err(problem(
                    format!("$.roles[{i}].parent"),
                    format!("role hierarchy cycle: {}", chain.join(" → ")),
                ));
            }
            chain.push(p);
            current = roles.get(p).copied().flatten();
        }
    }
    let mut ids = BTreeSet::new();
    let mut db_roles = BTreeSet::new();
    for (i, u) in c.users.iter().enumerate() {
        if let Some(r) = &u.role {
            if !roles.contains_key(r.as_str()) {
                return Err(problem(
                    format!("$.users[{i}].role"),
                    format!("role \"{r}\" is not defined in roles"),
                ));
            }
        }
        if !profiles.contains(u.profile.as_str()) {
            return Err(problem(
                format!("$.users[{i}].profile"),
                format!("profile \"{}\" is not defined in profiles", u.profile),
            ));
        }
        if let Some(id) = u.id {
            if !ids.insert(id) {
                return Err(problem(
                    format!("$.users[{i}].id"),
                    format!("user id {id} is used twice"),
                ));
            }
        }
        if let Some(d) = &u.db_role {
            if !db_roles.insert(d.as_str()) {
                return Err(problem(
                    format!("$.users[{i}].db_role"),
                    format!("database role \"{d}\" is mapped twice"),
                ));
            }
        }
    }
    let principal = |path: String,
                     kind: &str,
                     name: Option<&str>,
                     allowed: &[&str]|
     -> Result<(), ConfigError> {
        if !allowed.contains(&kind) {
            return Err(problem(
                path,
                format!(
                    "invalid type \"{kind}\": expected one of {}",
                    allowed.join(", ")
                ),
            ));
        }
        let known = match (kind, name) {
            ("all_users", None) => return Ok(()),
            ("all_users", Some(n)) => {
                return Err(problem(
                    path,
                    format!("type all_users takes no name (got \"{n}\")"),
                ))
            }
            (_, None) => return Err(problem(path, format!("a name is required for type {kind}"))),
            ("user", Some(n)) => users.contains(n),
            ("group", Some(n)) => groups.contains(n),
            (_, Some(n)) => roles.contains_key(n),
        };
        if known {
            Ok(())
        } else {
            Err(problem(
                path,
                format!(
                    "{} \"{}\" is not defined in {}s",
                    kind.replace("role_and_subordinates", "role"),
                    name.unwrap_or_default(),
                    if kind == "role_and_subordinates" {
                        "role"
                    } else {
                        kind
                    }
                ),
            ))
        }
    };
    let mut nested: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (i, g) in c.groups.iter().enumerate() {
        let mut members = BTreeSet::new();
        for (j, m) in g.members.iter().enumerate() {
            if !members.insert((m.kind.as_str(), m.name.as_str())) {
                return Err(problem(
                    format!("$.groups[{i}].members[{j}]"),
                    format!(
                        "{} \"{}\" is listed twice in group \"{}\"",
                        m.kind, m.name, g.name
                    ),
                ));
            }
            principal(
                format!("$.groups[{i}].members[{j}]"),
                &m.kind,
                Some(&m.name),
                &["user", "role", "role_and_subordinates", "group"],
            )?;
            if m.kind == "group" {
                nested
                    .entry(g.name.as_str())
                    .or_default()
                    .push(m.name.as_str());
            }
        }
    }
    for (i, g) in c.groups.iter().enumerate() {
        let mut stack = vec![(g.name.as_str(), vec![g.name.as_str()])];
        let mut seen = BTreeSet::new();
        while let Some((at, path)) = stack.pop() {
            for next in nested.get(at).cloned().unwrap_or_default() {
                let mut p = path.clone();
                p.push(next);
                if next == g.name {
                    return Err(problem(
                        format!("$.groups[{i}].members"),
                        format!("group membership cycle: {}", p.join(" → ")),
                    ));
                }
                if seen.insert(next) {
                    stack.push((next, p));
                }
            }
        }
    }
    for (i, p) in c.profiles.iter().enumerate() {
        let mut listed = BTreeSet::new();
        for (j, perm) in p.permissions.iter().enumerate() {
            if !listed.insert(perm.table.as_str()) {
                return Err(problem(
                    format!("$.profiles[{i}].permissions[{j}].table"),
                    format!(
                        "table \"{}\" is listed twice in the permissions of profile \"{}\"",
                        perm.table, p.name
                    ),
                ));
            }
            if !tables.contains_key(perm.table.as_str()) {
                return Err(problem(
                    format!("$.profiles[{i}].permissions[{j}].table"),
                    format!("table \"{}\" is not defined in tables", perm.table),
                ));
            }
        }
    }
    for (i, t) in c.tables.iter().enumerate() {
        let path = format!("$.tables[{i}]");
        match (&t.owner_column, &t.parent, &t.parent_column) {
            (Some(_), None, None) => {
                if let Some(a) = &t.default_access {
                    if !DEFAULT_ACCESS.contains(&a.as_str()) {
                        return Err(problem(
                            format!("{path}.default_access"),
                            format!("invalid default access \"{a}\""),
                        ));
                    }
                }
            }
            (None, Some(parent), Some(_)) => {
                if t.default_access.is_some() || t.grant_via_hierarchy.is_some() {
                    return Err(problem(
                        path,
                        "a child table takes no default_access or grant_via_hierarchy",
                    ));
                }
                if !tables.contains_key(parent.as_str()) {
                    return Err(problem(
                        format!("{path}.parent"),
                        format!("table \"{parent}\" is not defined in tables"),
                    ));
                }
                // Walk up the parents: a cycle comes back to a table seen before.
                let mut chain = vec![t.table.as_str()];
                let mut current = Some(parent.as_str());
                while let Some(p) = current {
                    if chain.contains(&p) {
                        chain.push(p);
                        return Err(problem(
                            format!("{path}.parent"),
                            format!("child table cycle: {}", chain.join(" → ")),
                        ));
                    }
                    chain.push(p);
                    current = tables.get(p).and_then(|t| t.parent.as_deref());
                }
            }
            _ => {
                return Err(problem(
                    path,
                    "a table needs either owner_column, or parent and parent_column",
                ))
            }
        }
    }
    let mut rule_names = BTreeSet::new();
    for (i, r) in c.rules.iter().enumerate() {
        let path = format!("$.rules[{i}]");
        match tables.get(r.table.as_str()) {
            None => {
                return Err(problem(
                    format!("{path}.table"),
                    format!("table \"{}\" is not defined in tables", r.table),
                ))
            }
            Some(t) if t.owner_column.is_none() => {
                return Err(problem(
                    format!("{path}.table"),
                    format!("table \"{}\" is a child table and takes no rules", r.table),
                ))
            }
            _ => {}
        }
        if !rule_names.insert((r.table.as_str(), r.name.as_str())) {
            return Err(problem(
                format!("{path}.name"),
                format!(
                    "rule \"{}\" is defined twice for table \"{}\"",
                    r.name, r.table
                ),
            ));
        }
        match r.kind.as_str() {
            "owner" => {
                if r.criteria.is_some() {
                    return Err(problem(
                        format!("{path}.criteria"),
                        "an owner rule takes no criteria",
                    ));
                }
                principal(
                    format!("{path}.from_type"),
                    r.from_type.as_deref().unwrap_or(""),
                    r.from_name.as_deref(),
                    &["role", "role_and_subordinates", "group"],
                )?;
            }
            "criteria" => {
                if r.from_type.is_some() || r.from_name.is_some() {
                    return Err(problem(
                        format!("{path}.from_type"),
                        "a criteria rule takes no from_type/from_name",
                    ));
                }
                if r.criteria.is_none() {
                    return Err(problem(
                        format!("{path}.criteria"),
                        "a criteria rule needs criteria",
                    ));
                }
            }
            other => {
                return Err(problem(
                    format!("{path}.type"),
                    format!("invalid rule type \"{other}\": expected owner or criteria"),
                ))
            }
        }
        principal(
            format!("{path}.to_type"),
            &r.to_type,
            r.to_name.as_deref(),
            &["role", "role_and_subordinates", "group", "all_users"],
        )?;
        if !ACCESS.contains(&r.access.as_str()) {
            return Err(problem(
                format!("{path}.access"),
                format!("invalid access \"{}\"", r.access),
            ));
        }
    }
    let mut shares = BTreeSet::new();
    for (i, s) in c.shares.iter().enumerate() {
        let path = format!("$.shares[{i}]");
        if !shares.insert((
            s.table.as_str(),
            s.record_id.as_str(),
            s.to_type.as_str(),
            s.to_name.as_str(),
        )) {
            return Err(problem(
                path,
                format!(
                    "record {} of table \"{}\" is shared with {} \"{}\" twice",
                    s.record_id, s.table, s.to_type, s.to_name
                ),
            ));
        }
        match tables.get(s.table.as_str()) {
            None => {
                return Err(problem(
                    format!("{path}.table"),
                    format!("table \"{}\" is not defined in tables", s.table),
                ))
            }
            Some(t) if t.owner_column.is_none() => {
                return Err(problem(
                    format!("{path}.table"),
                    format!("table \"{}\" is a child table and takes no shares", s.table),
                ))
            }
            _ => {}
        }
        principal(
            format!("{path}.to_type"),
            &s.to_type,
            Some(&s.to_name),
            &["user", "role", "role_and_subordinates", "group"],
        )?;
        if !ACCESS.contains(&s.access.as_str()) {
            return Err(problem(
                format!("{path}.access"),
                format!("invalid access \"{}\"", s.access),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> serde_json::Value {
        json!({"version": 1,
               "roles": [{"name": "CEO"}, {"name": "Sales", "parent": "CEO"}],
               "users": [{"name": "Ann", "role": "Sales", "id": 7}],
               "groups": [{"name": "East", "members": [{"type": "user", "name": "Ann"}]}],
               "tables": [{"table": "public.accounts", "owner_column": "owner_id", "default_access": "private"},
                          {"table": "public.notes", "parent": "public.accounts", "parent_column": "account_id"}],
               "rules": [{"table": "public.accounts", "name": "r", "type": "owner", "from_type": "role",
                          "from_name": "Sales", "to_type": "group", "to_name": "East", "access": "read"}],
               "shares": [{"table": "public.accounts", "record_id": "1", "to_type": "user", "to_name": "Ann",
                           "access": "read"}]})
    }

    fn error_of(doc: serde_json::Value) -> String {
        parse(&doc).unwrap_err().to_string()
    }

    #[test]
    fn a_consistent_document_parses_and_round_trips() {
        let c = parse(&sample()).unwrap();
        assert_eq!(c.users[0].profile, "standard");
        assert!(c.users[0].active);
        let again = parse(&serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(c, again);
    }

    #[test]
    fn structural_errors_name_the_json_path() {
        let mut d = sample();
        d["users"][0]["rol"] = json!("x");
        let e = error_of(d);
        assert!(e.starts_with("$.users[0].rol: unknown field `rol`"), "{e}");
        let mut d = sample();
        d["roles"][1]["share_with_peers"] = json!("yes");
        assert!(error_of(d).starts_with("$.roles[1].share_with_peers: invalid type"));
        assert!(error_of(json!({"version": 2})).starts_with("$.version: unsupported version 2"));
        let e = error_of(json!([]));
        assert_eq!(e, "$: the configuration must be a JSON object");
    }

    #[test]
    fn references_must_be_defined() {
        let mut d = sample();
        d["users"][0]["role"] = json!("Sales Mgr");
        assert_eq!(
            error_of(d),
            "$.users[0].role: role \"Sales Mgr\" is not defined in roles"
        );
        let mut d = sample();
        d["rules"][0]["to_name"] = json!("West");
        assert_eq!(
            error_of(d),
            "$.rules[0].to_type: group \"West\" is not defined in groups"
        );
        let mut d = sample();
        d["shares"][0]["table"] = json!("public.notes");
        assert!(error_of(d).contains("child table and takes no shares"));
    }

    #[test]
    fn cycles_and_duplicates_are_refused() {
        let mut d = sample();
        d["roles"][0]["parent"] = json!("Sales");
        assert_eq!(
            error_of(d),
            "$.roles[0].parent: role hierarchy cycle: CEO → Sales → CEO"
        );
        let mut d = sample();
        d["groups"] = json!([{"name": "A", "members": [{"type": "group", "name": "B"}]},
                             {"name": "B", "members": [{"type": "group", "name": "A"}]}]);
        assert_eq!(
            error_of(d),
            "$.groups[0].members: group membership cycle: A → B → A"
        );
        let mut d = sample();
        d["users"] = json!([{"name": "Ann"}, {"name": "Ann"}]);
        assert_eq!(
            error_of(d),
            "$.users[1].name: user \"Ann\" is defined twice"
        );
        let mut d = sample();
        d["tables"][0] =
            json!({"table": "public.accounts", "parent": "public.notes", "parent_column": "x"});
        assert_eq!(
            error_of(d),
            "$.tables[0].parent: child table cycle: public.accounts → public.notes → public.accounts"
        );
        let mut d = sample();
        d["groups"][0]["members"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user", "name": "Ann"}));
        assert_eq!(
            error_of(d),
            "$.groups[0].members[1]: user \"Ann\" is listed twice in group \"East\""
        );
        let mut d = sample();
        let mut again = d["shares"][0].clone();
        again["access"] = json!("read_write");
        d["shares"].as_array_mut().unwrap().push(again);
        assert_eq!(
            error_of(d),
            "$.shares[1]: record 1 of table \"public.accounts\" is shared with user \"Ann\" twice"
        );
        let mut d = sample();
        d["profiles"] = json!([{"name": "p", "permissions": [{"table": "public.notes"},
                                                            {"table": "public.notes", "edit": false}]}]);
        assert_eq!(
            error_of(d),
            "$.profiles[0].permissions[1].table: table \"public.notes\" is listed twice in the permissions of profile \"p\""
        );
    }

    #[test]
    fn another_version_is_refused_before_its_keys() {
        let e = error_of(json!({"version": 2, "teams": []}));
        assert!(e.starts_with("$.version: unsupported version 2"), "{e}");
        let e = error_of(json!({"version": "1"}));
        assert!(e.starts_with("$.version: invalid type: string"), "{e}");
    }
}
