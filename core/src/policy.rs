//! Generation of the row-level-security predicates and policies of a
//! protected table.
//!
//! One predicate per access level describes "the current user has at least
//! this level on the row". The same text serves the policies and the check
//! functions (`can_read`, `access_level`, …), which evaluate it with the
//! current user temporarily set to the user asked about; so the checks agree
//! with what the policies enforce by construction.
//!
//! Everything that depends on the user is a plain call of a parallel-safe
//! `sharing._fn(…)` with constant arguments (src/member.rs): no sub-selects,
//! so every backend that evaluates the query — the leader, a parallel
//! worker — answers it for the user `sharing.identity` names. Each call
//! site remembers its answer for the statement, the planner is told (by
//! the functions' support) how much each arm lets the planning user see,
//! and the set tests stay answerable from the owner's and the key's index.

use crate::access::{DefaultAccess, Level};
use crate::sql::{quote_ident, quote_literal};

/// A criteria rule as it appears in the policies of its table.
#[derive(Debug, Clone, PartialEq)]
pub struct CriteriaRule {
    pub id: i64,
    pub access: Level,
    /// The compiled condition, with column references left unqualified
    /// and qualified at generation through [`qualify`] placeholders.
    pub condition: CompiledCondition,
}

/// A compiled criteria condition: a function from the row qualifier (e.g.
/// `"public"."accounts".`) to SQL. Stored as the SQL with the qualifier
/// placeholder [`ROW`] in place.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledCondition(pub String);

/// Placeholder for the row qualifier in a [`CompiledCondition`]. It cannot
/// appear in quoted identifiers or literals we generate (it contains a NUL,
/// which PostgreSQL text can never hold).
pub const ROW: &str = "\u{0}ROW\u{0}";

impl CompiledCondition {
    pub fn with_row(&self, row: &str) -> String {
        self.0.replace(ROW, row)
    }
}

/// How a protected table gets its rows' access.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Records owned by users: owner, hierarchy, peers, rules, shares, OWD.
    Owned {
        owner_column: String,
        default_access: DefaultAccess,
        criteria_rules: Vec<CriteriaRule>,
    },
    /// "Controlled by parent": access follows the parent row.
    Child {
        parent_column: String,
        parent: Box<TableModel>,
    },
}

/// What policy generation needs to know about a protected table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableModel {
    /// The root protected table, as a qualified quoted name (catalog key).
    pub table: String,
    pub pk_column: String,
    /// The primary key's type as `format_type` prints it.
    pub pk_type: String,
    pub kind: Kind,
    /// A Citus table: its policies run on the node of each shard, where a
    /// policy holds no sub-query (a child reads its parent through
    /// `sharing._parent_allows`, from the co-located shard), and a record
    /// is read before its predicates are evaluated (`level_query_of_row`).
    pub citus: bool,
}

/// The profile action a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Read,
    Edit,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Edit => "edit",
            Action::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        [Action::Create, Action::Read, Action::Edit, Action::Delete]
            .into_iter()
            .find(|a| a.as_str() == s)
    }

    /// The sharing level an action on an existing row needs.
    pub fn level(self) -> Level {
        match self {
            Action::Create | Action::Delete => Level::ReadWriteDelete,
            Action::Read => Level::Read,
            Action::Edit => Level::ReadWrite,
        }
    }
}

/// The names of the generated policies, one per command.
pub const POLICY_NAMES: [&str; 4] = [
    "sharing_select",
    "sharing_insert",
    "sharing_update",
    "sharing_delete",
];

fn regclass(table: &str) -> String {
    format!("{}::regclass", quote_literal(table))
}

fn is_active() -> String {
    "sharing._is_active()".into()
}

fn action_allowed(table: &str, action: Action) -> String {
    format!(
        "sharing._action_allowed({}, {})",
        regclass(table),
        quote_literal(action.as_str())
    )
}

fn bypass(level: Level) -> String {
    format!("sharing._bypass({})", level.rank())
}

