//! A reference evaluator of "who may access what", written from the
//! specification (SPEC.md, "The model" to "Checks and explanations"), not
//! from the policy code. Differential tests compare it with what PostgreSQL
//! returns through the generated policies.
//!
//! It is deliberately naive: every question is answered by walking the
//! model directly, with no derived sets.

use crate::access::{DefaultAccess, Level};
use crate::criteria::{Criteria, Op, TypeFamily};
use std::collections::{BTreeMap, BTreeSet};

pub type Id = i64;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Principal {
    User(Id),
    Role(Id),
    RoleAndSubordinates(Id),
    Group(Id),
    AllUsers,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub parent: Option<Id>,
    pub share_with_peers: bool,
}

#[derive(Debug, Clone)]
pub struct User {
    pub role: Option<Id>,
    pub profile: Id,
    pub active: bool,
}

/// Per-table action flags of a profile (all true unless set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perms {
    pub create: bool,
    pub read: bool,
    pub edit: bool,
    pub delete: bool,
}

impl Default for Perms {
    fn default() -> Self {
        Perms {
            create: true,
            read: true,
            edit: true,
            delete: true,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub view_all: bool,
    pub modify_all: bool,
    pub perms: BTreeMap<String, Perms>,
}

#[derive(Debug, Clone)]
pub enum TableKind {
    Owned {
        default_access: DefaultAccess,
        grant_via_hierarchy: bool,
    },
    Child {
        parent: String,
    },
}

/// A field value as criteria see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(f64),
}

#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub owner: Option<Id>,
    pub parent: Option<String>,
    pub fields: BTreeMap<String, Option<Value>>,
}

#[derive(Debug, Clone)]
pub enum RuleSource {
    /// Records owned by members of this principal.
    Owners(Principal),
    /// Records matching these criteria.
    Criteria(Criteria),
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub table: String,
    pub source: RuleSource,
    pub to: Principal,
    pub access: Level,
    pub superiors_allowed: bool,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct Share {
    pub table: String,
    pub record: String,
    pub to: Principal,
    pub access: Level,
    pub expired: bool,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub kind: TableKind,
    pub records: Vec<Record>,
}

/// The whole model.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub roles: BTreeMap<Id, Role>,
    pub users: BTreeMap<Id, User>,
    pub profiles: BTreeMap<Id, Profile>,
    /// Direct members of each group.
    pub groups: BTreeMap<Id, Vec<Principal>>,
    pub tables: BTreeMap<String, Table>,
    pub rules: Vec<Rule>,
    pub shares: Vec<Share>,
}

impl Model {
    /// `ancestor` is `role` or above it.
    fn role_at_or_below(&self, role: Id, ancestor: Id) -> bool {
        let mut current = Some(role);
        let mut steps = 0;
        while let Some(r) = current {
            if r == ancestor {
                return true;
            }
            steps += 1;
            if steps > self.roles.len() {
                return false;
            }
            current = self.roles.get(&r).and_then(|x| x.parent);
        }
        false
    }

    /// "A user's superiors are the users whose role is a strict ancestor of
    /// the user's role."
    pub fn is_superior(&self, superior: Id, of: Id) -> bool {
        match (
            self.users.get(&superior).and_then(|u| u.role),
            self.users.get(&of).and_then(|u| u.role),
        ) {
            (Some(a), Some(b)) => a != b && self.role_at_or_below(b, a),
            _ => false,
        }
    }

    fn in_group(&self, user: Id, group: Id, seen: &mut BTreeSet<Id>) -> bool {
        if !seen.insert(group) {
            return false;
        }
        let members = self.groups.get(&group).cloned().unwrap_or_default();
        members.iter().any(|m| match m {
            Principal::Group(g) => self.in_group(user, *g, seen),
            other => self.is_member(user, other),
        })
    }

