//! The derived sets (role closure, group closure, each user's principals)
//! are maintained on every change; after random sequences of changes —
//! one admin at a time, and two admins at once — they must equal what the
//! reference evaluator computes from the model read back from the catalog.

use pg_sharing_core::reference::{Model, Principal, Role, User};
use pg_sharing_itest::{describe, TestDb};
use postgres::Client;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;

/// Reads the organisation back from the catalog into the reference model.
fn read_model(c: &mut Client) -> Model {
    let mut m = Model::default();
    for r in c
        .query(
            "SELECT id, parent_id, share_with_peers FROM sharing.roles",
            &[],
        )
        .unwrap()
    {
        m.roles.insert(
            r.get(0),
            Role {
                parent: r.get(1),
                share_with_peers: r.get(2),
            },
        );
    }
    for r in c
        .query(
            "SELECT id, role_id, profile_id, active FROM sharing.users",
            &[],
        )
        .unwrap()
    {
        m.users.insert(
            r.get(0),
            User {
                role: r.get(1),
                profile: r.get(2),
                active: r.get(3),
            },
        );
    }
    for r in c.query("SELECT id FROM sharing.groups", &[]).unwrap() {
        m.groups.insert(r.get(0), Vec::new());
    }
    for r in c
        .query(
            "SELECT group_id, member_type, member_id FROM sharing.group_members",
            &[],
        )
        .unwrap()
    {
        let id: i64 = r.get(2);
        let p = match r.get::<_, &str>(1) {
            "user" => Principal::User(id),
            "role" => Principal::Role(id),
            "role_and_subordinates" => Principal::RoleAndSubordinates(id),
            _ => Principal::Group(id),
        };
        m.groups.get_mut(&r.get::<_, i64>(0)).unwrap().push(p);
    }
    m
}

/// Every difference between the maintained sets and the reference.
fn drift(c: &mut Client) -> Vec<String> {
    let m = read_model(c);
    let mut out = Vec::new();
    let stored: BTreeSet<(String, i64, i64)> = c
        .query(
            "SELECT user_id, principal_type, principal_id FROM sharing._user_principals",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, String>(1), r.get(0), r.get(2)))
        .collect();
    let mut expected = BTreeSet::new();
    for &u in m.users.keys() {
        let mut candidates = vec![("user", Principal::User(u), u)];
        for &r in m.roles.keys() {
            candidates.push(("role", Principal::Role(r), r));
            candidates.push((
                "role_and_subordinates",
                Principal::RoleAndSubordinates(r),
                r,
            ));
        }
        for &g in m.groups.keys() {
            candidates.push(("group", Principal::Group(g), g));
        }
        for (kind, p, id) in candidates {
            if m.is_member(u, &p) {
                expected.insert((kind.to_string(), u, id));
            }
        }
    }
    for x in expected.difference(&stored) {
        out.push(format!("missing principal {x:?}"));
    }
    for x in stored.difference(&expected) {
        out.push(format!("stale principal {x:?}"));
    }
    // The role closure: (ancestor, descendant) pairs.
    let closure: BTreeSet<(i64, i64)> = c
        .query(
            "SELECT ancestor_id, descendant_id FROM sharing._role_closure",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for &a in m.roles.keys() {
        for &d in m.roles.keys() {
            let want = {
                // d is a or below a: walk up from d.
                let mut cur = Some(d);
                let mut hit = false;
                let mut steps = 0;
                while let Some(x) = cur {
                    if x == a {
                        hit = true;
                        break;
                    }
                    steps += 1;
                    if steps > m.roles.len() {
                        break;
                    }
                    cur = m.roles[&x].parent;
                }
                hit
            };
            if want != closure.contains(&(a, d)) {
                out.push(format!("role closure ({a}, {d}) should be {want}"));
            }
        }
    }
    out
}