/// The smallest value of a supported key type: `key >= floor` holds for
/// every row.
fn key_floor(pk_type: &str) -> Option<&'static str> {
    match pk_type {
        "bigint" => Some("-9223372036854775808"),
        "integer" => Some("-2147483648"),
        "uuid" => Some("00000000-0000-0000-0000-000000000000"),
        "text" => Some(""),
        _ => None,
    }
}

/// "The row's owner is one whose records the current user reaches at
/// `level`": `sharing._member`, a hashed `owner = ANY (set)` that the
/// planner can answer from the owner column's index and estimates for the
/// planning user (src/member.rs).
fn owners_arm(table: &str, owner_column: &str, level: Level, row: &str) -> String {
    format!(
        "sharing._member({row}{}, {}, {})",
        quote_ident(owner_column),
        regclass(table),
        level.rank()
    )
}

/// "The record is shared with the current user at `level` or more":
/// `sharing._shared`, hashed like `_member`, answerable from the key's index.
fn shares_arm(table: &str, pk_column: &str, level: Level, row: &str) -> String {
    format!(
        "sharing._shared({row}{}, {}, {})",
        quote_ident(pk_column),
        regclass(table),
        level.rank()
    )
}

/// What opens a gated arm for the current user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// view_all / modify_all at an access level.
    Bypass(Level),
    /// A criteria rule (by id) reaches the user.
    Rule(i64),
}

impl Gate {
    /// The test of the gate, as a boolean expression.
    fn test(self) -> String {
        match self {
            Gate::Bypass(level) => bypass(level),
            Gate::Rule(id) => format!("sharing._rule_reaches_me({id})"),
        }
    }
}

impl TableModel {
    /// An arm that holds for the rows satisfying `condition` (or every row)
    /// when `gate` is open for the current user, and for no row otherwise:
    ///
    /// `gate AND condition AND key >= CASE WHEN gate THEN floor END`
    ///
    /// - At execution the gate comes first: for a user the gate does not
    ///   let in, the arm costs one remembered answer per row, and the
    ///   condition is only evaluated when the gate is open. The planner
    ///   prices the gate as all rows or none for the planning user.
    /// - The bound makes the arm answerable from the key's index (so a
    ///   BitmapOr over all arms stays possible): a gate-dependent range over
    ///   the whole key, empty (a NULL bound) when the gate is closed.
    /// - The bound is a plain call of a STABLE function with constants, so
    ///   the planner evaluates it for its estimates (never for the result):
    ///   for the user planning the query, an open gate's range is the whole
    ///   index, a closed one's nothing. So a rep the rule does not reach
    ///   gets a cheap BitmapOr, and a user it does reach a plan that does
    ///   not read the whole key index to find the rule's rows. (One bound,
    ///   not two: PostgreSQL prices a contradictory two-sided range, as two
    ///   NULL bounds make, at a default 0.5% rather than at nothing.)
    fn gated_arm(&self, gate: Gate, condition: Option<String>, row: &str) -> String {
        let key = format!("{row}{}", quote_ident(&self.pk_column));
        let range = match key_floor(&self.pk_type) {
            Some(floor) => format!(
                "{key} >= CASE WHEN {} THEN {}::{} END",
                gate.test(),
                quote_literal(floor),
                self.pk_type
            ),
            None => format!("{key} IS NOT NULL"),
        };
        let mut parts = vec![gate.test()];
        parts.extend(condition);
        parts.push(range);
        format!("({})", parts.join(" AND "))
    }

    /// "The current user has at least `level` on the row", before the
    /// profile's per-table action flags. `row` qualifies the row's columns
    /// (e.g. `"public"."accounts".`) so that nothing can capture them.
    pub fn level_predicate(&self, level: Level, row: &str) -> String {
        self.level_predicate_at(level, row, 1)
    }

