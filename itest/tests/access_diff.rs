//! `sharing.access_diff` against the reference evaluator: random
//! organisations (the differential test's generator) and random changes
//! (rules toggled, re-levelled, dropped and added; roles moved; users given
//! another role or profile, deactivated or reactivated; group members
//! removed and added; the default access and the hierarchy switch changed;
//! shares removed or re-levelled). Each change is made both to the
//! exported configuration document and to the reference model; the diff of
//! the document must report, for every user and table, exactly the records
//! gained and lost for reading, editing and deleting that the two
//! reference models give, and change nothing.
//!
//! PG_SHARING_ACCESS_DIFF_CASES sets the number of cases (default 60),
//! PG_SHARING_DIFF_SEED the first seed.

use pg_sharing_core::access::{DefaultAccess, Level};
use pg_sharing_core::reference::{Model, Principal, Rule, RuleSource, TableKind};
use pg_sharing_itest::scenario::{generate, TABLES};
use pg_sharing_itest::{describe, TestDb};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The scenario's profile names, by the reference model's profile id.
const PROFILES: [&str; 5] = ["standard", "viewall", "modall", "light", "noparent"];

fn principal_json(p: &Principal) -> (Value, Value) {
    match p {
        Principal::User(u) => (json!("user"), json!(format!("u{u}"))),
        Principal::Role(r) => (json!("role"), json!(format!("r{r}"))),
        Principal::RoleAndSubordinates(r) => {
            (json!("role_and_subordinates"), json!(format!("r{r}")))
        }
        Principal::Group(g) => (json!("group"), json!(format!("g{g}"))),
        Principal::AllUsers => (json!("all_users"), Value::Null),
    }
}

/// The rules' names in the scenario, in the model's order (owner rules were
/// made first, then criteria rules, each numbered from 0).
fn rule_names(m: &Model) -> Vec<String> {
    let (mut owner, mut criteria) = (0, 0);
    m.rules
        .iter()
        .map(|r| match r.source {
            RuleSource::Owners(_) => {
                owner += 1;
                format!("owner rule {}", owner - 1)
            }
            RuleSource::Criteria(_) => {
                criteria += 1;
                format!("criteria rule {}", criteria - 1)
            }
        })
        .collect()
}

fn entry<'a>(doc: &'a mut Value, list: &str, key: &str, value: &str) -> &'a mut Value {
    doc[list]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e[key].as_str() == Some(value))
        .unwrap_or_else(|| panic!("no {list} entry with {key} {value}"))
}

/// Whether role `role` is `ancestor` or below it.
fn at_or_below(m: &Model, role: i64, ancestor: i64) -> bool {
    let mut current = Some(role);
    while let Some(r) = current {
        if r == ancestor {
            return true;
        }
        current = m.roles[&r].parent;
    }
    false
}

fn level(rng: &mut StdRng) -> Level {
    *[Level::Read, Level::ReadWrite, Level::ReadWriteDelete]
        .choose(rng)
        .unwrap()
}