/// One random change to the organisation; errors (cycles, roles in use…)
/// are expected and must leave nothing half-applied.
fn random_change(c: &mut Client, rng: &mut StdRng, tag: &str) -> Result<(), String> {
    let roles: Vec<String> = c
        .query("SELECT name FROM sharing.roles", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let users: Vec<String> = c
        .query("SELECT name FROM sharing.users", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let groups: Vec<String> = c
        .query("SELECT name FROM sharing.groups", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let n = rng.gen_range(0..1_000_000);
    let pick = |v: &Vec<String>, rng: &mut StdRng| v.choose(rng).cloned();
    let sql = match rng.gen_range(0..10) {
        0 | 1 => {
            let parent = pick(&roles, rng);
            format!(
                "SELECT sharing.create_role('r{tag}{n}', {})",
                parent.map(|p| format!("'{p}'")).unwrap_or("NULL".into())
            )
        }
        2 => match (pick(&roles, rng), pick(&roles, rng)) {
            (Some(a), Some(b)) => format!(
                "SELECT sharing.move_role('{a}', {})",
                if rng.gen_bool(0.2) {
                    "NULL".into()
                } else {
                    format!("'{b}'")
                }
            ),
            _ => return Ok(()),
        },
        3 | 4 => format!(
            "SELECT sharing.create_user('u{tag}{n}', {})",
            pick(&roles, rng)
                .map(|r| format!("'{r}'"))
                .unwrap_or("NULL".into())
        ),
        5 => match (pick(&users, rng), pick(&roles, rng)) {
            (Some(u), Some(r)) => {
                format!("SELECT sharing.alter_user('{u}', '{{\"role\": \"{r}\"}}')")
            }
            _ => return Ok(()),
        },
        6 => format!("SELECT sharing.create_group('g{tag}{n}')"),
        7 | 8 => {
            let Some(g) = pick(&groups, rng) else {
                return Ok(());
            };
            let (kind, member) = match rng.gen_range(0..4) {
                0 => ("user", pick(&users, rng)),
                1 => ("role", pick(&roles, rng)),
                2 => ("role_and_subordinates", pick(&roles, rng)),
                _ => ("group", pick(&groups, rng)),
            };
            let Some(member) = member else { return Ok(()) };
            if rng.gen_bool(0.25) {
                format!("SELECT sharing.remove_from_group('{g}', '{kind}', '{member}')")
            } else {
                format!("SELECT sharing.add_to_group('{g}', '{kind}', '{member}')")
            }
        }
        _ => match rng.gen_range(0..2) {
            0 => match pick(&groups, rng) {
                Some(g) => format!("SELECT sharing.drop_group('{g}')"),
                None => return Ok(()),
            },
            _ => match pick(&roles, rng) {
                Some(r) => format!("SELECT sharing.drop_role('{r}')"),
                None => return Ok(()),
            },
        },
    };
    c.batch_execute(&sql)
        .map_err(|e| format!("{sql}: {}", describe(&e)))
}

/// Errors a random change may legitimately end in.
fn expected_refusal(e: &str) -> bool {
    ["23514", "23503", "22023", "42704", "23505", "40P01"]
        .iter()
        .any(|code| e.contains(&format!(": {code}:")))
}

#[test]
fn derived_sets_match_the_model_after_random_changes() {
    let db = TestDb::new("derived");
    let mut c = db.admin();
    for seed in 0..8u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        for step in 0..40 {
            if let Err(e) = random_change(&mut c, &mut rng, &format!("s{seed}_")) {
                assert!(
                    expected_refusal(&e),
                    "seed {seed} step {step}: unexpected error {e}"
                );
            }
            let d = drift(&mut c);
            assert!(
                d.is_empty(),
                "seed {seed} step {step}: derived sets drifted:\n{}",
                d.join("\n")
            );
        }
    }
}

#[test]
fn two_admins_changing_the_model_at_once_never_corrupt_it() {
    let mut db = TestDb::new("concurrent");
    let name = db.name.clone();
    let admins: Vec<String> = (0..2)
        .map(|i| db.login_role(&format!("admin{i}"), "IN ROLE sharing_admin"))
        .collect();
    let handles: Vec<_> = admins
        .into_iter()
        .enumerate()
        .map(|(i, role)| {
            let name = name.clone();
            std::thread::spawn(move || {
                let mut c = pg_sharing_itest::connect(&name, &role);
                let mut rng = StdRng::seed_from_u64(100 + i as u64);
                let mut done = 0;
                for _ in 0..80 {
                    match random_change(&mut c, &mut rng, &format!("a{i}_")) {
                        Ok(()) => done += 1,
                        Err(e) => assert!(expected_refusal(&e), "admin {i}: unexpected error {e}"),
                    }
                }
                done
            })
        })
        .collect();
    let done: usize = handles
        .into_iter()
        .map(|h| h.join().expect("admin thread"))
        .sum();
    assert!(done > 40, "most changes should succeed, only {done} did");
    let mut c = db.admin();
    let d = drift(&mut c);
    assert!(d.is_empty(), "derived sets drifted:\n{}", d.join("\n"));
}
