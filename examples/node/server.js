// An HTTP service on pg_sharing with node-postgres: Node's own http module
// and a pg.Pool.
//
// The service connects with ONE login (crm_app, a member of sharing_app).
// Each request takes a pooled connection, opens a transaction and calls
// sharing.act_as(<the caller's user id>) first; every query after it returns
// only that user's rows, every write reaches only rows that user may change.
// The identity ends with COMMIT or ROLLBACK, so a connection goes back to the
// pool carrying nothing. A request without a user runs without act_as and
// sees no protected rows.
//
// The queries are named prepared statements: node-postgres prepares each
// once per pooled connection and re-executes it for every later request on
// that connection, whoever its user is. That is safe: the policies look at
// the identity when the statement executes, not when it was prepared.
//
//   node server.js "postgresql://crm_app@127.0.0.1:5432/crm" 8080 [pool size] [--unnamed]
//   (port 0: a free port, printed as "listening on 127.0.0.1:PORT")
//
// --unnamed sends the same queries without names (node-postgres then uses
// the unnamed statement, parsed again each time): what PgBouncer < 1.21 in
// transaction pooling mode needs, since it does not carry named statements
// from one server connection to the next.
//
//   GET  /health                     200 "ok"
//   GET  /accounts                   the caller's accounts
//   POST /accounts/:id/rename        {"name": ...}: how many rows it reached
// Callers identify with "Authorization: Bearer <token>" (TOKENS below stands
// in for your session or JWT check).
'use strict';

const http = require('node:http');
const { Pool } = require('pg');

const TOKENS = {
  'token-carol': 1, 'token-sam': 2, 'token-erin': 3, 'token-will': 4, 'token-sue': 5,
};

// --- the pattern: one transaction per request, act_as first ------------------

// Runs work(client) in a transaction on a pooled connection, acting as userId
// (no act_as when userId is null: the request sees no protected rows).
let named = true; // false with --unnamed
const statement = (query) => (named ? query : { text: query.text, values: query.values });

async function inTransaction(pool, userId, work) {
  const client = await pool.connect();
  let broken;
  try {
    await client.query('BEGIN');
    if (userId !== null) {
      await client.query(statement({ name: 'act_as', text: 'SELECT sharing.act_as($1)', values: [userId] }));
    }
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // ROLLBACK ends the identity too; if even that fails, the connection is
    // dropped from the pool instead of being reused (release(err)).
    await client.query('ROLLBACK').catch((e) => { broken = e; });
    throw err;
  } finally {
    client.release(broken);
  }
}

const LIST_ACCOUNTS = { name: 'list_accounts', text: 'SELECT id, name FROM accounts ORDER BY id' };
const RENAME_ACCOUNT = { name: 'rename_account', text: 'UPDATE accounts SET name = $2 WHERE id = $1' };
// Not named, to look at the server connection without preparing anything more.
const FACTS = `SELECT sharing.current_user_id() AS db_user, pg_backend_pid() AS pid,
                      EXISTS (SELECT FROM pg_prepared_statements WHERE name = 'list_accounts') AS prepared`;

async function listAccounts(client) {
  const facts = (await client.query(FACTS)).rows[0];
  const rows = (await client.query(statement({ ...LIST_ACCOUNTS, values: [] }))).rows;
  return {
    dbUser: facts.db_user === null ? null : Number(facts.db_user),
    pid: facts.pid,
    preparedBefore: facts.prepared, // list_accounts already prepared on this connection
    accounts: rows.map((r) => Number(r.id)),
  };
}

async function renameAccount(client, id, name) {
  const result = await client.query(statement({ ...RENAME_ACCOUNT, values: [id, name] }));
  return { updated: result.rowCount };
}

// --- the HTTP service ---------------------------------------------------------

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(chunks.length ? JSON.parse(Buffer.concat(chunks)) : {}));
    req.on('error', reject);
  });
}

function createService(pool) {
  return http.createServer(async (req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      const token = (req.headers.authorization || '').replace(/^Bearer /, '');
      if (token && !(token in TOKENS)) return send(401, { error: 'unknown token' });
      const userId = token ? TOKENS[token] : null;
      const url = new URL(req.url, 'http://service');
      let m;
      if (req.method === 'GET' && url.pathname === '/health') {
        return send(200, 'ok');
      } else if (req.method === 'GET' && url.pathname === '/accounts') {
        return send(200, { user: userId, ...(await inTransaction(pool, userId, listAccounts)) });
      } else if (req.method === 'POST' && (m = url.pathname.match(/^\/accounts\/(\d+)\/rename$/))) {
        const { name } = await readBody(req);
        return send(200, await inTransaction(pool, userId, (c) => renameAccount(c, m[1], name)));
      }
      return send(404, { error: 'not found' });
    } catch (err) {
      return send(500, { error: err.message, code: err.code });
    }
  });
}

if (require.main === module) {
  const args = process.argv.slice(2).filter((a) => a !== '--unnamed');
  named = args.length === process.argv.length - 2;
  const [connectionString, port = '8080', poolSize = '4'] = args;
  if (!connectionString) {
    console.error('usage: node server.js CONNECTION_STRING [PORT] [POOL_SIZE] [--unnamed]');
    process.exit(2);
  }
  const pool = new Pool({ connectionString, max: Number(poolSize) });
  const server = createService(pool);
  // Port 0: any free port; the line below tells which.
  server.listen(Number(port), '127.0.0.1', () => console.log(`listening on 127.0.0.1:${server.address().port}`));
  const stop = () => {
    server.close(() => pool.end().then(() => process.exit(0)));
    server.closeIdleConnections(); // idle keep-alive sockets would hold close() open (Node 18)
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

module.exports = { inTransaction, createService, TOKENS };