/// Makes one random change to both the document and the model; returns what
/// it did (for the failure message).
fn mutate(rng: &mut StdRng, doc: &mut Value, m: &mut Model, names: &mut Vec<String>) -> String {
    let roles: Vec<i64> = m.roles.keys().copied().collect();
    let users: Vec<i64> = m.users.keys().copied().collect();
    loop {
        match rng.gen_range(0..14) {
            0 if !m.rules.is_empty() => {
                let i = rng.gen_range(0..m.rules.len());
                m.rules[i].active = !m.rules[i].active;
                entry(doc, "rules", "name", &names[i])["active"] = json!(m.rules[i].active);
                return format!("toggle {}", names[i]);
            }
            1 if !m.rules.is_empty() => {
                let i = rng.gen_range(0..m.rules.len());
                m.rules[i].access = level(rng);
                entry(doc, "rules", "name", &names[i])["access"] =
                    json!(m.rules[i].access.as_str());
                return format!("{} to {}", names[i], m.rules[i].access.as_str());
            }
            2 if !m.rules.is_empty() => {
                let i = rng.gen_range(0..m.rules.len());
                m.rules.remove(i);
                let name = names.remove(i);
                doc["rules"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|r| r["name"].as_str() != Some(&name));
                return format!("drop {name}");
            }
            3 => {
                // A new criteria rule: an existing one's criteria, or a new
                // condition, to a random recipient.
                let groups = m.groups.len() as i64;
                let to = loop {
                    let p = match rng.gen_range(0..4) {
                        0 => Principal::Role(*roles.choose(rng).unwrap()),
                        1 => Principal::RoleAndSubordinates(*roles.choose(rng).unwrap()),
                        2 if groups > 0 => Principal::Group(rng.gen_range(1..=groups)),
                        3 => Principal::AllUsers,
                        _ => continue,
                    };
                    break p;
                };
                let city = *["New York", "Boston", "Seattle"].choose(rng).unwrap();
                let criteria_doc =
                    json!({"conditions": [{"column": "city", "op": "=", "value": city}]});
                let criteria = pg_sharing_core::criteria::parse(
                    &criteria_doc,
                    &pg_sharing_itest::scenario::criteria_columns(),
                    "accounts",
                )
                .expect("a valid criteria document");
                let access = level(rng);
                let superiors = rng.gen_bool(0.4);
                let name = format!("new criteria rule {}", names.len());
                let (to_type, to_name) = principal_json(&to);
                doc["rules"].as_array_mut().unwrap().push(json!({
                    "table": "public.accounts", "name": name, "type": "criteria", "criteria": criteria_doc,
                    "to_type": to_type, "to_name": to_name, "access": access.as_str(),
                    "superiors_allowed": superiors, "active": true
                }));
                m.rules.push(Rule {
                    table: "accounts".into(),
                    source: RuleSource::Criteria(criteria),
                    to,
                    access,
                    superiors_allowed: superiors,
                    active: true,
                });
                names.push(name.clone());
                return format!("add {name} ({city}) to {to_type} {to_name}");
            }
            4 => {
                // Move a role under another that is not below it, or to the top.
                let r = *roles.choose(rng).unwrap();
                let options: Vec<Option<i64>> = std::iter::once(None)
                    .chain(
                        roles
                            .iter()
                            .filter(|&&p| !at_or_below(m, p, r))
                            .map(|&p| Some(p)),
                    )
                    .collect();
                let parent = *options.choose(rng).unwrap();
                m.roles.get_mut(&r).unwrap().parent = parent;
                entry(doc, "roles", "name", &format!("r{r}"))["parent"] =
                    parent.map_or(Value::Null, |p| json!(format!("r{p}")));
                return format!("move r{r} under {parent:?}");
            }
            5 => {
                let u = *users.choose(rng).unwrap();
                let r = *roles.choose(rng).unwrap();
                m.users.get_mut(&u).unwrap().role = Some(r);
                entry(doc, "users", "name", &format!("u{u}"))["role"] = json!(format!("r{r}"));
                return format!("u{u} to role r{r}");
            }
            6 => {
                let u = *users.choose(rng).unwrap();
                let p = rng.gen_range(0..PROFILES.len());
                m.users.get_mut(&u).unwrap().profile = p as i64;
                entry(doc, "users", "name", &format!("u{u}"))["profile"] = json!(PROFILES[p]);
                return format!("u{u} to profile {}", PROFILES[p]);
            }
            7 => {
                let u = *users.choose(rng).unwrap();
                let user = m.users.get_mut(&u).unwrap();
                user.active = !user.active;
                entry(doc, "users", "name", &format!("u{u}"))["active"] = json!(user.active);
                return format!("u{u} active {}", user.active);
            }
            8 => {
                let members: Vec<(i64, usize)> = m
                    .groups
                    .iter()
                    .flat_map(|(g, ms)| (0..ms.len()).map(move |i| (*g, i)))
                    .collect();
                let Some(&(g, i)) = members.choose(rng) else {
                    continue;
                };
                let p = m.groups.get_mut(&g).unwrap().remove(i);
                let (t, n) = principal_json(&p);
                entry(doc, "groups", "name", &format!("g{g}"))["members"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|e| !(e["type"] == t && e["name"] == n));
                return format!("remove {t} {n} from g{g}");
            }
            9 if !m.groups.is_empty() => {
                let g = *m
                    .groups
                    .keys()
                    .collect::<Vec<_>>()
                    .choose(rng)
                    .unwrap()
                    .to_owned();
                let u = *users.choose(rng).unwrap();
                let p = Principal::User(u);
                if m.groups[&g].contains(&p) {
                    continue;
                }
                m.groups.get_mut(&g).unwrap().push(p);
                entry(doc, "groups", "name", &format!("g{g}"))["members"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "user", "name": format!("u{u}")}));
                return format!("add u{u} to g{g}");
            }
            10 | 11 => {
                let TableKind::Owned {
                    default_access,
                    grant_via_hierarchy,
                } = &mut m.tables.get_mut("accounts").unwrap().kind
                else {
                    unreachable!("accounts is owned")
                };
                let t = entry(doc, "tables", "table", "public.accounts");
                return if rng.gen_bool(0.5) {
                    *default_access = *DefaultAccess::ALL.choose(rng).unwrap();
                    t["default_access"] = json!(default_access.as_str());
                    format!("default access {}", default_access.as_str())
                } else {
                    *grant_via_hierarchy = !*grant_via_hierarchy;
                    t["grant_via_hierarchy"] = json!(*grant_via_hierarchy);
                    format!("grant_via_hierarchy {grant_via_hierarchy}")
                };
            }
            12 | 13 => {
                let live: Vec<usize> = (0..m.shares.len())
                    .filter(|&i| !m.shares[i].expired)
                    .collect();
                let Some(&i) = live.choose(rng) else {
                    continue;
                };
                let (t, n) = principal_json(&m.shares[i].to);
                let record = m.shares[i].record.clone();
                let same = |e: &Value| {
                    e["record_id"].as_str() == Some(&record)
                        && e["to_type"] == t
                        && e["to_name"] == n
                };
                let shares = doc["shares"].as_array_mut().unwrap();
                return if rng.gen_bool(0.5) {
                    m.shares.remove(i);
                    shares.retain(|e| !same(e));
                    format!("unshare {record} from {t} {n}")
                } else {
                    let access = level(rng);
                    m.shares[i].access = access;
                    shares
                        .iter_mut()
                        .filter(|e| same(e))
                        .for_each(|e| e["access"] = json!(access.as_str()));
                    format!("share {record} with {t} {n} at {}", access.as_str())
                };
            }
            _ => continue,
        }
    }
}