    /// Whether `user` is one of the users a principal names.
    pub fn is_member(&self, user: Id, principal: &Principal) -> bool {
        let role = self.users.get(&user).and_then(|u| u.role);
        match principal {
            Principal::User(u) => *u == user,
            Principal::Role(r) => role == Some(*r),
            Principal::RoleAndSubordinates(r) => {
                role.is_some_and(|mine| self.role_at_or_below(mine, *r))
            }
            Principal::Group(g) => self.in_group(user, *g, &mut BTreeSet::new()),
            Principal::AllUsers => self.users.contains_key(&user),
        }
    }

    /// A rule reaches its recipients and, with superiors_allowed, every user
    /// whose role is a strict ancestor of a recipient's role.
    fn rule_reaches(&self, rule: &Rule, user: Id) -> bool {
        self.is_member(user, &rule.to)
            || (rule.superiors_allowed
                && self
                    .users
                    .keys()
                    .any(|v| self.is_member(*v, &rule.to) && self.is_superior(user, *v)))
    }

    fn perms(&self, user: Id, table: &str) -> Perms {
        self.users
            .get(&user)
            .and_then(|u| self.profiles.get(&u.profile))
            .and_then(|p| p.perms.get(table).copied())
            .unwrap_or_default()
    }

    /// The level sharing grants `user` on a record, counting view_all and
    /// modify_all, before the profile's per-table action flags.
    pub fn level(&self, user: Id, table: &str, record_id: &str) -> Level {
        let Some(u) = self.users.get(&user) else {
            return Level::None;
        };
        if !u.active {
            return Level::None;
        }
        let Some(t) = self.tables.get(table) else {
            return Level::None;
        };
        let Some(record) = t.records.iter().find(|r| r.id == record_id) else {
            return Level::None;
        };
        let profile = self.profiles.get(&u.profile).cloned().unwrap_or_default();
        let mut best = if profile.modify_all {
            Level::ReadWriteDelete
        } else if profile.view_all {
            Level::Read
        } else {
            Level::None
        };
        match &t.kind {
            TableKind::Child { parent } => {
                if self.perms(user, parent).read {
                    if let Some(parent_id) = &record.parent {
                        best = best.max(Level::for_child(self.level(user, parent, parent_id)));
                    }
                }
            }
            TableKind::Owned {
                default_access,
                grant_via_hierarchy,
            } => {
                best = best.max(default_access.level());
                if let Some(owner) = record.owner {
                    if owner == user {
                        best = Level::ReadWriteDelete;
                    }
                    if *grant_via_hierarchy && self.is_superior(user, owner) {
                        best = Level::ReadWriteDelete;
                    }
                    let peers = u
                        .role
                        .and_then(|r| self.roles.get(&r))
                        .is_some_and(|r| r.share_with_peers);
                    if peers
                        && owner != user
                        && self.users.get(&owner).and_then(|o| o.role) == u.role
                    {
                        best = best.max(Level::Read);
                    }
                }
                for rule in self.rules.iter().filter(|r| r.table == table && r.active) {
                    let applies = match &rule.source {
                        RuleSource::Owners(from) => {
                            record.owner.is_some_and(|o| self.is_member(o, from))
                        }
                        RuleSource::Criteria(c) => matches(c, record),
                    };
                    if applies && self.rule_reaches(rule, user) {
                        best = best.max(rule.access);
                    }
                }
                for share in self
                    .shares
                    .iter()
                    .filter(|s| s.table == table && s.record == record.id && !s.expired)
                {
                    if self.is_member(user, &share.to) {
                        best = best.max(share.access);
                    }
                }
            }
        }
        best
    }

    pub fn can_read(&self, user: Id, table: &str, record: &str) -> bool {
        self.level(user, table, record) >= Level::Read && self.perms(user, table).read
    }

    /// Editing and deleting a record one cannot read is not a thing: both
    /// need the profile's read flag as well as their own.
    pub fn can_edit(&self, user: Id, table: &str, record: &str) -> bool {
        let p = self.perms(user, table);
        self.level(user, table, record) >= Level::ReadWrite && p.edit && p.read
    }

