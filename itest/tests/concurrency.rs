//! Readers while the model changes: several threads, each on its own
//! connection acting as users (sharing.act_as), read the protected tables
//! while an admin thread switches the model between two known states A and
//! B, each switch one transaction that changes rules (criteria and owner),
//! a user's role, a role's place in the hierarchy, a group, a manual share
//! and the default access at once. Every read must equal what the reference
//! evaluator says the user sees in A or in B: never a mix, never a
//! half-applied change. Readers use READ COMMITTED (each statement on its
//! own: accounts and notes each from A or B) and REPEATABLE READ (both
//! statements from the same state).
//!
//! A known limit, measured but not failed: a REPEATABLE READ transaction
//! whose snapshot was taken before a change that regenerates policies
//! (criteria rules, default access) reads the new policy text — PostgreSQL
//! reads policies from the current catalog, not the snapshot — over the
//! old model rows: neither A nor B. Taking the snapshot after the lock
//! (`LOCK TABLE … IN ACCESS SHARE MODE` as the first statement, which
//! takes no snapshot) avoids it; reader 1 does that and must always see A
//! or B.
//!
//! (Two admins changing the model at once is derived_sets.rs.)
//!
//! PG_SHARING_CONC_SWITCHES sets the number of switches (default 100),
//! PG_SHARING_CONC_SEED the scenario seed (default 3).

use pg_sharing_core::access::{DefaultAccess, Level};
use pg_sharing_core::criteria;
use pg_sharing_core::reference::{Model, Principal, Rule, RuleSource, Share, TableKind};
use pg_sharing_itest::scenario::{generate, TABLES};
use pg_sharing_itest::{describe, TestDb};
use postgres::IsolationLevel;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

type Rows = (Vec<i64>, Vec<i64>);

/// What each active user sees in a model: (accounts, notes) ids.
fn visible(m: &Model) -> BTreeMap<i64, Rows> {
    let ids = |table: &str, uid: i64| -> Vec<i64> {
        let mut v: Vec<i64> = m.tables[table]
            .records
            .iter()
            .filter(|r| m.can_read(uid, table, &r.id))
            .map(|r| r.id.parse().unwrap())
            .collect();
        v.sort_unstable();
        v
    };
    m.users
        .iter()
        .filter(|(_, u)| u.active)
        .map(|(&uid, _)| (uid, (ids("accounts", uid), ids("notes", uid))))
        .collect()
}

