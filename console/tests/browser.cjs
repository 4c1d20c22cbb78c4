// Drives the sharing console in headless Chromium (playwright-core) and
// checks what the page shows against what the database holds (psql).
// Started by console/tests/run.sh, which sets ADMIN_URL (the console as
// org_admin, who has manage_sharing), USER_URL (as rep_east, who has not),
// PGHOST/PGPORT/PGUSER/PGDATABASE (the superuser, for checks), CHROMIUM and
// optionally SCREENSHOT_DIR.
'use strict';

const { chromium } = require('playwright-core');
const { execFileSync, spawnSync } = require('child_process');
const assert = require('assert/strict');
const path = require('path');

const ADMIN_URL = process.env.ADMIN_URL;
const USER_URL = process.env.USER_URL;
const SHOTS = process.env.SCREENSHOT_DIR || '';
const TIMEOUT = 20000;

// ------------------------------------------------------------ database

function psql(sql, login) {
  const args = ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql];
  if (login) args.unshift('-U', login);
  return execFileSync('psql', args, { encoding: 'utf8' }).trim();
}
const psqlJson = (sql) => JSON.parse(psql(sql) || 'null');
const lit = (s) => `'${String(s).replaceAll("'", "''")}'`;

// The error psql prints for a statement run as a login, without "ERROR:  ".
function psqlError(sql, login) {
  const r = spawnSync('psql', ['-X', '-At', '-U', login, '-c', sql], { encoding: 'utf8' });
  assert.notEqual(r.status, 0, `expected ${login} to be refused: ${sql}`);
  const line = r.stderr.split('\n').find((l) => l.startsWith('ERROR:'));
  assert.ok(line, 'psql printed no error: ' + r.stderr);
  return line.replace(/^ERROR:\s+/, '');
}

// ------------------------------------------------------------ page helpers

let step = 0;
function log(msg) { console.log(`  [${++step}] ${msg}`); }

async function openTab(page, tab) {
  await page.evaluate(() => { for (const s of document.querySelectorAll('.screen')) s.dataset.ready = 'pending'; });
  await page.click(`#tabs a[data-tab="${tab}"]`);
  await page.waitForSelector(`#screen-${tab}[data-ready="true"]`, { timeout: TIMEOUT });
  const err = await page.$(`#screen-${tab} [data-testid="screen-error"]`);
  if (err) throw new Error(`screen ${tab} shows an error: ${await err.textContent()}`);
}

async function shot(page, name) {
  if (!SHOTS) return;
  await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}

// Waits until the rule list has been loaded for filters matching `want`.
async function rulesLoaded(page, want) {
  await page.waitForFunction((w) => {
    const l = document.querySelector('#rule-list');
    if (l.dataset.ready !== 'true' || !l.dataset.query) return false;
    const q = JSON.parse(l.dataset.query);
    return Object.entries(w).every(([k, v]) => q[k] === v);
  }, want, { timeout: TIMEOUT });
}

async function shownRuleNames(page) {
  return (await page.$$eval('#rule-list tr[data-rule]', (rows) => rows.map((r) => r.dataset.rule))).sort();
}

const dbRuleNames = (args) => psql(`SELECT name FROM sharing.find_rules(${args}) ORDER BY name`).split('\n').filter(Boolean).sort();

// Waits for the preview dialog to show its result; fails with the form's
// error when the change was refused before the dialog could show it.
async function previewReady(page) {
  const outcome = await page.waitForFunction(() => {
    const d = document.querySelector('#preview');
    if (d.open && ['ready', 'refused'].includes(d.dataset.state)) return d.dataset.state;
    const errs = [...document.querySelectorAll('#rule-editor .field-error, #rule-editor .error')].map((e) => e.textContent).filter(Boolean);
    return !d.open && errs.length ? 'form error: ' + errs.join('; ') : false;
  }, null, { timeout: TIMEOUT });
  const state = await outcome.jsonValue();
  if (state.startsWith('form error')) throw new Error('the change was refused: ' + state);
  return state;
}

