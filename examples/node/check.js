// Checks server.js against a real database, over HTTP: starts it as a child
// process, sends it concurrent requests of different users, compares every
// response with what the org's sharing rules say, and stops it (also on failure).
//
//   node check.js "postgresql://crm_app@127.0.0.1:5432/crm_node"
//   node check.js "postgresql://crm_app@127.0.0.1:6432/crm_node_bouncer" --pgbouncer
//
// --pgbouncer runs the service with --unnamed (no named statements), for
// PgBouncer in transaction pooling mode, and expects no statement prepared.
//
// Expects a copy of the org of examples/demo_setup.sql (it renames accounts).
// Exits non-zero on the first mismatch.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { TOKENS } = require('./server.js');

const POOL_SIZE = 4;
const PGBOUNCER = process.argv.includes('--pgbouncer');

// --- what each user may see, from the rules of examples/demo_setup.sql --------

const ROLE_PARENT = { 'CEO': null, 'Sales Manager': 'CEO', 'Sales Rep': 'Sales Manager', 'Support': 'CEO' };
const USER_ROLE = { 1: 'CEO', 2: 'Sales Manager', 3: 'Sales Rep', 4: 'Sales Rep', 5: 'Support' };
const ACCOUNTS = { // id: [owner, city]
  101: [3, 'New York'], 102: [3, 'Boston'], 201: [4, 'Seattle'],
  202: [4, 'New York'], 301: [2, 'Chicago'], 401: [5, 'Denver'],
};
const USERS = Object.keys(USER_ROLE).map(Number);
const TOKEN_OF = Object.fromEntries(Object.entries(TOKENS).map(([t, u]) => [u, t]));

// role is a strict superior of other in the role hierarchy.
function isAbove(role, other) {
  const parent = ROLE_PARENT[other];
  return parent !== null && (parent === role || isAbove(role, parent));
}

// null, 'read' or 'edit': accounts are private; owners and their superiors
// have full access (peers do not: share_with_peers is off); the role Support
// reads New York accounts (criteria rule); Will shared 201 with Erin read-only.
function access(user, account) {
  const [owner, city] = ACCOUNTS[account];
  if (user === owner || isAbove(USER_ROLE[user], USER_ROLE[owner])) return 'edit';
  if ((USER_ROLE[user] === 'Support' && city === 'New York') || (account === 201 && user === 3)) return 'read';
  return null;
}

const ids = Object.keys(ACCOUNTS).map(Number).sort((a, b) => a - b);
const VISIBLE = Object.fromEntries(USERS.map((u) => [u, ids.filter((a) => access(u, a))]));