/// The switch from A to B and back as SQL, and model B.
fn second_state(a: &Model, rng: &mut StdRng) -> (String, String, Model) {
    let mut b = a.clone();
    let mut forward = Vec::new();
    let mut back = Vec::new();

    // A criteria rule (lives in the policy text: regenerates the policies).
    let doc = json!({"conditions": [
        {"column": "city", "op": "=", "value": "Boston"},
        {"column": "amount", "op": ">=", "value": 10000}], "pattern": "1 OR 2"});
    let columns = pg_sharing_itest::scenario::criteria_columns();
    forward.push(format!(
        "SELECT sharing.create_criteria_rule('accounts', 'conc criteria', $j${doc}$j$, 'role', 'r1', 'read_write')"
    ));
    back.push(
        "SELECT sharing.drop_rule(id) FROM sharing.rules WHERE name = 'conc criteria'".to_string(),
    );
    b.rules.push(Rule {
        table: "accounts".into(),
        source: RuleSource::Criteria(criteria::parse(&doc, &columns, "accounts").unwrap()),
        to: Principal::Role(1),
        access: Level::ReadWrite,
        superiors_allowed: false,
        active: true,
    });

    // A new group with a member, and an owner rule to it.
    forward.push(
        "SELECT sharing.create_group('gconc'); SELECT sharing.add_to_group('gconc', 'user', 'u2');
         SELECT sharing.create_owner_rule('accounts', 'conc group', 'role_and_subordinates', 'r2', 'group', 'gconc', 'read')"
            .into(),
    );
    back.push(
        "SELECT sharing.drop_rule(id) FROM sharing.rules WHERE name = 'conc group'; SELECT sharing.drop_group('gconc')"
            .into(),
    );
    b.groups.insert(100, vec![Principal::User(2)]);
    b.rules.push(Rule {
        table: "accounts".into(),
        source: RuleSource::Owners(Principal::RoleAndSubordinates(2)),
        to: Principal::Group(100),
        access: Level::Read,
        superiors_allowed: false,
        active: true,
    });

    // User 1 changes role.
    let roles: Vec<i64> = a.roles.keys().copied().collect();
    let old_role = a.users[&1].role;
    let new_role = *roles
        .iter()
        .filter(|&&r| Some(r) != old_role)
        .collect::<Vec<_>>()
        .choose(rng)
        .unwrap();
    forward.push(format!(
        "SELECT sharing.alter_user('u1', '{{\"role\": \"r{new_role}\"}}')"
    ));
    back.push(format!(
        "SELECT sharing.alter_user('u1', '{{\"role\": {}}}')",
        old_role
            .map(|r| format!("\"r{r}\""))
            .unwrap_or("null".into())
    ));
    b.users.get_mut(&1).unwrap().role = Some(*new_role);

    // The last role (a leaf: parents have smaller numbers) moves to the top.
    let last = *roles.last().unwrap();
    if let Some(parent) = a.roles[&last].parent {
        forward.push(format!("SELECT sharing.move_role('r{last}', NULL)"));
        back.push(format!("SELECT sharing.move_role('r{last}', 'r{parent}')"));
        b.roles.get_mut(&last).unwrap().parent = None;
    }

    // A manual share to user 3 of an account not yet shared with them.
    let record = a.tables["accounts"]
        .records
        .iter()
        .map(|r| r.id.clone())
        .find(|id| {
            !a.shares
                .iter()
                .any(|s| &s.record == id && s.to == Principal::User(3))
        });
    if let Some(record) = record {
        forward.push(format!(
            "SELECT sharing.share_record('accounts', '{record}', 'user', 'u3', 'read')"
        ));
        back.push(format!(
            "SELECT sharing.unshare_record('accounts', '{record}', 'user', 'u3')"
        ));
        b.shares.push(Share {
            table: "accounts".into(),
            record,
            to: Principal::User(3),
            access: Level::Read,
            expired: false,
        });
    }

    // The default access flips between private and public_read.
    let TableKind::Owned {
        default_access,
        grant_via_hierarchy,
    } = a.tables["accounts"].kind.clone()
    else {
        unreachable!()
    };
    let flipped = if default_access == DefaultAccess::Private {
        DefaultAccess::PublicRead
    } else {
        DefaultAccess::Private
    };
    forward.push(format!(
        "SELECT sharing.set_default_access('accounts', '{}')",
        flipped.as_str()
    ));
    back.push(format!(
        "SELECT sharing.set_default_access('accounts', '{}')",
        default_access.as_str()
    ));
    b.tables.get_mut("accounts").unwrap().kind = TableKind::Owned {
        default_access: flipped,
        grant_via_hierarchy,
    };

    // Undo in reverse order.
    back.reverse();
    (forward.join(";\n"), back.join(";\n"), b)
}