async function diffRows(page) {
  return page.$$eval('[data-testid="preview-diff"] tbody tr', (rows) => rows.map((r) => ({
    user: r.dataset.user, gained: Number(r.dataset.gained), lost: Number(r.dataset.lost) })));
}

async function applyPreview(page) {
  await page.click('[data-testid="preview-apply"]');
  await page.waitForSelector('#preview:not([open])', { state: 'attached', timeout: TIMEOUT });
}

// ------------------------------------------------------------ the test

let currentPage = null;
async function adminSession(browser) {
  // Groups (one nested in another) and a profile with a per-table flag, so
  // the organisation screen has them to show; neither changes any access.
  psql(`SELECT sharing.create_group('Support Team'), sharing.create_group('Customer Facing');
        SELECT sharing.add_to_group('Support Team', 'role', 'Support'), sharing.add_to_group('Support Team', 'user', 'Erin East'),
               sharing.add_to_group('Customer Facing', 'group', 'Support Team'),
               sharing.add_to_group('Customer Facing', 'role_and_subordinates', 'Sales Manager');
        SELECT sharing.create_profile('auditor');
        SELECT sharing.set_profile_permission('auditor', 'accounts', 'delete', false)`);
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  currentPage = page;
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(ADMIN_URL + '#org');
  await page.waitForSelector('#screen-org[data-ready="true"]', { timeout: TIMEOUT });
  const badge = await page.textContent('[data-testid="manage-badge"]');
  assert.equal(badge, 'manage_sharing');
  // The previews' diffs come from sharing.access_diff: the test needs it.
  assert.equal(psql("SELECT to_regprocedure('sharing.access_diff(jsonb)') IS NOT NULL"), 't',
    'sharing.access_diff(jsonb) is not installed: install the current pg_sharing');
  assert.equal(await page.$('#session [title*="access_diff"]'), null, 'the page finds sharing.access_diff');

  // Organisation: every role at its place in the tree, every user under their role.
  log('organisation: role tree, users, groups, profiles');
  const roles = psqlJson(`SELECT json_agg(json_build_object('name', r.name, 'parent', p.name, 'peers', r.share_with_peers))
                            FROM sharing.roles r LEFT JOIN sharing.roles p ON p.id = r.parent_id`);
  for (const r of roles) {
    const sel = r.parent ? `li[data-role=${JSON.stringify(r.parent)}] > ul > li[data-role=${JSON.stringify(r.name)}]`
      : `#role-tree > ul > li[data-role=${JSON.stringify(r.name)}]`;
    assert.ok(await page.$(sel), `role ${r.name} should be drawn under ${r.parent || 'the top'}`);
  }
  const users = psqlJson(`SELECT json_agg(json_build_object('name', u.name, 'role', r.name)) FROM sharing.users u JOIN sharing.roles r ON r.id = u.role_id`);
  for (const u of users) {
    const chips = await page.$$eval(`li[data-role=${JSON.stringify(u.role)}] > .node .chip`, (cs) => cs.map((c) => c.firstChild.textContent));
    assert.ok(chips.includes(u.name), `${u.name} should be shown in role ${u.role}: ${chips}`);
  }
  // Groups with their members; a nested group shows its own members inside.
  const members = psqlJson(`SELECT json_agg(json_build_object('g', g.name, 'type', m.member_type, 'name',
                              CASE m.member_type WHEN 'user' THEN (SELECT name FROM sharing.users WHERE id = m.member_id)
                                                 WHEN 'group' THEN (SELECT name FROM sharing.groups WHERE id = m.member_id)
                                                 ELSE (SELECT name FROM sharing.roles WHERE id = m.member_id) END))
                              FROM sharing.group_members m JOIN sharing.groups g ON g.id = m.group_id`);
  for (const m of members) {
    const items = await page.$$eval(`.card[data-group=${JSON.stringify(m.g)}] > ul > li`, (li) => li.map((x) => x.textContent));
    assert.ok(items.some((t) => t.includes(m.name)), `group ${m.g} lists ${m.type} ${m.name}: ${items}`);
  }
  const nested = await page.textContent('.card[data-group="Customer Facing"] li.nested');
  assert.match(nested, /Group: Support Team/);
  assert.match(nested, /Role: Support/);
  assert.match(nested, /User: Erin East/);
  assert.match(await page.textContent('tr[data-profile="auditor"]'), /no delete/);
  const profiles = psql('SELECT name FROM sharing.profiles ORDER BY id').split('\n');
  for (const p of profiles) assert.ok(await page.$(`tr[data-profile=${JSON.stringify(p)}]`), `profile ${p} listed`);
  for (const sel of ['#session', '#screen-org']) {
    const text = await page.innerText(sel);
    assert.doesNotMatch(text, /\b(null|undefined|NaN)\b|\[object /, `no placeholder text in ${sel}`);
  }
  await shot(page, 'organisation');

  // Data sharing settings as the catalog holds them.
  log('data sharing settings');
  await openTab(page, 'settings');
  const tables = psqlJson("SELECT json_agg(json_build_object('t', (SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl), 'd', default_access, 'h', grant_via_hierarchy)) FROM sharing.protected_tables WHERE parent_tbl IS NULL");
  for (const t of tables) {
    const row = `#settings-table tr[data-table="${t.t}"]`;
    assert.equal(await page.$eval(`${row} [data-testid="default-access"]`, (s) => s.value), t.d);
    assert.equal(await page.$eval(`${row} [data-testid="hierarchy"]`, (s) => s.checked), t.h);
  }
  await shot(page, 'settings');

  // The rule list: one row per rule, grouped by table.
  log('sharing rules: the list matches sharing.find_rules()');
  await openTab(page, 'rules');
  await rulesLoaded(page, {});
  assert.deepEqual(await shownRuleNames(page), dbRuleNames(''));

  // A criteria rule through the builder; first two mistakes, each shown
  // where it is.
  const RULE = 'Chicago or big deals to support';
  const criteriaSql = "billing_city = 'Chicago' OR amount >= 80000";
  log('criteria builder: a bad value is shown next to its condition');
  await page.click('[data-testid="new-rule"]');
  await page.fill('[data-testid="rule-name"]', RULE);
  await page.selectOption('[data-testid="rule-type"]', 'criteria');
  await page.selectOption('.cond[data-cond="1"] [data-testid="cond-column"]', 'billing_city');
  await page.selectOption('.cond[data-cond="1"] [data-testid="cond-op"]', '=');
  await page.fill('.cond[data-cond="1"] [data-testid="cond-value"]', 'Chicago');
  await page.click('[data-testid="add-condition"]');
  await page.selectOption('.cond[data-cond="2"] [data-testid="cond-column"]', 'amount');
  await page.selectOption('.cond[data-cond="2"] [data-testid="cond-op"]', '>=');
  await page.fill('.cond[data-cond="2"] [data-testid="cond-value"]', 'lots');
  await page.fill('[data-testid="rule-pattern"]', '1 OR 2');
  await page.selectOption('[data-testid="to-type"]', 'role');
  await page.selectOption('[data-testid="to-name"]', 'Support');
  await page.selectOption('[data-testid="rule-access"]', 'read');
  await page.click('[data-testid="rule-save"]');
  await page.waitForFunction(() => document.querySelector('.cond[data-cond="2"] .field-error').textContent !== '', null, { timeout: TIMEOUT });
  const condErr = await page.textContent('.cond[data-cond="2"] .field-error');
  assert.match(condErr, /condition 2/);
  assert.match(condErr, /amount/);
  assert.equal(await page.textContent('.cond[data-cond="1"] .field-error'), '');
  await shot(page, 'rule-builder-error');

  log('criteria builder: a bad pattern is shown next to the pattern');
  await page.fill('.cond[data-cond="2"] [data-testid="cond-value"]', '80000');
  await page.fill('[data-testid="rule-pattern"]', '1 OR 3');
  await page.click('[data-testid="rule-save"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="pattern-error"]').textContent !== '', null, { timeout: TIMEOUT });
  assert.match(await page.textContent('[data-testid="pattern-error"]'), /condition 3 does not exist/);
  assert.equal(await page.textContent('.cond[data-cond="2"] .field-error'), '');

  log('criteria builder: the preview shows who gains access, then the rule is created');
  await page.fill('[data-testid="rule-pattern"]', '1 OR 2');
  // Derived from the demo model: the active users of role Support who cannot
  // yet read some account the criteria match gain those accounts.
  const expected = psqlJson(`SELECT coalesce(json_object_agg(u.name, (SELECT count(*) FROM accounts a WHERE (${criteriaSql})
                                 AND NOT sharing.can_read(u.id, 'accounts', a.id::text))), '{}')
                               FROM sharing.users u JOIN sharing.roles r ON r.id = u.role_id
                              WHERE r.name = 'Support' AND u.active
                                AND EXISTS (SELECT 1 FROM accounts a WHERE (${criteriaSql}) AND NOT sharing.can_read(u.id, 'accounts', a.id::text))`);
  assert.ok(Object.keys(expected).length > 0, 'the demo model should give someone new access');
  await page.click('[data-testid="rule-save"]');
  assert.equal(await previewReady(page), 'ready');
  const gains = await diffRows(page);
  assert.deepEqual(Object.fromEntries(gains.map((r) => [r.user, r.gained])), expected, 'preview: who gains how many records');
  assert.ok(gains.every((r) => r.lost === 0), 'nobody loses access by a new rule');
  await shot(page, 'preview');
  await applyPreview(page);
  await page.waitForSelector(`#rule-list tr[data-rule="${RULE}"]`, { timeout: TIMEOUT });
  const created = psqlJson(`SELECT json_build_object('criteria', criteria, 'to_type', to_type, 'access', access, 'active', active,
                                   'to', (SELECT name FROM sharing.roles WHERE id = to_id), 'by', modified_by)
                              FROM sharing.rules WHERE name = ${lit(RULE)}`);
  assert.ok(created, 'the rule is in sharing.rules');
  assert.deepEqual(created.criteria.conditions.map((c) => [c.column, c.op, String(c.value)]),
    [['billing_city', '=', 'Chicago'], ['amount', '>=', '80000']]);
  assert.equal(created.criteria.pattern.replace(/\s+/g, ' '), '1 OR 2');
  assert.deepEqual([created.to_type, created.to, created.access, created.active], ['role', 'Support', 'read', true]);
  for (const name of Object.keys(expected)) {
    assert.equal(psql(`SELECT bool_and(sharing.can_read(u.id, 'accounts', a.id::text)) FROM sharing.users u, accounts a
                        WHERE u.name = ${lit(name)} AND (${criteriaSql})`), 't', `${name} now reads the matching accounts`);
  }
  assert.equal(psql(`SELECT db_role FROM sharing.audit_log WHERE action = 'insert rules' AND after ->> 'name' = ${lit(RULE)}`), 'org_admin');

  // Edit it: read/write instead of read only.
  log('edit a rule: its permission becomes read/write');
  await page.click(`tr[data-rule="${RULE}"] [data-testid="rule-edit"]`);
  await page.waitForSelector('[data-testid="rule-editor"]:not([hidden])');
  assert.equal(await page.inputValue('[data-testid="rule-name"]'), RULE);
  assert.equal(await page.inputValue('[data-testid="rule-pattern"]'), created.criteria.pattern);
  assert.equal(await page.inputValue('.cond[data-cond="2"] [data-testid="cond-value"]'), '80000');
  await page.selectOption('[data-testid="rule-access"]', 'read_write');
  await page.click('[data-testid="rule-save"]');
  await previewReady(page);
  const editors = await page.$$eval('[data-testid="preview-diff"] tbody tr', (rs) => rs.map((r) => r.dataset.user));
  assert.deepEqual(editors.sort(), Object.keys(expected).sort(), 'the same users gain edit access');
  await applyPreview(page);
  await page.waitForSelector('[data-testid="rule-editor"][hidden]', { state: 'attached' });
  assert.equal(psql(`SELECT access FROM sharing.rules WHERE name = ${lit(RULE)}`), 'read_write');

  // An owner rule, created and dropped again.
  const OWNER_RULE = 'Reps to support';
  log('an owner rule: created through the form, then dropped');
  await page.click('[data-testid="new-rule"]');
  await page.fill('[data-testid="rule-name"]', OWNER_RULE);
  await page.selectOption('[data-testid="rule-type"]', 'owner');
  await page.selectOption('[data-testid="from-type"]', 'role');
  await page.selectOption('[data-testid="from-name"]', 'Sales Rep');
  await page.selectOption('[data-testid="to-type"]', 'role_and_subordinates');
  await page.selectOption('[data-testid="to-name"]', 'Support');
  await page.click('[data-testid="rule-save"]');
  await previewReady(page);
  await applyPreview(page);
  await page.waitForSelector(`#rule-list tr[data-rule="${OWNER_RULE}"]`, { timeout: TIMEOUT });
  assert.equal(psql(`SELECT concat_ws(' ', rule_type, from_type, (SELECT name FROM sharing.roles WHERE id = from_id), to_type,
                            (SELECT name FROM sharing.roles WHERE id = to_id), access) FROM sharing.rules WHERE name = ${lit(OWNER_RULE)}`),
    'owner role Sales Rep role_and_subordinates Support read');
  await page.click(`tr[data-rule="${OWNER_RULE}"] [data-testid="rule-drop"]`);
  await previewReady(page);
  await applyPreview(page);
  await page.waitForSelector(`#rule-list tr[data-rule="${OWNER_RULE}"]`, { state: 'detached', timeout: TIMEOUT });
  assert.equal(psql(`SELECT count(*) FROM sharing.rules WHERE name = ${lit(OWNER_RULE)}`), '0');

  // Toggle a rule off: the preview shows what its recipients lose.
  const NY = 'New York accounts to support';
  log(`toggle: deactivate "${NY}"`);
  const nyId = psql(`SELECT id FROM sharing.rules WHERE name = ${lit(NY)}`);
  const willLose = psqlJson(`SELECT coalesce(json_object_agg(u.name, n), '{}') FROM (
        SELECT u.name, count(*) AS n FROM sharing.users u, accounts a
         WHERE u.active AND sharing.can_read(u.id, 'accounts', a.id::text)
           AND NOT EXISTS (SELECT 1 FROM sharing.explain_access(u.id, 'accounts', a.id::text) e
                            WHERE e.detail IS DISTINCT FROM ${lit(`criteria rule "${NY}"`)})
         GROUP BY u.name) u`);
  await page.click(`tr[data-rule="${NY}"] .switch`);
  assert.equal(await previewReady(page), 'ready');
  const losses = await diffRows(page);
  assert.deepEqual(Object.fromEntries(losses.map((r) => [r.user, r.lost])), willLose, 'preview: who loses how many records');
  await applyPreview(page);
  await page.waitForSelector(`tr[data-rule="${NY}"][data-active="false"]`, { timeout: TIMEOUT });
  assert.equal(psql(`SELECT active FROM sharing.rules WHERE id = ${nyId}`), 'f');

  // Cancelling leaves everything as it was.
  log('toggle: a cancelled preview changes nothing');
  await page.click(`tr[data-rule="${NY}"] .switch`);
  await previewReady(page);
  await page.click('[data-testid="preview-cancel"]');
  await page.waitForSelector('#preview:not([open])', { state: 'attached' });
  assert.equal(await page.$eval(`tr[data-rule="${NY}"] [data-testid="rule-toggle"]`, (c) => c.checked), false);
  assert.equal(psql(`SELECT active FROM sharing.rules WHERE id = ${nyId}`), 'f');

  // Clone it.
  const COPY = 'New York accounts to support (copy)';
  log('clone');
  await page.click(`tr[data-rule="${NY}"] [data-testid="rule-clone"]`);
  await page.waitForSelector('#ask[open]');
  assert.equal(await page.inputValue('[data-testid="ask-input"]'), COPY);
  await page.press('[data-testid="ask-input"]', 'Enter');
  await previewReady(page);
  await applyPreview(page);
  await page.waitForSelector(`#rule-list tr[data-rule="${COPY}"]`, { timeout: TIMEOUT });
  assert.equal(psql(`SELECT c.criteria = o.criteria AND c.to_id = o.to_id AND c.access = o.access AND c.tbl = o.tbl
                       FROM sharing.rules c, sharing.rules o WHERE c.name = ${lit(COPY)} AND o.name = ${lit(NY)}`), 't');

  // Search and filters give what sharing.find_rules gives.
  log('search as you type and filters');
  await page.fill('[data-testid="rule-search"]', 'york');
  await rulesLoaded(page, { search: 'york' });
  assert.deepEqual(await shownRuleNames(page), dbRuleNames("search => 'york'"));
  assert.equal((await shownRuleNames(page)).length, 2);
  await page.selectOption('[data-testid="filter-status"]', 'false');
  await rulesLoaded(page, { search: 'york', active: 'false' });
  assert.deepEqual(await shownRuleNames(page), dbRuleNames("search => 'york', active => false"));
  await page.fill('[data-testid="rule-search"]', '');
  await page.selectOption('[data-testid="filter-status"]', 'true');
  await rulesLoaded(page, { search: '', active: 'true' });
  assert.deepEqual(await shownRuleNames(page), dbRuleNames('active => true'));
  await page.selectOption('[data-testid="filter-status"]', '');
  await page.fill('[data-testid="filter-to"]', 'support');
  await page.selectOption('[data-testid="filter-superiors"]', 'false');
  await page.selectOption('[data-testid="filter-table"]', 'public.accounts');
  await rulesLoaded(page, { shared_to: 'support', superiors: 'false', table: 'public.accounts', active: '' });
  assert.deepEqual(await shownRuleNames(page), dbRuleNames("tbl => 'accounts', shared_to => 'support', superiors_allowed => false"));
  await page.fill('[data-testid="filter-from"]', 'no such source');
  await rulesLoaded(page, { shared_from: 'no such source' });
  assert.ok(await page.$('[data-testid="no-rules"]'));
  await page.fill('[data-testid="filter-from"]', '');
  await page.fill('[data-testid="filter-to"]', '');
  await page.selectOption('[data-testid="filter-superiors"]', '');
  await rulesLoaded(page, { shared_from: '', shared_to: '', superiors: '' });
  await shot(page, 'rules');

  // Access: what Sue sees and why; who sees account 202.
  log('access inspector: records of a user and why');
  await openTab(page, 'access');
  const sue = psql("SELECT id FROM sharing.users WHERE name = 'Sue Support'");
  await page.selectOption('[data-testid="access-user"]', sue);
  await page.selectOption('[data-testid="access-table"]', 'public.accounts');
  await page.evaluate(() => { document.querySelector('#records').dataset.ready = 'pending'; });
  await page.click('[data-testid="access-show"]');
  await page.waitForSelector('#records[data-ready="true"]', { timeout: TIMEOUT });
  const shownAccess = Object.fromEntries(await page.$$eval('[data-testid="records-table"] tbody tr', (rows) => rows.map((r) => [r.dataset.record, r.dataset.access])));
  const dbAccess = psqlJson(`SELECT json_object_agg(id::text, sharing.access_level(${sue}, 'accounts', id::text)) FROM accounts`);
  assert.deepEqual(shownAccess, dbAccess);
  const readable = Object.values(dbAccess).filter((a) => a !== 'none').length;
  assert.equal(await page.textContent('[data-testid="records-count"]'), String(readable));
  // One path drawn per reason explain_access gives.
  const reasons = Number(psql(`SELECT count(*) FROM accounts a, sharing.explain_access(${sue}, 'accounts', a.id::text)`));
  assert.equal(await page.$$eval('#records svg path', (p) => p.length) > 0, reasons > 0);
  assert.ok(await page.$(`#records svg g[data-node="Sue Support"]`));
  await shot(page, 'access-records');

  log('access inspector: who can access a record');
  await page.evaluate(() => { document.querySelector('#who').dataset.ready = 'pending'; });
  await page.click('#records tr[data-record="202"]');
  await page.waitForSelector('#who[data-ready="true"]', { timeout: TIMEOUT });
  const whoShown = Object.fromEntries(await page.$$eval('[data-testid="who-table"] tbody tr', (rows) => rows.map((r) => [r.dataset.user, r.dataset.access])));
  const whoDb = psqlJson("SELECT json_object_agg(user_name, access) FROM sharing.who_can_access('accounts', '202')");
  assert.deepEqual(whoShown, whoDb);
  const whoReasons = Number(psql("SELECT sum(cardinality(reasons)) FROM sharing.who_can_access('accounts', '202')"));
  const edges = await page.$$eval('#who svg path', (p) => p.map((x) => x.dataset.from + '>' + x.dataset.to));
  assert.ok(edges.length >= Object.keys(whoDb).length && edges.length <= 3 * whoReasons, `drawn edges ${edges.length}`);
  // Each reason is a node of the Grant column, reached from its user.
  const grants = await page.$$eval('#who svg g[data-column="Grant"]', (g) => g.map((x) => x.dataset.node));
  const dbGrants = psql("SELECT DISTINCT unnest(reasons) FROM sharing.who_can_access('accounts', '202')").split('\n');
  assert.deepEqual(grants.sort(), dbGrants.sort());
  await shot(page, 'access-who');

  // Audit: filtered by what and who.
  log('audit log: filters by what and who');
  await openTab(page, 'audit');
  await page.fill('[data-testid="audit-what"]', 'rules');
  await page.fill('[data-testid="audit-who"]', 'org_admin');
  await page.evaluate(() => { document.querySelector('#audit').dataset.ready = 'pending'; });
  await page.click('[data-testid="audit-show"]');
  await page.waitForSelector('#audit[data-ready="true"]', { timeout: TIMEOUT });
  const auditDb = Number(psql("SELECT count(*) FROM sharing.audit_log WHERE db_role = 'org_admin' AND (action ILIKE '%rules%' OR object ILIKE '%rules%')"));
  assert.ok(auditDb >= 3, 'create, toggle and clone are audited');
  assert.equal(await page.textContent('[data-testid="audit-count"]'), String(auditDb));
  const actions = await page.$$eval('[data-testid="audit-table"] tbody tr', (rows) => rows.map((r) => r.dataset.action));
  assert.ok(actions.includes('insert rules') && actions.includes('update rules'), actions.join(','));
  await shot(page, 'audit');

  // Data sharing settings: change the default access, previewed.
  log('data sharing settings: default access changed after its preview');
  await openTab(page, 'settings');
  const wouldGain = Number(psql(`SELECT count(*) FROM sharing.users u, accounts a WHERE u.active
                                   AND NOT sharing.can_read(u.id, 'accounts', a.id::text)`));
  await page.selectOption('#settings-table tr[data-table="public.accounts"] [data-testid="default-access"]', 'public_read');
  await previewReady(page);
  const opened = await diffRows(page);
  assert.equal(opened.reduce((n, r) => n + r.gained, 0), wouldGain, 'public_read: every unreadable account becomes readable');
  await applyPreview(page);
  await page.waitForSelector('#screen-settings[data-ready="true"]');
  assert.equal(psql("SELECT default_access FROM sharing.protected_tables WHERE tbl = 'accounts'::regclass"), 'public_read');
  assert.equal(psql("SELECT count(*) FROM sharing.users u, accounts a WHERE u.active AND NOT sharing.can_read(u.id, 'accounts', a.id::text)"), '0');

  // State changes need the token: the same request without it is refused.
  log('cross-site requests are refused');
  const csrf = await page.evaluate(async () => {
    const body = JSON.stringify({ kind: 'drop_rule', rule_id: 1 });
    const noToken = await fetch('/api/apply', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    const get = await fetch('/api/apply');
    return [noToken.status, get.status];
  });
  assert.equal(csrf[0], 403);
  assert.equal(csrf[1], 405);
  const origin = new URL(ADMIN_URL);
  const foreign = await new Promise((resolve, reject) => {
    require('http').get({ host: origin.hostname, port: origin.port, path: '/api/session', headers: { Host: 'attacker.example' } },
      (res) => { res.resume(); resolve(res.statusCode); }).on('error', reject);
  });
  assert.equal(foreign, 421, 'a foreign Host header (DNS rebinding) is refused');
  assert.ok(origin.hostname === '127.0.0.1', 'bound to 127.0.0.1 by default');
  assert.equal(psql('SELECT count(*) FROM sharing.rules WHERE id = 1'), '1');

  assert.deepEqual(pageErrors, [], 'no script errors in the page');
  await page.close();
  return RULE;
}

async function userSession(browser, ruleName) {
  log('a login without manage_sharing can look but is refused changes, with the database\'s message');
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  currentPage = page;
  await page.goto(USER_URL + '#rules');
  await page.waitForSelector('#screen-rules[data-ready="true"]', { timeout: TIMEOUT });
  assert.equal(await page.textContent('[data-testid="manage-badge"]'), 'read only');
  await rulesLoaded(page, {});
  assert.deepEqual(await shownRuleNames(page), dbRuleNames(''));
  const id = psql(`SELECT id FROM sharing.rules WHERE name = ${lit(ruleName)}`);
  const expected = psqlError(`SELECT sharing.set_rule_active(${id}, false)`, 'rep_east');
  await page.click(`tr[data-rule="${ruleName}"] .switch`);
  assert.equal(await previewReady(page), 'refused');
  const shown = await page.textContent('[data-testid="preview-error"]');
  assert.ok(shown.includes(expected), `page shows "${shown}", the database says "${expected}"`);
  assert.equal(await page.$eval('[data-testid="preview-apply"]', (b) => b.disabled), true);
  await shot(page, 'refused');
  await page.click('[data-testid="preview-cancel"]');
  assert.equal(psql(`SELECT active FROM sharing.rules WHERE id = ${id}`), 't');
  assert.equal(await page.$eval(`tr[data-rule="${ruleName}"] [data-testid="rule-toggle"]`, (c) => c.checked), true);
  // Other users' access is not theirs to inspect.
  await openTab(page, 'access');
  const will = psql("SELECT id FROM sharing.users WHERE name = 'Will West'");
  const refusal = psqlError(`SELECT count(*) FROM sharing.explain_access(${will}, 'accounts', '201')`, 'rep_east');
  await page.selectOption('[data-testid="access-user"]', will);
  await page.click('[data-testid="access-show"]');
  await page.waitForSelector('[data-testid="records-error"]', { timeout: TIMEOUT });
  assert.ok((await page.textContent('[data-testid="records-error"]')).includes(refusal.replace(/^42501: /, '')));
  // The audit log is not theirs to read: the database's refusal is shown.
  await openTab(page, 'audit');
  await page.waitForSelector('[data-testid="audit-error"]', { timeout: TIMEOUT });
  assert.match(await page.textContent('[data-testid="audit-error"]'), /permission denied/);
  await page.close();
}

(async () => {
  const started = Date.now();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  let failed = false;
  try {
    const rule = await adminSession(browser);
    await userSession(browser, rule);
  } catch (e) {
    failed = true;
    console.error('FAILED:', e && e.stack ? e.stack : e);
    if (currentPage && process.env.FAILURE_SCREENSHOT) {
      await currentPage.screenshot({ path: process.env.FAILURE_SCREENSHOT, fullPage: true }).catch(() => {});
      console.error('screenshot of the page: ' + process.env.FAILURE_SCREENSHOT);
    }
  } finally {
    await browser.close();
  }
  console.log(`console browser test: ${failed ? 'FAILED' : `${step} steps passed`} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  process.exit(failed ? 1 : 0);
})();