    fn level_predicate_at(&self, level: Level, row: &str, depth: usize) -> String {
        if level == Level::None {
            return is_active();
        }
        let t = &self.table;
        let mut grants: Vec<String> = Vec::new();
        match &self.kind {
            Kind::Owned {
                owner_column,
                default_access,
                criteria_rules,
            } => {
                if default_access.level() >= level {
                    return is_active();
                }
                grants.push(self.gated_arm(Gate::Bypass(level), None, row));
                grants.push(owners_arm(t, owner_column, level, row));
                grants.push(shares_arm(t, &self.pk_column, level, row));
                for rule in criteria_rules.iter().filter(|r| r.access >= level) {
                    grants.push(self.gated_arm(
                        Gate::Rule(rule.id),
                        Some(rule.condition.with_row(row)),
                        row,
                    ));
                }
            }
            Kind::Child {
                parent_column,
                parent,
            } if self.citus => {
                grants.push(bypass(level));
                grants.push(format!(
                    "({} AND sharing._parent_allows({}, {row}{}::text, {}))",
                    action_allowed(&parent.table, Action::Read),
                    regclass(&parent.table),
                    quote_ident(parent_column),
                    level.parent_level_needed().rank()
                ));
            }
            Kind::Child {
                parent_column,
                parent,
            } => {
                grants.push(bypass(level));
                let alias = format!("_sharing_parent_{depth}");
                let parent_row = format!("{alias}.");
                grants.push(format!(
                    "({} AND EXISTS (SELECT 1 FROM {} AS {alias} WHERE {parent_row}{} = {row}{} AND {}))",
                    action_allowed(&parent.table, Action::Read),
                    parent.table,
                    quote_ident(&parent.pk_column),
                    quote_ident(parent_column),
                    parent.level_predicate_at(level.parent_level_needed(), &parent_row, depth + 1)
                ));
            }
        }
        format!("({} AND ({}))", is_active(), grants.join(" OR "))
    }

    /// What an INSERT must satisfy: the new row is one the user may own
    /// (their own, or one they would have full access to), or, in a child
    /// table, one whose parent they may write.
    pub fn insert_predicate(&self, row: &str) -> String {
        match &self.kind {
            // public_read_write_delete gives every active user full access
            // to everyone's records: any owner will do.
            Kind::Owned { default_access, .. }
                if default_access.level() >= Level::ReadWriteDelete =>
            {
                is_active()
            }
            Kind::Owned { owner_column, .. } => format!(
                "({} AND ({} OR {}))",
                is_active(),
                bypass(Level::ReadWriteDelete),
                owners_arm(&self.table, owner_column, Level::ReadWriteDelete, row)
            ),
            Kind::Child { .. } => self.level_predicate(Level::ReadWriteDelete, row),
        }
    }

    /// The predicate of an action: the profile allows it and sharing grants
    /// the level it needs.
    pub fn action_predicate(&self, action: Action, row: &str) -> String {
        let sharing = match action {
            Action::Create => self.insert_predicate(row),
            _ => self.level_predicate(action.level(), row),
        };
        format!("({} AND {})", action_allowed(&self.table, action), sharing)
    }

    /// The `CREATE POLICY` statements for `relation` (the protected table
    /// itself or one of its partitions), as a qualified quoted name.
    pub fn policies(&self, relation: &str) -> Vec<String> {
        let row = format!("{relation}.");
        let read = self.action_predicate(Action::Read, &row);
        let create = self.action_predicate(Action::Create, &row);
        let edit = self.action_predicate(Action::Edit, &row);
        let delete = self.action_predicate(Action::Delete, &row);
        let [select, insert, update, delete_] = POLICY_NAMES;
        vec![
            format!("CREATE POLICY {select} ON {relation} AS PERMISSIVE FOR SELECT TO PUBLIC USING {read}"),
            format!("CREATE POLICY {insert} ON {relation} AS PERMISSIVE FOR INSERT TO PUBLIC WITH CHECK {create}"),
            format!("CREATE POLICY {update} ON {relation} AS PERMISSIVE FOR UPDATE TO PUBLIC USING {edit} WITH CHECK {edit}"),
            format!("CREATE POLICY {delete_} ON {relation} AS PERMISSIVE FOR DELETE TO PUBLIC USING {delete}"),
        ]
    }