#[test]
fn readers_see_the_model_before_or_after_each_change_never_a_mix() {
    let switches: usize = pg_sharing_itest::setting("PG_SHARING_CONC_SWITCHES", 100);
    let seed: u64 = pg_sharing_itest::setting("PG_SHARING_CONC_SEED", 3);
    let mut rng = StdRng::seed_from_u64(seed);
    let case = generate(seed);
    let (forward, back, model_b) = second_state(&case.model, &mut rng);
    let state_a = visible(&case.model);
    let state_b = visible(&model_b);

    let mut db = TestDb::new("conc");
    let reader = db.login_role("reader", "IN ROLE sharing_app");
    let mut admin = db.admin();
    admin.batch_execute(TABLES).unwrap();
    admin
        .batch_execute(&case.setup)
        .unwrap_or_else(|e| panic!("setup: {}\n{}", describe(&e), case.setup));
    admin.batch_execute(&case.after).unwrap();
    // The switch itself must be right before the race means anything.
    for (name, sql, want) in [("B", &forward, &state_b), ("A", &back, &state_a)] {
        let mut tx = admin.transaction().unwrap();
        tx.batch_execute(sql)
            .unwrap_or_else(|e| panic!("switch to {name}: {}\n{sql}", describe(&e)));
        tx.commit().unwrap();
        let mut tx = admin.transaction().unwrap();
        let users: Vec<i64> = want.keys().copied().collect();
        let got = pg_sharing_itest::visible_rows(&mut tx, &reader, &users);
        tx.rollback().unwrap();
        for (&u, (acc, notes)) in want {
            assert_eq!(
                (&got[&(u, "accounts")], &got[&(u, "notes")]),
                (acc, notes),
                "user {u} in state {name} (seed {seed}), quiet"
            );
        }
    }
    assert_ne!(
        state_a, state_b,
        "seed {seed}: A and B look the same to every user"
    );

    let users: Vec<i64> = state_a.keys().copied().collect();
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let mixed = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for t in 0..4u64 {
        let mut client = db.connect_as(&reader);
        let (stop, reads, users, mixed) =
            (stop.clone(), reads.clone(), users.clone(), mixed.clone());
        let (a, b) = (state_a.clone(), state_b.clone());
        handles.push(std::thread::spawn(move || -> Vec<String> {
            let mut rng = StdRng::seed_from_u64(seed * 100 + t);
            let mut failures = Vec::new();
            let ids =
                |tx: &mut postgres::Transaction<'_>, table: &str| -> Result<Vec<i64>, String> {
                    let mut v: Vec<i64> = tx
                        .query(&format!("SELECT id FROM {table}"), &[])
                        .map_err(|e| describe(&e))?
                        .iter()
                        .map(|r| r.get(0))
                        .collect();
                    v.sort_unstable();
                    Ok(v)
                };
            while !stop.load(Ordering::SeqCst) && failures.len() < 5 {
                let u = *users.choose(&mut rng).unwrap();
                // Threads 0 and 2 read committed; 1 repeatable read with the
                // tables locked first (the snapshot then postdates any policy
                // change); 3 repeatable read without: counted, not failed.
                let repeatable = t % 2 == 1;
                let locked = t == 1;
                let mut tx = client
                    .build_transaction()
                    .isolation_level(if repeatable {
                        IsolationLevel::RepeatableRead
                    } else {
                        IsolationLevel::ReadCommitted
                    })
                    .start()
                    .unwrap();
                let lock = if locked {
                    tx.batch_execute("LOCK TABLE accounts, notes IN ACCESS SHARE MODE")
                } else {
                    Ok(())
                };
                let result = lock
                    .and_then(|_| tx.execute("SELECT sharing.act_as($1)", &[&u]))
                    .map_err(|e| describe(&e))
                    .and_then(|_| Ok((ids(&mut tx, "accounts")?, ids(&mut tx, "notes")?)));
                let _ = tx.rollback();
                reads.fetch_add(1, Ordering::SeqCst);
                match result {
                    Err(e) => failures.push(format!("user {u}: {e}")),
                    Ok(got) => {
                        let ok = if repeatable {
                            got == a[&u] || got == b[&u]
                        } else {
                            (got.0 == a[&u].0 || got.0 == b[&u].0)
                                && (got.1 == a[&u].1 || got.1 == b[&u].1)
                        };
                        if !ok && repeatable && !locked {
                            mixed.fetch_add(1, Ordering::SeqCst);
                        } else if !ok {
                            failures.push(format!(
                                "user {u} ({}) saw {got:?}; A is {:?}, B is {:?}",
                                if repeatable {
                                    "repeatable read"
                                } else {
                                    "read committed"
                                },
                                a[&u],
                                b[&u]
                            ));
                        }
                    }
                }
            }
            failures
        }));
    }
    let changes = {
        let mut n = 0;
        for i in 0..switches {
            // Let the readers run between switches, without sleeping: wait
            // for a few reads to complete.
            let seen = reads.load(Ordering::SeqCst);
            while reads.load(Ordering::SeqCst) < seen + 4
                && handles.iter().any(|h| !h.is_finished())
            {
                std::thread::yield_now();
            }
            let sql = if i % 2 == 0 { &forward } else { &back };
            let mut tx = admin.transaction().unwrap();
            tx.batch_execute(sql)
                .unwrap_or_else(|e| panic!("switch {i}: {}", describe(&e)));
            tx.commit().unwrap();
            n += 1;
        }
        n
    };
    stop.store(true, Ordering::SeqCst);
    let failures: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("reader thread"))
        .collect();
    let problems = pg_sharing_itest::check_errors(&mut admin);
    eprintln!(
        "concurrency (seed {seed}): {changes} switches of 7 changes each, {} reads by 4 readers; \
         {} repeatable-read reads without LOCK TABLE first saw new policies over an older snapshot",
        reads.load(Ordering::SeqCst),
        mixed.load(Ordering::SeqCst)
    );
    assert!(problems.is_empty(), "sharing.check(): {problems:?}");
    assert!(
        failures.is_empty(),
        "seed {seed}: reads that were neither A nor B:\n{}\n--- A→B ---\n{forward}\n--- B→A ---\n{back}",
        failures.join("\n")
    );
}