/// Per (user, table): read gained, read lost, first gained, first lost,
/// edit gained, lost, delete gained, lost.
type Report = BTreeMap<(i64, String), (i64, i64, Vec<String>, Vec<String>, i64, i64, i64, i64)>;

fn expected(before: &Model, after: &Model) -> Report {
    let mut report = Report::new();
    for &uid in after.users.keys() {
        for table in ["accounts", "notes"] {
            let mut ids: Vec<i64> = after.tables[table]
                .records
                .iter()
                .map(|r| r.id.parse().unwrap())
                .collect();
            ids.sort_unstable();
            let mut counts = [0i64; 6];
            let (mut gained, mut lost) = (Vec::new(), Vec::new());
            for id in ids {
                let r = id.to_string();
                let checks: [&dyn Fn(&Model) -> bool; 3] = [
                    &|m: &Model| m.can_read(uid, table, &r),
                    &|m: &Model| m.can_edit(uid, table, &r),
                    &|m: &Model| m.can_delete(uid, table, &r),
                ];
                for (k, check) in checks.iter().enumerate() {
                    let (b, a) = (check(before), check(after));
                    if a && !b {
                        counts[2 * k] += 1;
                        if k == 0 && gained.len() < 5 {
                            gained.push(r.clone());
                        }
                    }
                    if b && !a {
                        counts[2 * k + 1] += 1;
                        if k == 0 && lost.len() < 5 {
                            lost.push(r.clone());
                        }
                    }
                }
            }
            if counts != [0; 6] {
                report.insert(
                    (uid, table.to_string()),
                    (
                        counts[0], counts[1], gained, lost, counts[2], counts[3], counts[4],
                        counts[5],
                    ),
                );
            }
        }
    }
    report
}

