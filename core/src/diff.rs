//! The access diff's pure part: where two models can give a user different
//! access to a table (a [`Region`] of its rows), the user's access to a row
//! under each model, and the records gained and lost.
//!
//! The extension (src/diff.rs) takes what the engine holds for a user and
//! a table under each model (a [`Standing`]: the answers the policies'
//! functions give), asks [`region`] which rows can differ, reads what the
//! policies look at in those rows once ([`RowFacts`]: key, owner, which
//! criteria match), and gives each user's access to each row under each
//! model with [`Standing::actions`], the policies' predicates
//! (core/src/policy.rs) evaluated over those answers. The access-diff test
//! holds both against the reference evaluator.

use crate::access::Level;
use crate::policy::{CompiledCondition, Kind, TableModel};
use crate::sql::{quote_ident, quote_literal};
use std::collections::{BTreeMap, HashMap};

/// What the policies of one table ask about one user under one model: the
/// answers of the engine's functions, with the table's model (and, for a
/// child table, the same for its parent).
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub model: TableModel,
    pub active: bool,
    pub view_all: bool,
    pub modify_all: bool,
    /// The profile's read, edit and delete flags for the table.
    pub allowed: [bool; 3],
    /// Owners whose records the user reaches, with the best level (1..3).
    pub owners: BTreeMap<i64, i32>,
    /// Records shared with the user, with the best level (1..3).
    pub shared: BTreeMap<String, i32>,
    /// The ids of the rules (of any table) that reach the user.
    pub rules: Vec<i64>,
    /// The parent's standing, for a child table.
    pub parent: Option<Box<Standing>>,
}

/// The rows of a table whose access can differ between two models.
#[derive(Debug, Clone, PartialEq)]
pub enum Region {
    /// None.
    Same,
    /// Any row.
    Whole,
    /// The rows of these owners, these records, and those matching these
    /// criteria.
    Part {
        owners: Vec<i64>,
        keys: Vec<String>,
        conditions: Vec<CompiledCondition>,
    },
    /// The child rows whose parent is in the parent table's region.
    Children(Box<Region>),
}

/// The tables' structure as the policies use it, all but the default
/// access and the criteria rules: two models that differ here differ
/// everywhere.
fn same_shape(a: &TableModel, b: &TableModel) -> bool {
    if (&a.table, &a.pk_column, &a.pk_type, a.citus)
        != (&b.table, &b.pk_column, &b.pk_type, b.citus)
    {
        return false;
    }
    match (&a.kind, &b.kind) {
        (
            Kind::Owned {
                owner_column: x, ..
            },
            Kind::Owned {
                owner_column: y, ..
            },
        ) => x == y,
        (
            Kind::Child {
                parent_column: x,
                parent: p,
            },
            Kind::Child {
                parent_column: y,
                parent: q,
            },
        ) => x == y && same_shape(p, q),
        _ => false,
    }
}

/// The criteria rules of an owned table that reach the user, with their
/// level and condition.
fn reaching_rules(s: &Standing) -> BTreeMap<i64, (Level, &CompiledCondition)> {
    match &s.model.kind {
        Kind::Owned { criteria_rules, .. } => criteria_rules
            .iter()
            .filter(|r| s.rules.binary_search(&r.id).is_ok())
            .map(|r| (r.id, (r.access, &r.condition)))
            .collect(),
        Kind::Child { .. } => BTreeMap::new(),
    }
}

/// The keys whose value differs between two maps (present in one only
/// included).
fn moved<K: Ord + Clone, V: PartialEq>(a: &BTreeMap<K, V>, b: &BTreeMap<K, V>) -> Vec<K> {
    let mut keys: Vec<K> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    keys.extend(b.keys().filter(|k| !a.contains_key(*k)).cloned());
    keys.sort();
    keys
}