function check(ok, what, quiet = false) {
  if (!ok) throw new Error(`MISMATCH: ${what}`);
  if (!quiet) console.log(`ok   ${what}`);
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// --- the service as a child process -----------------------------------------------

async function startService(connectionString) {
  // Port 0: the service binds a free port itself and prints it.
  const child = spawn(process.execPath, [path.join(__dirname, 'server.js'), connectionString, '0',
    String(POOL_SIZE), ...(PGBOUNCER ? ['--unnamed'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  let exited = null;
  child.on('exit', (code) => { exited = code; });
  if (process.env.EXAMPLES_PIDFILE) { // scripts/examples.sh stops it too if this script is killed
    fs.appendFileSync(process.env.EXAMPLES_PIDFILE, `${child.pid}\n`);
  }
  // An interrupted check stops the service before it exits.
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => { child.kill('SIGKILL'); process.exit(128 + (signal === 'SIGTERM' ? 15 : 2)); });
  }
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the service printed no port in 30 s')), 30000);
    let seen = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      seen += chunk;
      const m = seen.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the service exited with ${code}`)); });
  }).catch((err) => { child.kill('SIGKILL'); throw err; });
  const base = `http://127.0.0.1:${port}`;
  for (let tries = 300; ; tries--) { // poll /health, at most ~30 s
    check(exited === null, `the service exited with ${exited}`, true);
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch (_) { /* not answering yet */ }
    if (tries <= 0) child.kill('SIGKILL');
    check(tries > 0, `the service does not answer on ${base}`, true);
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = () => new Promise((resolve) => {
    if (exited !== null) return resolve(exited);
    child.on('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
  return { base, stop, kill: () => child.kill('SIGKILL') };
}

async function call(base, user, method, route, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (user !== null) headers.Authorization = `Bearer ${TOKEN_OF[user]}`;
  const res = await fetch(base + route, { method, headers, body: body && JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

// --- the checks ---------------------------------------------------------------

async function concurrentListings(base, round) {
  // 100 requests at once: 18 of each user and 10 without a user, shuffled.
  const callers = [...USERS.flatMap((u) => Array(18).fill(u)), ...Array(10).fill(null)];
  for (let i = callers.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [callers[i], callers[j]] = [callers[j], callers[i]];
  }
  const answers = await Promise.all(callers.map((u) => call(base, u, 'GET', '/accounts')));
  const usersPerPid = new Map();
  let preparedBefore = 0;
  answers.forEach(({ status, body }, i) => {
    const user = callers[i];
    const expected = user === null ? [] : VISIBLE[user];
    check(status === 200 && body.dbUser === user && same(body.accounts, expected),
      `request ${i} for user ${user}: ${status} ${JSON.stringify(body)}, expected ${JSON.stringify(expected)}`, true);
    if (!usersPerPid.has(body.pid)) usersPerPid.set(body.pid, new Set());
    usersPerPid.get(body.pid).add(user);
    if (body.preparedBefore) preparedBefore++;
  });
  const shared = [...usersPerPid.values()].filter((s) => s.size > 1).length;
  check(answers.length === 100, `round ${round}: 100 concurrent requests (5 users x 18, 10 without a user): `
    + 'each user saw exactly their accounts, those without a user none');
  check(usersPerPid.size <= POOL_SIZE && shared > 0,
    `round ${round}: on ${usersPerPid.size} server connections (pool max ${POOL_SIZE}${PGBOUNCER ? ', behind '
      + 'PgBouncer' : ''}), ${shared} of them serving several users`);
  if (PGBOUNCER) {
    check(preparedBefore === 0, `round ${round}: no named statement on any server connection (--unnamed)`);
    return;
  }
  // Each connection prepares list_accounts once; every other request re-executes it.
  const expectedPrepared = round === 1 ? answers.length - usersPerPid.size : answers.length;
  check(preparedBefore >= expectedPrepared,
    `round ${round}: ${preparedBefore} of 100 requests re-executed the named statement list_accounts `
    + 'prepared earlier on their connection, for whichever user');
}

async function renames(base) {
  // The six accounts at once; the five users one after the other on each.
  const answers = await Promise.all(ids.map(async (account) => {
    const out = [];
    for (const user of USERS) {
      out.push([user, account, await call(base, user, 'POST', `/accounts/${account}/rename`, { name: `by ${user}` })]);
    }
    return out;
  }));
  for (const [user, account, { status, body }] of answers.flat()) {
    const want = access(user, account) === 'edit' ? 1 : 0;
    check(status === 200 && body.updated === want,
      `user ${user} renames ${account}: ${status} ${JSON.stringify(body)}, expected ${want} row`, true);
  }
  check(true, `renames through the ${PGBOUNCER ? 'unnamed' : 'named'} statement rename_account (5 users x 6 accounts): 1 row where the `
    + 'user may edit, 0 where the user only reads or cannot see');
  const noUser = await call(base, null, 'POST', '/accounts/401/rename', { name: 'nobody' });
  check(noUser.status === 200 && noUser.body.updated === 0, 'a rename without a user reaches 0 rows');
  const failed = await call(base, 3, 'POST', '/accounts/101/rename', { name: null });
  check(failed.status === 500 && failed.body.code === '23502',
    `a request that fails (NOT NULL violation, ${failed.body.code}) is rolled back and answers 500`);
}

async function main() {
  const connectionString = process.argv[2];
  if (!connectionString) {
    console.error('usage: node check.js CONNECTION_STRING [--pgbouncer]');
    process.exit(2);
  }
  const service = await startService(connectionString);
  try {
    await concurrentListings(service.base, 1);
    await renames(service.base);
    await concurrentListings(service.base, 2); // the same pooled connections, after writes and a failure
    const code = await service.stop();
    check(code === 0, `the service shut down cleanly on SIGTERM (exit ${code})`);
  } catch (err) {
    service.kill();
    throw err;
  }
  console.log('check.js: all checks passed');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