/// Checks one case; Ok(whether the change changed anyone's access).
fn check_case(db: &TestDb, seed: u64) -> Result<bool, String> {
    let case = generate(seed);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut client = db.admin();
    let mut tx = client.transaction().unwrap();
    tx.batch_execute(TABLES).unwrap();
    tx.batch_execute(&case.setup)
        .map_err(|e| format!("setup failed: {}", describe(&e)))?;
    tx.batch_execute(&case.after).map_err(|e| format!("{e}"))?;
    let mut doc: Value = tx
        .query_one("SELECT sharing.export_config()", &[])
        .unwrap()
        .get(0);
    let model_before = case.model.clone();
    let mut model = case.model.clone();
    let mut names = rule_names(&model);
    let changes: Vec<String> = (0..rng.gen_range(1..=3))
        .map(|_| mutate(&mut rng, &mut doc, &mut model, &mut names))
        .collect();
    let fingerprint = "SELECT md5(sharing.export_config()::text)";
    let before_fp: String = tx.query_one(fingerprint, &[]).unwrap().get(0);
    let rows = tx
        .query(
            "SELECT user_id, tbl::text, gained, lost, sample_gained, sample_lost, \
                    edit_gained, edit_lost, delete_gained, delete_lost \
               FROM sharing.access_diff($1)",
            &[&doc],
        )
        .map_err(|e| format!("access_diff after {changes:?}: {}", describe(&e)))?;
    let got: Report = rows
        .iter()
        .map(|r| {
            (
                (r.get::<_, i64>(0), r.get::<_, String>(1)),
                (
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    r.get(5),
                    r.get(6),
                    r.get(7),
                    r.get(8),
                    r.get(9),
                ),
            )
        })
        .collect();
    let after_fp: String = tx.query_one(fingerprint, &[]).unwrap().get(0);
    tx.rollback().unwrap();
    if before_fp != after_fp {
        return Err(format!("access_diff changed the model ({changes:?})"));
    }
    let want = expected(&model_before, &model);
    if got != want {
        let mut lines = vec![format!("changes: {changes:?}")];
        for key in got
            .keys()
            .chain(want.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            if got.get(key) != want.get(key) {
                lines.push(format!(
                    "user {} {}: access_diff says {:?}, reference says {:?}",
                    key.0,
                    key.1,
                    got.get(key),
                    want.get(key)
                ));
            }
        }
        lines.truncate(14);
        return Err(format!(
            "{}\n--- setup ---\n{}{}",
            lines.join("\n"),
            case.setup,
            case.after
        ));
    }
    Ok(!want.is_empty())
}

#[test]
fn access_diff_agrees_with_the_reference_evaluator() {
    let cases: u64 = pg_sharing_itest::setting("PG_SHARING_ACCESS_DIFF_CASES", 60);
    let first: u64 = pg_sharing_itest::setting("PG_SHARING_DIFF_SEED", 1);
    let db = TestDb::new("access_diff");
    let mut changed = 0;
    for seed in first..first + cases {
        match check_case(&db, seed) {
            Ok(c) => changed += c as u64,
            Err(e) => panic!(
                "access_diff case failed; reproduce with PG_SHARING_DIFF_SEED={seed} PG_SHARING_ACCESS_DIFF_CASES=1\n{e}"
            ),
        }
    }
    // Most random changes change someone's access: a diff that always
    // reported nothing would pass the cases that change nothing only.
    assert!(
        changed * 2 >= cases,
        "only {changed} of {cases} changes changed anyone's access"
    );
}