/// Where the user's access to the table can differ between the model of
/// `before` and that of `after`.
pub fn region(before: &Standing, after: &Standing) -> Region {
    if !before.active && !after.active {
        return Region::Same;
    }
    let default = |s: &Standing| match &s.model.kind {
        Kind::Owned { default_access, .. } => Some(default_access.level()),
        Kind::Child { .. } => None,
    };
    let base = |s: &Standing| (s.active, s.view_all, s.modify_all, s.allowed, default(s));
    if !same_shape(&before.model, &after.model) || base(before) != base(after) {
        return Region::Whole;
    }
    match (&before.parent, &after.parent) {
        (Some(p), Some(q)) => match region(p, q) {
            Region::Same => Region::Same,
            Region::Whole => Region::Whole,
            parent => Region::Children(Box::new(parent)),
        },
        (None, None) => {
            let owners = moved(&before.owners, &after.owners);
            let keys = moved(&before.shared, &after.shared);
            let (rb, ra) = (reaching_rules(before), reaching_rules(after));
            let mut conditions: Vec<CompiledCondition> = Vec::new();
            for id in moved(&rb, &ra) {
                for side in [&rb, &ra] {
                    if let Some((_, condition)) = side.get(&id) {
                        if !conditions.contains(condition) {
                            conditions.push((*condition).clone());
                        }
                    }
                }
            }
            if owners.is_empty() && keys.is_empty() && conditions.is_empty() {
                Region::Same
            } else {
                Region::Part {
                    owners,
                    keys,
                    conditions,
                }
            }
        }
        _ => Region::Whole,
    }
}

impl Region {
    /// The region as a boolean expression over the rows of `model`'s table,
    /// its columns qualified by `row` (e.g. `"public"."notes".`); constants
    /// quoted. `depth` keeps the aliases of nested parents apart.
    pub fn predicate(&self, model: &TableModel, row: &str, depth: usize) -> String {
        match (self, &model.kind) {
            (Region::Same, _) => "false".into(),
            (Region::Whole, _) => "true".into(),
            (
                Region::Part {
                    owners,
                    keys,
                    conditions,
                },
                Kind::Owned { owner_column, .. },
            ) => {
                let mut arms: Vec<String> = Vec::new();
                if !owners.is_empty() {
                    let list: Vec<String> = owners.iter().map(i64::to_string).collect();
                    arms.push(format!(
                        "{row}{} = ANY ('{{{}}}'::bigint[])",
                        quote_ident(owner_column),
                        list.join(",")
                    ));
                }
                if !keys.is_empty() {
                    let list: Vec<String> = keys.iter().map(|k| quote_literal(k)).collect();
                    arms.push(format!(
                        "{row}{} = ANY (ARRAY[{}]::text[]::{}[])",
                        quote_ident(&model.pk_column),
                        list.join(", "),
                        model.pk_type
                    ));
                }
                arms.extend(conditions.iter().map(|c| format!("({})", c.with_row(row))));
                format!("({})", arms.join(" OR "))
            }
            (
                Region::Children(parent_region),
                Kind::Child {
                    parent_column,
                    parent,
                },
            ) => {
                let alias = format!("_sharing_diff_{depth}");
                format!(
                    "{row}{} IN (SELECT {alias}.{} FROM {} AS {alias} WHERE {})",
                    quote_ident(parent_column),
                    quote_ident(&parent.pk_column),
                    parent.table,
                    parent_region.predicate(parent, &format!("{alias}."), depth + 1)
                )
            }
            // A region made for another kind of table: every row.
            _ => "true".into(),
        }
    }
}

/// What the policies look at in a row: its key and, from the owned table at
/// the root of its parent chain (the row itself in an owned table), that
/// row's key, owner and the criteria conditions it matches (indexes into
/// the list the facts were read with). No root for a child row whose parent
/// is missing.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFacts {
    pub key: String,
    pub root: Option<RootFacts>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RootFacts {
    pub key: String,
    pub owner: Option<i64>,
    pub matches: Vec<usize>,
}

/// A fast, non-cryptographic hasher for the judges' lookups (millions per
/// diff, of keys no client chooses at diff time): multiply and rotate, as
/// rustc's own FxHasher does.
#[derive(Default, Clone, Copy)]
pub struct QuickHasher(u64);

impl std::hash::Hasher for QuickHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type QuickMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<QuickHasher>>;

/// A [`Standing`] made ready to judge many rows read with one list of
/// conditions: [`Standing::judge`].
pub struct Judge<'a> {
    standing: &'a Standing,
    /// view_all / modify_all as a level.
    bypass: i32,
    /// For an owned table: the default access's level, and per condition
    /// (by index) the best level of the rules reaching the user that use it.
    default: i32,
    rule_levels: Vec<i32>,
    /// The standing's owners and shared records, hashed.
    owners: QuickMap<i64, i32>,
    shared: QuickMap<&'a str, i32>,
    /// For a child table: the parent's judge, if the profile lets the user
    /// read the parent.
    parent: Option<Box<Judge<'a>>>,
}