    /// A query returning the current user's level (0..3) on the row whose
    /// primary key is `$1` (text), or no row when there is no such record.
    pub fn level_query(&self) -> String {
        let row = format!("{}.", self.table);
        format!(
            "SELECT {} FROM {} WHERE {row}{} = $1::{}",
            self.level_case(&row),
            self.table,
            quote_ident(&self.pk_column),
            self.pk_type
        )
    }

    /// Like [`level_query`](Self::level_query), for a row given as `$1`
    /// (jsonb, the row as `to_jsonb` makes it) rather than read from the
    /// table: the predicates are evaluated where the query runs, never
    /// pushed to another node with the table (Citus).
    pub fn level_query_of_row(&self) -> String {
        format!(
            "SELECT {} FROM pg_catalog.jsonb_populate_record(NULL::{}, $1) AS r",
            self.level_case("r."),
            self.table
        )
    }

    fn level_case(&self, row: &str) -> String {
        let case: Vec<String> = [Level::ReadWriteDelete, Level::ReadWrite, Level::Read]
            .iter()
            .map(|l| format!("WHEN {} THEN {}", self.level_predicate(*l, row), l.rank()))
            .collect();
        format!("CASE {} ELSE 0 END", case.join(" "))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A protected accounts table (also the access diff's tests').
    pub(crate) fn accounts(default_access: DefaultAccess, rules: Vec<CriteriaRule>) -> TableModel {
        TableModel {
            table: "\"public\".\"accounts\"".into(),
            pk_column: "id".into(),
            pk_type: "bigint".into(),
            kind: Kind::Owned {
                owner_column: "owner_id".into(),
                default_access,
                criteria_rules: rules,
            },
            citus: false,
        }
    }

    #[test]
    fn private_read_predicate_is_plain_calls_without_subselects() {
        let p = accounts(DefaultAccess::Private, vec![]).level_predicate(Level::Read, "a.");
        assert_eq!(
            p,
            "(sharing._is_active() AND ((sharing._bypass(1) \
             AND a.\"id\" >= CASE WHEN sharing._bypass(1) THEN '-9223372036854775808'::bigint END) OR \
             sharing._member(a.\"owner_id\", '\"public\".\"accounts\"'::regclass, 1) OR \
             sharing._shared(a.\"id\", '\"public\".\"accounts\"'::regclass, 1)))"
        );
        assert!(!p.contains("SELECT"));
    }

    #[test]
    fn default_access_short_circuits_only_up_to_its_level() {
        let t = accounts(DefaultAccess::PublicRead, vec![]);
        assert_eq!(t.level_predicate(Level::Read, ""), "sharing._is_active()");
        assert!(t.level_predicate(Level::ReadWrite, "").contains("_member"));
        let t = accounts(DefaultAccess::PublicReadWriteDelete, vec![]);
        assert_eq!(
            t.level_predicate(Level::ReadWriteDelete, ""),
            "sharing._is_active()"
        );
    }

    #[test]
    fn criteria_rules_apply_from_their_level_down() {
        let rule = CriteriaRule {
            id: 7,
            access: Level::ReadWrite,
            condition: CompiledCondition(format!("({ROW}\"city\" = 'NY'::text)")),
        };
        let t = accounts(DefaultAccess::Private, vec![rule]);
        let read = t.level_predicate(Level::Read, "x.");
        assert!(read.contains(
            "(sharing._rule_reaches_me(7) AND (x.\"city\" = 'NY'::text) \
             AND x.\"id\" >= CASE WHEN sharing._rule_reaches_me(7) THEN '-9223372036854775808'::bigint END)"
        ));
        // A key type without a floor: the gate, the condition, a non-NULL key.
        let mut numeric = t.clone();
        numeric.pk_type = "numeric".into();
        assert!(numeric.level_predicate(Level::Read, "x.").contains(
            "(sharing._rule_reaches_me(7) AND (x.\"city\" = 'NY'::text) AND x.\"id\" IS NOT NULL)"
        ));
        assert!(t
            .level_predicate(Level::ReadWrite, "")
            .contains("_rule_reaches_me(7)"));
        assert!(!t
            .level_predicate(Level::ReadWriteDelete, "")
            .contains("_rule_reaches_me(7)"));
    }

    #[test]
    fn child_follows_parent_at_mapped_level() {
        let child = TableModel {
            table: "\"public\".\"notes\"".into(),
            pk_column: "id".into(),
            pk_type: "uuid".into(),
            kind: Kind::Child {
                parent_column: "account_id".into(),
                parent: Box::new(accounts(DefaultAccess::Private, vec![])),
            },
            citus: false,
        };
        let del = child.level_predicate(Level::ReadWriteDelete, "n.");
        assert!(del.contains("EXISTS (SELECT 1 FROM \"public\".\"accounts\" AS _sharing_parent_1 WHERE _sharing_parent_1.\"id\" = n.\"account_id\""));
        assert!(del.contains(
            "_member(_sharing_parent_1.\"owner_id\", '\"public\".\"accounts\"'::regclass, 2)"
        ));
        assert!(!del.contains("'\"public\".\"accounts\"'::regclass, 3)"));
        let policies = child.policies("\"public\".\"notes\"");
        assert_eq!(policies.len(), 4);
        assert!(policies[2].contains("'edit'"));
    }

    #[test]
    fn co_located_child_asks_a_function_instead_of_a_subquery() {
        let child = TableModel {
            table: "\"public\".\"notes\"".into(),
            pk_column: "id".into(),
            pk_type: "bigint".into(),
            kind: Kind::Child {
                parent_column: "account_id".into(),
                parent: Box::new(accounts(DefaultAccess::Private, vec![])),
            },
            citus: true,
        };
        for policy in child.policies("\"public\".\"notes\"") {
            assert!(
                !policy.contains("(SELECT") && !policy.contains("EXISTS"),
                "{policy}"
            );
        }
        let del = child.level_predicate(Level::ReadWriteDelete, "n.");
        assert!(del.contains(
            "sharing._parent_allows('\"public\".\"accounts\"'::regclass, n.\"account_id\"::text, 2)"
        ));
        let read = child.level_predicate(Level::Read, "n.");
        assert!(read.contains("n.\"account_id\"::text, 1)"));
    }

    #[test]
    fn insert_checks_the_new_owner_unless_everyone_has_full_access() {
        let private = accounts(DefaultAccess::PublicReadWrite, vec![]).insert_predicate("a.");
        assert!(private
            .contains("sharing._member(a.\"owner_id\", '\"public\".\"accounts\"'::regclass, 3)"));
        assert_eq!(
            accounts(DefaultAccess::PublicReadWriteDelete, vec![]).insert_predicate("a."),
            "sharing._is_active()"
        );
    }

    #[test]
    fn level_query_of_row_reads_the_row_from_its_parameter() {
        let q = accounts(DefaultAccess::Private, vec![]).level_query_of_row();
        assert!(q.starts_with("SELECT CASE WHEN"));
        assert!(q.contains("sharing._member(r.\"owner_id\""));
        assert!(q.ends_with(
            "FROM pg_catalog.jsonb_populate_record(NULL::\"public\".\"accounts\", $1) AS r"
        ));
    }

    #[test]
    fn level_query_checks_highest_level_first() {
        let q = accounts(DefaultAccess::Private, vec![]).level_query();
        assert!(q.starts_with("SELECT CASE WHEN"));
        assert!(q.ends_with("WHERE \"public\".\"accounts\".\"id\" = $1::bigint"));
        let w3 = q.find("THEN 3").unwrap();
        let w1 = q.find("THEN 1").unwrap();
        assert!(w3 < w1);
    }
}
