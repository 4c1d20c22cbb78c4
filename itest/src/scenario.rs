//! Random scenarios: an organisation, a protected `accounts` table with a
//! child `notes` table, rules and shares, generated from a seed both as the
//! SQL that builds them through the public API and as the reference model.

use pg_sharing_core::access::{DefaultAccess, Level};
use pg_sharing_core::criteria::{self, Column, TypeFamily};
use pg_sharing_core::reference::{
    Model, Perms, Principal, Profile, Record, Role, Rule, RuleSource, Share, Table, TableKind,
    User, Value,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// The tables every scenario's SQL expects to exist (empty).
pub const TABLES: &str = "CREATE TABLE accounts (id bigint PRIMARY KEY, owner_id bigint, name text, city text, amount numeric);
     CREATE TABLE notes (id bigint PRIMARY KEY, account_id bigint NOT NULL);
     GRANT SELECT, INSERT, UPDATE, DELETE ON accounts, notes TO PUBLIC;";

const CITIES: [Option<&str>; 5] = [
    Some("New York"),
    Some("Boston"),
    Some("Seattle"),
    Some("new york"),
    None,
];
const AMOUNTS: [i64; 4] = [0, 500, 10000, 25000];
const PROFILES: [&str; 5] = ["standard", "viewall", "modall", "light", "noparent"];

/// One generated case: the reference model and the SQL that builds it.
pub struct Case {
    pub model: Model,
    pub setup: String,
    /// Run after setup as superuser (e.g. expiring shares).
    pub after: String,
}

fn lvl(rng: &mut StdRng) -> Level {
    *[Level::Read, Level::ReadWrite, Level::ReadWriteDelete]
        .choose(rng)
        .unwrap()
}

fn principal_sql(p: &Principal) -> (String, String) {
    match p {
        Principal::User(u) => ("user".into(), format!("'u{u}'")),
        Principal::Role(r) => ("role".into(), format!("'r{r}'")),
        Principal::RoleAndSubordinates(r) => ("role_and_subordinates".into(), format!("'r{r}'")),
        Principal::Group(g) => ("group".into(), format!("'g{g}'")),
        Principal::AllUsers => ("all_users".into(), "NULL".into()),
    }
}

fn random_principal(
    rng: &mut StdRng,
    roles: i64,
    users: i64,
    groups: i64,
    allow: &[&str],
) -> Principal {
    loop {
        let kind = *allow.choose(rng).unwrap();
        match kind {
            "user" => return Principal::User(rng.gen_range(1..=users)),
            "role" => return Principal::Role(rng.gen_range(1..=roles)),
            "role_and_subordinates" => {
                return Principal::RoleAndSubordinates(rng.gen_range(1..=roles))
            }
            "group" if groups > 0 => return Principal::Group(rng.gen_range(1..=groups)),
            "all_users" => return Principal::AllUsers,
            _ => continue,
        }
    }
}

/// The columns of the scenario tables that criteria may use.
pub fn criteria_columns() -> Vec<Column> {
    vec![
        Column {
            name: "city".into(),
            sql_type: "text".into(),
            family: TypeFamily::Text,
        },
        Column {
            name: "amount".into(),
            sql_type: "numeric".into(),
            family: TypeFamily::Number,
        },
    ]
}

fn random_condition(rng: &mut StdRng) -> serde_json::Value {
    let city = || ["New York", "Boston", "Seattle", "york", "NEW", "TLE"];
    match rng.gen_range(0..10) {
        0 => json!({"column": "city", "op": "=", "value": *city().choose(rng).unwrap()}),
        1 => json!({"column": "city", "op": "!=", "value": *city().choose(rng).unwrap()}),
        2 => {
            json!({"column": "city", "op": "in", "value": ["Boston", *city().choose(rng).unwrap()]})
        }
        3 => json!({"column": "city", "op": "not_in", "value": [*city().choose(rng).unwrap()]}),
        4 => json!({"column": "city", "op": "contains", "value": *city().choose(rng).unwrap()}),
        5 => json!({"column": "city", "op": "starts_with", "value": "new"}),
        6 => json!({"column": "city", "op": "ends_with", "value": "TLE"}),
        7 => json!({"column": "city", "op": *["is_null", "is_not_null"].choose(rng).unwrap()}),
        8 => {
            json!({"column": "amount", "op": *[">=", "<", "<=", ">", "=", "!="].choose(rng).unwrap(),
                    "value": *AMOUNTS.choose(rng).unwrap()})
        }
        _ => json!({"column": "amount", "op": "in", "value": [0, 25000]}),
    }
}

fn random_pattern(rng: &mut StdRng, items: Vec<usize>) -> String {
    if items.len() == 1 {
        return items[0].to_string();
    }
    let split = rng.gen_range(1..items.len());
    let (a, b) = items.split_at(split);
    let op = if rng.gen_bool(0.5) { "AND" } else { "OR" };
    format!(
        "({} {op} {})",
        random_pattern(rng, a.to_vec()),
        random_pattern(rng, b.to_vec())
    )
}

pub fn generate(seed: u64) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Model::default();
    let mut sql = String::new();

    // Profiles: standard, view_all, modify_all, a light agent who may not
    // edit accounts, and one who may not read accounts (but may read notes).
    for (i, name) in PROFILES.iter().enumerate() {
        let mut p = Profile::default();
        match *name {
            "viewall" => p.view_all = true,
            "modall" => p.modify_all = true,
            "light" => {
                p.perms.insert(
                    "accounts".into(),
                    Perms {
                        edit: false,
                        delete: rng.gen_bool(0.5),
                        ..Perms::default()
                    },
                );
                p.perms.insert(
                    "notes".into(),
                    Perms {
                        create: false,
                        ..Perms::default()
                    },
                );
            }
            "noparent" => {
                p.perms.insert(
                    "accounts".into(),
                    Perms {
                        read: false,
                        ..Perms::default()
                    },
                );
            }
            _ => {}
        }
        m.profiles.insert(i as i64, p.clone());
        if *name != "standard" {
            writeln!(
                sql,
                "SELECT sharing.create_profile('{name}', view_all => {}, modify_all => {});",
                p.view_all, p.modify_all
            )
            .unwrap();
        }
    }

    let n_roles = rng.gen_range(2..=6i64);
    for r in 1..=n_roles {
        let parent = if r > 1 && rng.gen_bool(0.75) {
            Some(rng.gen_range(1..r))
        } else {
            None
        };
        let peers = rng.gen_bool(0.25);
        m.roles.insert(
            r,
            Role {
                parent,
                share_with_peers: peers,
            },
        );
        writeln!(
            sql,
            "SELECT sharing.create_role('r{r}', {}, {peers});",
            parent.map(|p| format!("'r{p}'")).unwrap_or("NULL".into())
        )
        .unwrap();
    }

    let n_users = rng.gen_range(3..=8i64);
    for u in 1..=n_users {
        let role = if rng.gen_bool(0.9) {
            Some(rng.gen_range(1..=n_roles))
        } else {
            None
        };
        let profile = if rng.gen_bool(0.6) {
            0
        } else {
            rng.gen_range(0..PROFILES.len() as i64)
        };
        let active = rng.gen_bool(0.85);
        m.users.insert(
            u,
            User {
                role,
                profile,
                active,
            },
        );
        writeln!(
            sql,
            "SELECT sharing.create_user('u{u}', {}, '{}', id => {u});",
            role.map(|r| format!("'r{r}'")).unwrap_or("NULL".into()),
            PROFILES[profile as usize]
        )
        .unwrap();
        if !active {
            writeln!(
                sql,
                "SELECT sharing.alter_user('u{u}', '{{\"active\": false}}');"
            )
            .unwrap();
        }
    }

    let n_groups = rng.gen_range(0..=3i64);
    for g in 1..=n_groups {
        writeln!(sql, "SELECT sharing.create_group('g{g}');").unwrap();
    }
    for g in 1..=n_groups {
        let mut members = BTreeSet::new();
        for _ in 0..rng.gen_range(1..=3) {
            // Nest only later groups into earlier ones: no cycles.
            let p = random_principal(
                &mut rng,
                n_roles,
                n_users,
                0,
                &["user", "role", "role_and_subordinates"],
            );
            members.insert(p);
        }
        if g < n_groups && rng.gen_bool(0.5) {
            members.insert(Principal::Group(rng.gen_range(g + 1..=n_groups)));
        }
        for p in &members {
            let (t, n) = principal_sql(p);
            writeln!(sql, "SELECT sharing.add_to_group('g{g}', '{t}', {n});").unwrap();
        }
        m.groups.insert(g, members.into_iter().collect());
    }

    // The tables.
    let owd = *DefaultAccess::ALL.choose(&mut rng).unwrap();
    let owd = if rng.gen_bool(0.5) {
        DefaultAccess::Private
    } else {
        owd
    };
    let hierarchy = rng.gen_bool(0.8);
    let mut accounts = Vec::new();
    let mut notes = Vec::new();
    writeln!(
        sql,
        "INSERT INTO accounts (id, owner_id, name, city, amount) VALUES"
    )
    .unwrap();
    let n_accounts = rng.gen_range(6..=12);
    let mut rows = Vec::new();
    for a in 1..=n_accounts {
        let owner = match rng.gen_range(0..20) {
            0 => None,
            1 => Some(999),
            _ => Some(rng.gen_range(1..=n_users)),
        };
        let city = *CITIES.choose(&mut rng).unwrap();
        let amount = *AMOUNTS.choose(&mut rng).unwrap();
        rows.push(format!(
            "({a}, {}, 'a{a}', {}, {amount})",
            owner.map(|o| o.to_string()).unwrap_or("NULL".into()),
            city.map(|c| format!("'{c}'")).unwrap_or("NULL".into())
        ));
        accounts.push(Record {
            id: a.to_string(),
            owner,
            parent: None,
            fields: BTreeMap::from([
                ("city".to_string(), city.map(|c| Value::Text(c.into()))),
                ("amount".to_string(), Some(Value::Number(amount as f64))),
            ]),
        });
        for k in 0..rng.gen_range(0..=2) {
            let id = a * 10 + k;
            notes.push(Record {
                id: id.to_string(),
                owner: None,
                parent: Some(a.to_string()),
                fields: BTreeMap::new(),
            });
        }
    }
    writeln!(sql, "{};", rows.join(",\n")).unwrap();
    if !notes.is_empty() {
        let values: Vec<String> = notes
            .iter()
            .map(|n| format!("({}, {})", n.id, n.parent.as_ref().unwrap()))
            .collect();
        writeln!(
            sql,
            "INSERT INTO notes (id, account_id) VALUES {};",
            values.join(", ")
        )
        .unwrap();
    }
    writeln!(
        sql,
        "SELECT sharing.protect('accounts', 'owner_id', '{}', {hierarchy});\n\
         SELECT sharing.protect_child('notes', 'account_id', 'accounts');",
        owd.as_str()
    )
    .unwrap();
    for (i, name) in PROFILES.iter().enumerate() {
        for (table, perms) in &m.profiles[&(i as i64)].perms {
            for (action, allowed) in [
                ("create", perms.create),
                ("read", perms.read),
                ("edit", perms.edit),
                ("delete", perms.delete),
            ] {
                if !allowed {
                    writeln!(sql, "SELECT sharing.set_profile_permission('{name}', '{table}', '{action}', false);").unwrap();
                }
            }
        }
    }
    m.tables.insert(
        "accounts".into(),
        Table {
            kind: TableKind::Owned {
                default_access: owd,
                grant_via_hierarchy: hierarchy,
            },
            records: accounts.clone(),
        },
    );
    m.tables.insert(
        "notes".into(),
        Table {
            kind: TableKind::Child {
                parent: "accounts".into(),
            },
            records: notes,
        },
    );

    // Rules.
    for i in 0..rng.gen_range(0..=3) {
        let from = random_principal(
            &mut rng,
            n_roles,
            n_users,
            n_groups,
            &["role", "role_and_subordinates", "group"],
        );
        let to = random_principal(
            &mut rng,
            n_roles,
            n_users,
            n_groups,
            &["role", "role_and_subordinates", "group", "all_users"],
        );
        let access = lvl(&mut rng);
        let sup = rng.gen_bool(0.4);
        let (ft, fname) = principal_sql(&from);
        let (tt, tname) = principal_sql(&to);
        writeln!(
            sql,
            "SELECT sharing.create_owner_rule('accounts', 'owner rule {i}', '{ft}', {fname}, '{tt}', {tname}, '{}', {sup});",
            access.as_str()
        )
        .unwrap();
        m.rules.push(Rule {
            table: "accounts".into(),
            source: RuleSource::Owners(from),
            to,
            access,
            superiors_allowed: sup,
            active: true,
        });
    }
    for i in 0..rng.gen_range(0..=3) {
        let n = rng.gen_range(1..=3);
        let conditions: Vec<serde_json::Value> =
            (0..n).map(|_| random_condition(&mut rng)).collect();
        let mut doc = json!({"conditions": conditions});
        if n > 1 && rng.gen_bool(0.7) {
            doc["pattern"] = json!(random_pattern(&mut rng, (1..=n).collect()));
        }
        let parsed = criteria::parse(&doc, &criteria_columns(), "accounts")
            .expect("generated criteria are valid");
        let to = random_principal(
            &mut rng,
            n_roles,
            n_users,
            n_groups,
            &["role", "role_and_subordinates", "group", "all_users"],
        );
        let access = lvl(&mut rng);
        let sup = rng.gen_bool(0.4);
        let (tt, tname) = principal_sql(&to);
        writeln!(
            sql,
            "SELECT sharing.create_criteria_rule('accounts', 'criteria rule {i}', $j${doc}$j$, '{tt}', {tname}, '{}', {sup});",
            access.as_str()
        )
        .unwrap();
        m.rules.push(Rule {
            table: "accounts".into(),
            source: RuleSource::Criteria(parsed),
            to,
            access,
            superiors_allowed: sup,
            active: true,
        });
    }

    // Manual shares, some expired.
    let mut after = String::new();
    let mut shared = BTreeSet::new();
    for _ in 0..rng.gen_range(0..=4) {
        let record = accounts.choose(&mut rng).unwrap().id.clone();
        let to = random_principal(
            &mut rng,
            n_roles,
            n_users,
            n_groups,
            &["user", "role", "role_and_subordinates", "group"],
        );
        if !shared.insert((record.clone(), to.clone())) {
            continue;
        }
        let access = lvl(&mut rng);
        let expired = rng.gen_bool(0.25);
        let (tt, tname) = principal_sql(&to);
        writeln!(
            sql,
            "SELECT sharing.share_record('accounts', '{record}', '{tt}', {tname}, '{}');",
            access.as_str()
        )
        .unwrap();
        if expired {
            let id = match &to {
                Principal::User(u) => format!("{u}"),
                Principal::Role(r) | Principal::RoleAndSubordinates(r) => {
                    format!("(SELECT id FROM sharing.roles WHERE name = 'r{r}')")
                }
                Principal::Group(g) => {
                    format!("(SELECT id FROM sharing.groups WHERE name = 'g{g}')")
                }
                Principal::AllUsers => unreachable!(),
            };
            writeln!(
                after,
                "UPDATE sharing.shares SET expires_at = now() - interval '1 minute' \
                 WHERE record_id = '{record}' AND to_type = '{tt}' AND to_id = {id};"
            )
            .unwrap();
        }
        m.shares.push(Share {
            table: "accounts".into(),
            record,
            to,
            access,
            expired,
        });
    }
    Case {
        model: m,
        setup: sql,
        after,
    }
}