impl Judge<'_> {
    /// The user's level (0..3) on a row before the profile's action flags:
    /// the highest level whose predicate
    /// ([`TableModel::level_predicate`](crate::policy::TableModel::level_predicate))
    /// holds.
    fn level(&self, root: Option<&RootFacts>) -> i32 {
        let s = self.standing;
        if !s.active {
            return 0;
        }
        match &s.model.kind {
            Kind::Owned { .. } => {
                let mut level = self.default.max(self.bypass);
                if let Some(root) = root {
                    if let Some(owner) = root.owner {
                        level = level.max(self.owners.get(&owner).copied().unwrap_or(0));
                    }
                    if !self.shared.is_empty() {
                        level = level.max(self.shared.get(root.key.as_str()).copied().unwrap_or(0));
                    }
                    for &i in &root.matches {
                        level = level.max(self.rule_levels.get(i).copied().unwrap_or(0));
                    }
                }
                level
            }
            // The parent's level: read stays read, writing gives everything.
            Kind::Child { .. } => {
                let through_parent = self.parent.as_ref().map_or(0, |p| {
                    Level::for_child(Level::from_rank(p.level(root))).rank()
                });
                through_parent.max(self.bypass)
            }
        }
    }

    /// What the user may do with a row ([`READ`] | [`EDIT`] | [`DELETE`]):
    /// the profile's flag and the level each action needs.
    pub fn actions(&self, row: &RowFacts) -> u8 {
        let level = self.level(row.root.as_ref());
        let mut bits = 0;
        for (i, (bit, needed)) in [(READ, 1), (EDIT, 2), (DELETE, 3)].into_iter().enumerate() {
            if self.standing.allowed[i] && level >= needed {
                bits |= bit;
            }
        }
        bits
    }
}

impl Standing {
    /// A judge of rows whose facts were read with `conditions`.
    pub fn judge<'a>(&'a self, conditions: &[CompiledCondition]) -> Judge<'a> {
        let bypass = if self.modify_all {
            3
        } else if self.view_all {
            1
        } else {
            0
        };
        let (default, mut rule_levels) = (0, vec![0; conditions.len()]);
        let default = match &self.model.kind {
            Kind::Owned { default_access, .. } => {
                for (access, condition) in reaching_rules(self).values() {
                    for (i, c) in conditions.iter().enumerate() {
                        if c == *condition {
                            rule_levels[i] = rule_levels[i].max(access.rank());
                        }
                    }
                }
                default_access.level().rank()
            }
            Kind::Child { .. } => default,
        };
        let parent = self
            .parent
            .as_ref()
            .filter(|p| p.allowed[0])
            .map(|p| Box::new(p.judge(conditions)));
        Judge {
            standing: self,
            bypass,
            default,
            rule_levels,
            owners: self.owners.iter().map(|(o, l)| (*o, *l)).collect(),
            shared: self.shared.iter().map(|(k, l)| (k.as_str(), *l)).collect(),
            parent,
        }
    }

    /// The criteria conditions of the owned table at the root of this
    /// standing's chain (of every rule, reaching the user or not).
    pub fn root_conditions(&self) -> Vec<CompiledCondition> {
        match (&self.model.kind, &self.parent) {
            (Kind::Owned { criteria_rules, .. }, _) => {
                criteria_rules.iter().map(|r| r.condition.clone()).collect()
            }
            (Kind::Child { .. }, Some(parent)) => parent.root_conditions(),
            (Kind::Child { .. }, None) => Vec::new(),
        }
    }
}