    pub fn can_delete(&self, user: Id, table: &str, record: &str) -> bool {
        let p = self.perms(user, table);
        self.level(user, table, record) >= Level::ReadWriteDelete && p.delete && p.read
    }
}

/// Whether a record matches criteria, with SQL's NULL semantics: a
/// condition on a NULL field is false except `is_null`.
pub fn matches(criteria: &Criteria, record: &Record) -> bool {
    criteria.pattern.eval(&|n| {
        let cond = &criteria.conditions[n - 1];
        let field = record.fields.get(&cond.column.name).cloned().flatten();
        condition_holds(cond.op, cond.column.family, &cond.values, field.as_ref())
    })
}

fn condition_holds(op: Op, family: TypeFamily, values: &[String], field: Option<&Value>) -> bool {
    let Some(field) = field else {
        return op == Op::IsNull;
    };
    let cmp = |v: &str| -> Option<std::cmp::Ordering> {
        match (field, family) {
            (Value::Number(x), TypeFamily::Number) => {
                v.parse::<f64>().ok().and_then(|y| x.partial_cmp(&y))
            }
            (Value::Text(x), _) => Some(x.as_str().cmp(v)),
            (Value::Number(x), _) => Some(x.to_string().as_str().cmp(v)),
        }
    };
    let text = match field {
        Value::Text(t) => t.to_lowercase(),
        Value::Number(x) => x.to_string(),
    };
    use std::cmp::Ordering::*;
    match op {
        Op::IsNull => false,
        Op::IsNotNull => true,
        Op::Eq => cmp(&values[0]) == Some(Equal),
        Op::Ne => matches!(cmp(&values[0]), Some(Less | Greater)),
        Op::Lt => cmp(&values[0]) == Some(Less),
        Op::Le => matches!(cmp(&values[0]), Some(Less | Equal)),
        Op::Gt => cmp(&values[0]) == Some(Greater),
        Op::Ge => matches!(cmp(&values[0]), Some(Greater | Equal)),
        Op::In => values.iter().any(|v| cmp(v) == Some(Equal)),
        Op::NotIn => values
            .iter()
            .all(|v| matches!(cmp(v), Some(Less | Greater))),
        Op::Contains => text.contains(&values[0].to_lowercase()),
        Op::StartsWith => text.starts_with(&values[0].to_lowercase()),
        Op::EndsWith => text.ends_with(&values[0].to_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::criteria::{parse, Column};
    use serde_json::json;

    /// CEO > Manager > Rep (two reps), Support under CEO; a private table.
    fn crm() -> Model {
        let mut m = Model::default();
        m.roles.insert(
            1,
            Role {
                parent: None,
                share_with_peers: false,
            },
        );
        m.roles.insert(
            2,
            Role {
                parent: Some(1),
                share_with_peers: false,
            },
        );
        m.roles.insert(
            3,
            Role {
                parent: Some(2),
                share_with_peers: false,
            },
        );
        m.roles.insert(
            4,
            Role {
                parent: Some(1),
                share_with_peers: false,
            },
        );
        m.profiles.insert(1, Profile::default());
        for (id, role) in [(1, 1), (2, 2), (3, 3), (4, 3), (5, 4)] {
            m.users.insert(
                id,
                User {
                    role: Some(role),
                    profile: 1,
                    active: true,
                },
            );
        }
        let records = [(101, 3), (201, 4), (301, 2), (401, 5)]
            .iter()
            .map(|(id, owner)| Record {
                id: id.to_string(),
                owner: Some(*owner),
                parent: None,
                fields: BTreeMap::from([(
                    "city".to_string(),
                    Some(Value::Text(
                        if *id == 101 { "New York" } else { "Boston" }.into(),
                    )),
                )]),
            })
            .collect();
        m.tables.insert(
            "accounts".into(),
            Table {
                kind: TableKind::Owned {
                    default_access: DefaultAccess::Private,
                    grant_via_hierarchy: true,
                },
                records,
            },
        );
        m
    }

    fn visible(m: &Model, user: Id) -> Vec<String> {
        m.tables["accounts"]
            .records
            .iter()
            .filter(|r| m.can_read(user, "accounts", &r.id))
            .map(|r| r.id.clone())
            .collect()
    }

    #[test]
    fn owner_and_superiors_see_records() {
        let m = crm();
        assert_eq!(visible(&m, 1), ["101", "201", "301", "401"]);
        assert_eq!(visible(&m, 2), ["101", "201", "301"]);
        assert_eq!(visible(&m, 3), ["101"]);
        assert_eq!(visible(&m, 5), ["401"]);
    }

    #[test]
    fn peers_see_each_other_read_only_when_enabled() {
        let mut m = crm();
        m.roles.get_mut(&3).unwrap().share_with_peers = true;
        assert_eq!(visible(&m, 3), ["101", "201"]);
        assert_eq!(m.level(3, "accounts", "201"), Level::Read);
    }

    #[test]
    fn inactive_user_sees_nothing_but_their_records_stay_reachable() {
        let mut m = crm();
        m.users.get_mut(&3).unwrap().active = false;
        assert!(visible(&m, 3).is_empty());
        assert_eq!(visible(&m, 2), ["101", "201", "301"]);
    }

    #[test]
    fn criteria_rule_with_superiors_allowed() {
        let mut m = crm();
        let cols = [Column {
            name: "city".into(),
            sql_type: "text".into(),
            family: TypeFamily::Text,
        }];
        let c = parse(
            &json!({"conditions": [{"column": "city", "op": "=", "value": "New York"}]}),
            &cols,
            "accounts",
        )
        .unwrap();
        m.rules.push(Rule {
            table: "accounts".into(),
            source: RuleSource::Criteria(c),
            to: Principal::Role(4),
            access: Level::Read,
            superiors_allowed: false,
            active: true,
        });
        assert_eq!(visible(&m, 5), ["101", "401"]);
        // A recipient's superior gains nothing unless superiors_allowed; the
        // CEO sees everything anyway, so check the level path via a fresh
        // superior-less setup: the Manager is not Support's superior.
        assert_eq!(visible(&m, 2), ["101", "201", "301"]);
    }

    #[test]
    fn shares_reach_exactly_their_recipients() {
        let mut m = crm();
        m.shares.push(Share {
            table: "accounts".into(),
            record: "401".into(),
            to: Principal::User(3),
            access: Level::Read,
            expired: false,
        });
        assert_eq!(visible(&m, 3), ["101", "401"]);
        // Erin's superiors gain nothing from the share.
        assert_eq!(visible(&m, 2), ["101", "201", "301"]);
        m.shares[0].expired = true;
        assert_eq!(visible(&m, 3), ["101"]);
    }

    #[test]
    fn nested_groups_resolve_and_cycles_terminate() {
        let mut m = crm();
        m.groups.insert(1, vec![Principal::Group(2)]);
        m.groups
            .insert(2, vec![Principal::User(5), Principal::Group(1)]);
        assert!(m.is_member(5, &Principal::Group(1)));
        assert!(!m.is_member(3, &Principal::Group(1)));
    }

    #[test]
    fn null_fields_match_only_is_null() {
        assert!(condition_holds(Op::IsNull, TypeFamily::Text, &[], None));
        assert!(!condition_holds(
            Op::Ne,
            TypeFamily::Text,
            &["x".into()],
            None
        ));
        assert!(!condition_holds(
            Op::NotIn,
            TypeFamily::Text,
            &["x".into()],
            None
        ));
        assert!(condition_holds(
            Op::Contains,
            TypeFamily::Text,
            &["YORK".into()],
            Some(&Value::Text("New York".into()))
        ));
        assert!(condition_holds(
            Op::Ge,
            TypeFamily::Number,
            &["10000".into()],
            Some(&Value::Number(10000.0))
        ));
    }
}