/// The query that reads the [`RowFacts`] of the rows of `model`'s table in
/// `region` (every row for None), in key order: columns key, root key,
/// root owner, the indexes of the `conditions` the root row matches.
pub fn facts_query(
    model: &TableModel,
    region: &Region,
    conditions: &[CompiledCondition],
) -> String {
    let row = format!("{}.", model.table);
    let key = format!("{row}{}", quote_ident(&model.pk_column));
    // Join the parents up to the owned root.
    let mut joins = String::new();
    let (mut current, mut current_row) = (model, row.clone());
    let mut depth = 0;
    while let Kind::Child {
        parent_column,
        parent,
    } = &current.kind
    {
        depth += 1;
        let alias = format!("_sharing_root_{depth}");
        joins.push_str(&format!(
            " LEFT JOIN {} AS {alias} ON {alias}.{} = {current_row}{}",
            parent.table,
            quote_ident(&parent.pk_column),
            quote_ident(parent_column)
        ));
        current = parent;
        current_row = format!("{alias}.");
    }
    let Kind::Owned { owner_column, .. } = &current.kind else {
        unreachable!("a parent chain ends at an owned table")
    };
    let matches: Vec<String> = conditions
        .iter()
        .enumerate()
        .map(|(i, c)| format!("CASE WHEN {} THEN {i} END", c.with_row(&current_row)))
        .collect();
    format!(
        "SELECT {key}::text, {current_row}{}::text, {current_row}{}::bigint, pg_catalog.array_remove(ARRAY[{}]::integer[], NULL) FROM {}{joins} WHERE {} ORDER BY {key}",
        quote_ident(&current.pk_column),
        quote_ident(owner_column),
        matches.join(", "),
        model.table,
        region.predicate(model, &row, 0)
    )
}

/// What a user may do with a record, as bits.
pub const READ: u8 = 1;
pub const EDIT: u8 = 2;
pub const DELETE: u8 = 4;

/// The records gained and lost, per action (read, edit, delete), with the
/// first few records of each read change.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Change {
    pub gained: [i64; 3],
    pub lost: [i64; 3],
    pub sample_gained: Vec<String>,
    pub sample_lost: Vec<String>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.gained == [0; 3] && self.lost == [0; 3]
    }
}

/// Counts the records gained and lost over rows given as (key, what the
/// user may do before, after), in the table's key order; samples are the
/// first `samples` records of each read change.
pub fn tally<'a>(rows: impl IntoIterator<Item = (&'a str, u8, u8)>, samples: usize) -> Change {
    let mut change = Change::default();
    for (key, before, after) in rows {
        for (i, bit) in [READ, EDIT, DELETE].into_iter().enumerate() {
            if after & bit != 0 && before & bit == 0 {
                change.gained[i] += 1;
                if bit == READ && change.sample_gained.len() < samples {
                    change.sample_gained.push(key.to_string());
                }
            }
            if before & bit != 0 && after & bit == 0 {
                change.lost[i] += 1;
                if bit == READ && change.sample_lost.len() < samples {
                    change.sample_lost.push(key.to_string());
                }
            }
        }
    }
    change
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::DefaultAccess;
    use crate::policy::CriteriaRule;

    fn owned(default_access: DefaultAccess, rules: Vec<(i64, Level, &str)>) -> TableModel {
        let rules = rules
            .into_iter()
            .map(|(id, access, c)| CriteriaRule {
                id,
                access,
                condition: CompiledCondition(format!("{}{c}", crate::policy::ROW)),
            })
            .collect();
        crate::policy::tests::accounts(default_access, rules)
    }

    fn standing(model: TableModel) -> Standing {
        Standing {
            model,
            active: true,
            view_all: false,
            modify_all: false,
            allowed: [true; 3],
            owners: BTreeMap::from([(7, 3)]),
            shared: BTreeMap::new(),
            rules: vec![],
            parent: None,
        }
    }

    fn child(parent: Standing) -> Standing {
        let model = TableModel {
            table: "\"public\".\"notes\"".into(),
            pk_column: "id".into(),
            pk_type: "bigint".into(),
            kind: Kind::Child {
                parent_column: "account_id".into(),
                parent: Box::new(parent.model.clone()),
            },
            citus: false,
        };
        Standing {
            owners: BTreeMap::new(),
            parent: Some(Box::new(parent)),
            ..standing(model)
        }
    }

    #[test]
    fn an_unchanged_standing_has_no_region() {
        let s = standing(owned(DefaultAccess::Private, vec![]));
        assert_eq!(region(&s, &s.clone()), Region::Same);
        let c = child(s);
        assert_eq!(region(&c, &c.clone()), Region::Same);
    }

    #[test]
    fn inactive_on_both_sides_is_the_same() {
        let mut a = standing(owned(DefaultAccess::Private, vec![]));
        a.active = false;
        let mut b = a.clone();
        b.owners.insert(8, 1);
        assert_eq!(region(&a, &b), Region::Same);
    }

    #[test]
    fn flags_and_default_access_concern_every_row() {
        let a = standing(owned(DefaultAccess::Private, vec![]));
        let mut b = a.clone();
        b.view_all = true;
        assert_eq!(region(&a, &b), Region::Whole);
        let mut b = a.clone();
        b.allowed[1] = false;
        assert_eq!(region(&a, &b), Region::Whole);
        let b = standing(owned(DefaultAccess::PublicRead, vec![]));
        assert_eq!(region(&a, &b), Region::Whole);
        let mut b = a.clone();
        b.active = false;
        assert_eq!(region(&a, &b), Region::Whole);
    }

    #[test]
    fn moved_owners_shares_and_rules_make_the_region() {
        let a = standing(owned(
            DefaultAccess::Private,
            vec![(1, Level::Read, "x = 1"), (2, Level::Read, "y = 2")],
        ));
        let mut b = standing(owned(
            DefaultAccess::Private,
            vec![
                (1, Level::Read, "x = 1"),
                (2, Level::ReadWrite, "y = 2"),
                (3, Level::Read, "z = 3"),
            ],
        ));
        // Owner 7's level changes, 9 appears; a record is shared; rule 3
        // reaches the user now, rule 2's level changed, rule 1 stays.
        b.owners = BTreeMap::from([(7, 1), (9, 1)]);
        b.shared = BTreeMap::from([("5".to_string(), 1)]);
        let mut a = a;
        a.rules = vec![1, 2];
        b.rules = vec![1, 2, 3];
        let r = region(&a, &b);
        let Region::Part {
            owners,
            keys,
            conditions,
        } = &r
        else {
            panic!("{r:?}")
        };
        assert_eq!(owners, &vec![7, 9]);
        assert_eq!(keys, &vec!["5".to_string()]);
        let texts: Vec<String> = conditions.iter().map(|c| c.with_row("t.")).collect();
        assert_eq!(texts, vec!["t.y = 2", "t.z = 3"]);
        assert_eq!(
            r.predicate(&b.model, "t.", 0),
            "(t.\"owner_id\" = ANY ('{7,9}'::bigint[]) OR t.\"id\" = ANY (ARRAY['5']::text[]::bigint[]) \
             OR (t.y = 2) OR (t.z = 3))"
        );
    }

    #[test]
    fn a_rule_that_does_not_reach_the_user_changes_nothing() {
        let mut a = standing(owned(DefaultAccess::Private, vec![]));
        let b = standing(owned(
            DefaultAccess::Private,
            vec![(4, Level::Read, "x = 1")],
        ));
        a.rules = vec![];
        assert_eq!(region(&a, &b), Region::Same);
    }

    #[test]
    fn a_child_follows_its_parents_region() {
        let a = standing(owned(DefaultAccess::Private, vec![]));
        let mut b = a.clone();
        b.owners.insert(9, 2);
        let r = region(&child(a.clone()), &child(b.clone()));
        assert_eq!(
            r,
            Region::Children(Box::new(Region::Part {
                owners: vec![9],
                keys: vec![],
                conditions: vec![]
            }))
        );
        assert_eq!(
            r.predicate(&child(b).model, "n.", 0),
            "n.\"account_id\" IN (SELECT _sharing_diff_0.\"id\" FROM \"public\".\"accounts\" AS _sharing_diff_0 \
             WHERE (_sharing_diff_0.\"owner_id\" = ANY ('{9}'::bigint[])))"
        );
        // The child's own flags concern every child row.
        let mut c = child(a.clone());
        c.allowed[0] = false;
        assert_eq!(region(&child(a), &c), Region::Whole);
    }

    fn facts(key: &str, owner: Option<i64>, matches: Vec<usize>) -> RowFacts {
        RowFacts {
            key: key.into(),
            root: Some(RootFacts {
                key: key.into(),
                owner,
                matches,
            }),
        }
    }

    #[test]
    fn actions_follow_the_levels_of_the_policies() {
        let model = owned(DefaultAccess::Private, vec![(1, Level::ReadWrite, "x = 1")]);
        let conditions = vec![CompiledCondition(format!("{}x = 1", crate::policy::ROW))];
        let mut s = standing(model);
        s.owners = BTreeMap::from([(7, 3), (8, 1)]);
        s.shared = BTreeMap::from([("50".to_string(), 2)]);
        assert_eq!(
            s.judge(&conditions).actions(&facts("1", Some(7), vec![])),
            READ | EDIT | DELETE
        );
        assert_eq!(
            s.judge(&conditions).actions(&facts("2", Some(8), vec![])),
            READ
        );
        assert_eq!(
            s.judge(&conditions).actions(&facts("50", Some(9), vec![])),
            READ | EDIT
        );
        assert_eq!(s.judge(&conditions).actions(&facts("3", None, vec![])), 0);
        // The rule gives its level only when it reaches the user.
        assert_eq!(
            s.judge(&conditions).actions(&facts("4", Some(9), vec![0])),
            0
        );
        s.rules = vec![1];
        assert_eq!(
            s.judge(&conditions).actions(&facts("4", Some(9), vec![0])),
            READ | EDIT
        );
        // Profile flags and view_all / modify_all.
        s.allowed = [true, false, true];
        assert_eq!(
            s.judge(&conditions).actions(&facts("1", Some(7), vec![])),
            READ | DELETE
        );
        s.view_all = true;
        assert_eq!(
            s.judge(&conditions).actions(&facts("5", Some(9), vec![])),
            READ
        );
        s.active = false;
        assert_eq!(
            s.judge(&conditions).actions(&facts("1", Some(7), vec![])),
            0
        );
    }

    #[test]
    fn a_child_row_gets_its_parents_level_for_a_child() {
        let mut parent = standing(owned(DefaultAccess::Private, vec![]));
        parent.owners = BTreeMap::from([(7, 2), (8, 1)]);
        let c = child(parent.clone());
        assert_eq!(
            c.judge(&[]).actions(&facts("70", Some(7), vec![])),
            READ | EDIT | DELETE
        );
        assert_eq!(c.judge(&[]).actions(&facts("80", Some(8), vec![])), READ);
        let orphan = RowFacts {
            key: "1".into(),
            root: None,
        };
        assert_eq!(c.judge(&[]).actions(&orphan), 0);
        // Without the parent's read flag, only view_all / modify_all help.
        parent.allowed[0] = false;
        let mut c = child(parent);
        assert_eq!(c.judge(&[]).actions(&facts("70", Some(7), vec![])), 0);
        c.modify_all = true;
        assert_eq!(c.judge(&[]).actions(&orphan), READ | EDIT | DELETE);
    }

    #[test]
    fn facts_are_read_through_the_parent_chain() {
        let parent = standing(owned(
            DefaultAccess::Private,
            vec![(1, Level::Read, "x = 1")],
        ));
        let c = child(parent);
        let conditions = c.root_conditions();
        assert_eq!(
            facts_query(&c.model, &Region::Whole, &conditions),
            "SELECT \"public\".\"notes\".\"id\"::text, _sharing_root_1.\"id\"::text, _sharing_root_1.\"owner_id\"::bigint, \
                pg_catalog.array_remove(ARRAY[CASE WHEN _sharing_root_1.x = 1 THEN 0 END]::integer[], NULL) \
           FROM \"public\".\"notes\" LEFT JOIN \"public\".\"accounts\" AS _sharing_root_1 \
ON _sharing_root_1.\"id\" = \"public\".\"notes\".\"account_id\" WHERE true ORDER BY \"public\".\"notes\".\"id\""
        );
    }

    #[test]
    fn tally_counts_each_action_and_samples_reads_in_order() {
        let rows = [
            ("1", READ, 0),
            ("2", READ | EDIT, READ),
            ("3", READ, READ | EDIT | DELETE),
            ("4", 0, READ),
            ("5", 0, READ),
        ];
        let c = tally(rows, 1);
        assert_eq!(c.gained, [2, 1, 1]);
        assert_eq!(c.lost, [1, 1, 0]);
        assert_eq!(c.sample_gained, vec!["4".to_string()]);
        assert_eq!(c.sample_lost, vec!["1".to_string()]);
        assert!(!c.is_empty());
        assert!(tally([("1", READ, READ)], 5).is_empty());
    }
}
