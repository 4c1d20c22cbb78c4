// The sharing console's page. No framework, no build step: DOM built with
// el() (text only, never HTML from data), JSON from the console's API.
'use strict';

const TOKEN = document.querySelector('meta[name="console-token"]').content;
const $ = (sel) => document.querySelector(sel);

const S = { session: null, org: null, tables: [], rules: [] };

// ------------------------------------------------------------ helpers

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'value') e.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected') e[k] = !!v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// replaceChildren without the null/false placeholders of conditional parts.
function setKids(node, ...kids) {
  node.replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined && k !== false));
}

const SVGNS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

class ApiError extends Error {
  constructor(err) { super(err.message || 'request failed'); this.code = err.code; this.hint = err.hint; this.detail = err.detail; }
}

async function request(method, path, body) {
  const opts = { method, headers: {} };
  if (method === 'POST') {
    opts.headers['Content-Type'] = 'application/json';
    opts.headers['X-Console-Token'] = TOKEN;
    opts.body = JSON.stringify(body);
  }
  let resp;
  try { resp = await fetch(path, opts); } catch (e) { throw new ApiError({ message: 'the console is not reachable: ' + e.message }); }
  let data = null;
  const text = await resp.text();
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!resp.ok) throw new ApiError((data && data.error) || { message: text || resp.statusText });
  return data;
}

function get(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined && v !== '') q.set(k, v);
  const qs = q.toString();
  return request('GET', qs ? `${path}?${qs}` : path);
}

function errorBox(err, testid) {
  return el('div', { class: 'error', 'data-testid': testid || 'error', role: 'alert' },
    err.code ? el('span', { class: 'code', text: err.code }) : null,
    err.message,
    err.detail ? '\n' + err.detail : null,
    err.hint ? el('div', { class: 'muted', text: 'Hint: ' + err.hint }) : null);
}

function toast(msg) {
  const t = $('#toast');
  t.textContent = msg;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 3000);
}

function fmtTime(s) {
  if (!s) return '';
  const d = new Date(s);
  return isNaN(d) ? s : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

function shortTable(t) { return t && t.startsWith('public.') ? t.slice(7) : t; }

function options(select, items, selected) {
  setKids(select, ...items.map(([v, label]) => el('option', { value: v, selected: v === selected }, label)));
}

async function loadBase() {
  const [session, org, tables] = await Promise.all([get('/api/session'), get('/api/org'), get('/api/tables')]);
  S.session = session; S.org = org; S.tables = tables;
  renderSession();
}

function renderSession() {
  const s = S.session;
  const who = s.user_name ? `${s.login} (user ${s.user_name})` : s.login;
  setKids($('#session'), 
    `${who} on ${s.database}`,
    el('span', { class: 'badge ' + (s.manage ? 'yes' : 'inactive'), 'data-testid': 'manage-badge' }, s.manage ? 'manage_sharing' : 'read only'),
    s.access_diff ? null : el('span', { class: 'badge inactive', title: 'sharing.access_diff is not installed: previews cannot show access changes' }, 'no access diff'));
}

// ------------------------------------------------------------ tabs

const SCREENS = { org: renderOrg, settings: renderSettings, rules: renderRules, access: renderAccess, audit: renderAudit };

async function show(tab) {
  if (!SCREENS[tab]) tab = 'org';
  for (const a of document.querySelectorAll('#tabs a')) a.classList.toggle('active', a.dataset.tab === tab);
  for (const s of document.querySelectorAll('.screen')) s.hidden = s.id !== 'screen-' + tab;
  const screen = $('#screen-' + tab);
  screen.dataset.ready = 'false';
  for (const old of screen.querySelectorAll('[data-testid="screen-error"]')) old.remove();
  try {
    await loadBase();
    await SCREENS[tab]();
  } catch (e) {
    screen.prepend(errorBox(e, 'screen-error'));
  }
  screen.dataset.ready = 'true';
}

// ------------------------------------------------------------ organisation

function renderOrg() {
  const { roles, users, groups, profiles } = S.org;
  const byParent = new Map();
  for (const r of roles) {
    const k = r.parent_id === null ? 'top' : r.parent_id;
    if (!byParent.has(k)) byParent.set(k, []);
    byParent.get(k).push(r);
  }
  const usersOf = (rid) => users.filter((u) => u.role_id === rid);
  const userChip = (u) => el('span', { class: 'chip' + (u.active ? '' : ' inactive'), title: `user ${u.id}, profile ${u.profile}${u.db_role ? ', login ' + u.db_role : ''}` },
    u.name, u.profile !== 'standard' ? el('span', { class: 'badge' }, u.profile) : null);
  const branch = (parent, seen) => {
    const kids = (byParent.get(parent) || []).filter((r) => !seen.has(r.id));
    if (!kids.length) return null;
    return el('ul', {}, kids.map((r) => el('li', { 'data-role': r.name },
      el('div', { class: 'node' },
        el('span', { class: 'name' }, r.name),
        r.share_with_peers ? el('span', { class: 'badge peers', title: 'share with peers' }, 'peers') : null,
        el('div', { class: 'users' }, usersOf(r.id).map(userChip))),
      branch(r.id, new Set([...seen, r.id])))));
  };
  const tree = branch('top', new Set()) || el('p', { class: 'muted' }, 'No roles yet.');
  tree.classList.add('tree');
  const roleless = users.filter((u) => u.role_id === null);
  setKids($('#role-tree'), tree, roleless.length ? el('p', {}, 'Users without a role: ', roleless.map(userChip)) : null);

  const groupById = new Map(groups.map((g) => [g.id, g]));
  const memberList = (g, seen) => el('ul', { class: 'members' }, g.members.length ? g.members.map((m) => {
    if (m.type === 'group') {
      const inner = groupById.get(m.id);
      return el('li', { class: 'nested' }, el('span', {}, 'Group: ', el('b', {}, m.name)),
        inner && !seen.has(inner.id) ? memberList(inner, new Set([...seen, inner.id])) : null);
    }
    const label = { user: 'User', role: 'Role', role_and_subordinates: 'Role and subordinates' }[m.type] || m.type;
    return el('li', {}, `${label}: `, el('b', {}, m.name));
  }) : [el('li', { class: 'muted' }, 'no members')]);
  setKids($('#groups'), groups.length ? el('div', {}, groups.map((g) => el('div', { class: 'card', 'data-group': g.name },
    el('b', {}, g.name), memberList(g, new Set([g.id]))))) : el('p', { class: 'muted' }, 'No groups.'));

  const flag = (b) => b ? el('span', { class: 'badge yes' }, 'yes') : el('span', { class: 'muted' }, 'no');
  setKids($('#profiles'), el('table', { class: 'grid' },
    el('thead', {}, el('tr', {}, ['Profile', 'manage_sharing', 'view_all', 'modify_all', 'Per-table permissions', 'Users'].map((h) => el('th', {}, h)))),
    el('tbody', {}, profiles.map((p) => el('tr', { 'data-profile': p.name },
      el('td', {}, el('b', {}, p.name)), el('td', {}, flag(p.manage_sharing)), el('td', {}, flag(p.view_all)), el('td', {}, flag(p.modify_all)),
      el('td', {}, p.permissions.length ? p.permissions.map((pp) => el('div', {},
        el('code', {}, shortTable(pp.table)), ': ',
        ['create', 'read', 'edit', 'delete'].map((a) => el('span', { class: 'badge ' + (pp[a] ? 'yes' : 'inactive') }, (pp[a] ? '' : 'no ') + a)))) : el('span', { class: 'muted' }, 'everything allowed')),
      el('td', {}, users.filter((u) => u.profile === p.name).map((u) => u.name).join(', ')))))));
}

// ------------------------------------------------------------ preview and apply

const ACCESS_LABEL = { read: 'Read only', read_write: 'Read/Write', read_write_delete: 'Read/Write/Delete' };
const DEFAULTS = ['private', 'public_read', 'public_read_write', 'public_read_write_delete'];

function diffTable(rows) {
  if (!rows.length) return el('p', { 'data-testid': 'preview-nochange' }, 'Nobody gains or loses access to any record.');
  const pm = (g, l) => [g ? el('span', { class: 'gain' }, '+' + g) : null, g && l ? ' ' : null, l ? el('span', { class: 'loss' }, '−' + l) : null, !g && !l ? el('span', { class: 'muted' }, '0') : null];
  return el('table', { class: 'grid', 'data-testid': 'preview-diff' },
    el('thead', {}, el('tr', {}, ['User', 'Table', 'Read', 'Edit', 'Delete', 'Records'].map((h) => el('th', {}, h)))),
    el('tbody', {}, rows.map((r) => el('tr', { 'data-user': r.user_name, 'data-gained': r.gained, 'data-lost': r.lost },
      el('td', {}, r.user_name, el('span', { class: 'muted' }, ` (${r.user_id})`)),
      el('td', {}, shortTable(r.tbl)),
      el('td', {}, pm(r.gained, r.lost)),
      el('td', {}, pm(r.edit_gained, r.edit_lost)),
      el('td', {}, pm(r.delete_gained, r.delete_lost)),
      el('td', { class: 'samples' },
        (r.sample_gained || []).length ? el('div', {}, 'gains ', (r.sample_gained || []).join(', '), r.gained > r.sample_gained.length ? ' …' : '') : null,
        (r.sample_lost || []).length ? el('div', {}, 'loses ', (r.sample_lost || []).join(', '), r.lost > r.sample_lost.length ? ' …' : '') : null)))));
}

// Shows the preview of a change and applies it when confirmed. Resolves to
// {applied, result} or {applied: false, error} (the change was refused in
// its preview: the caller may show the error where it belongs).
function previewAndApply(change, { inlineErrors = false } = {}) {
  return new Promise(async (resolve) => {
    const dlg = $('#preview');
    const body = $('#preview-body');
    const apply = $('#preview-apply');
    const cancel = $('#preview-cancel');
    $('#preview-title').textContent = 'Preview';
    setKids(body, el('p', { class: 'muted' }, 'Computing who gains and loses access…'));
    apply.disabled = true;
    dlg.dataset.state = 'loading';
    let settled = false;
    const finish = (v) => { if (settled) return; settled = true; cleanup(); if (dlg.open) dlg.close(); resolve(v); };
    const onCancel = () => finish({ applied: false });
    const onApply = async () => {
      apply.disabled = true;
      dlg.dataset.state = 'applying';
      try {
        const res = await request('POST', '/api/apply', change);
        toast('Applied: ' + res.change);
        finish({ applied: true, result: res.result });
      } catch (e) {
        body.append(errorBox(e, 'apply-error'));
        dlg.dataset.state = 'error';
      }
    };
    const onClose = () => finish({ applied: false });
    function cleanup() { apply.removeEventListener('click', onApply); cancel.removeEventListener('click', onCancel); dlg.removeEventListener('close', onClose); }
    apply.addEventListener('click', onApply);
    cancel.addEventListener('click', onCancel);
    dlg.addEventListener('close', onClose);
    dlg.showModal();
    let p;
    try {
      p = await request('POST', '/api/preview', change);
    } catch (e) {
      p = { ok: false, error: e, change: '' };
    }
    $('#preview-title').textContent = 'Preview: ' + (p.change || 'change');
    if (!p.ok) {
      if (inlineErrors) { finish({ applied: false, error: p.error }); return; }
      setKids(body, el('p', {}, 'The database refuses this change:'), errorBox(p.error, 'preview-error'));
      dlg.dataset.state = 'refused';
      return;
    }
    const parts = [];
    if (p.diff) {
      parts.push(el('p', {}, 'Applying this change changes who can read, edit or delete records as follows:'), diffTable(p.diff));
    } else {
      parts.push(el('div', { class: 'warning', 'data-testid': 'preview-nodiff' }, 'The access diff could not be computed: ', p.diff_error && p.diff_error.message,
        '. The change itself was checked by the database and can be applied.'));
    }
    setKids(body, ...parts);
    apply.disabled = false;
    dlg.dataset.state = 'ready';
  });
}

// A small text question in a dialog; resolves to the text or null.
function ask(title, label, initial) {
  return new Promise((resolve) => {
    const dlg = $('#ask');
    $('#ask-title').textContent = title;
    $('#ask-label').textContent = label;
    const input = $('#ask-input');
    input.value = initial || '';
    dlg.returnValue = '';
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok' ? input.value.trim() : null), { once: true });
    dlg.showModal();
    input.select();
  });
}

// ------------------------------------------------------------ data sharing settings

function renderSettings() {
  const tbody = $('#settings-table tbody');
  setKids(tbody, ...S.tables.map((t) => {
    if (t.parent) {
      return el('tr', { 'data-table': t.table }, el('td', {}, el('b', {}, shortTable(t.table))),
        el('td', {}, 'controlled by parent ', el('code', {}, shortTable(t.parent)), ` (${t.parent_column})`),
        el('td', { class: 'muted', colspan: 2 }, 'follows its parent'));
    }
    const sel = el('select', { 'data-testid': 'default-access', 'aria-label': 'default access of ' + t.table });
    options(sel, DEFAULTS.map((d) => [d, d.replaceAll('_', ' ')]), t.default_access);
    sel.addEventListener('change', async () => {
      const r = await previewAndApply({ kind: 'set_default_access', table: t.table, access: sel.value });
      if (!r.applied) sel.value = t.default_access; else show('settings');
    });
    const box = el('input', { type: 'checkbox', checked: t.grant_via_hierarchy, 'data-testid': 'hierarchy' });
    box.addEventListener('change', async () => {
      const r = await previewAndApply({ kind: 'set_hierarchy', table: t.table, grant_via_hierarchy: box.checked });
      if (!r.applied) box.checked = t.grant_via_hierarchy; else show('settings');
    });
    return el('tr', { 'data-table': t.table },
      el('td', {}, el('b', {}, shortTable(t.table))),
      el('td', {}, 'owner column ', el('code', {}, t.owner_column)),
      el('td', {}, sel),
      el('td', {}, el('label', { class: 'switch', title: 'grant access using hierarchies' }, box, el('span'))));
  }));
}

// ------------------------------------------------------------ sharing rules

function ruleFilters() {
  return {
    search: $('#f-search').value, table: $('#f-table').value, shared_from: $('#f-from').value,
    shared_to: $('#f-to').value, superiors: $('#f-superiors').value, active: $('#f-active').value,
  };
}

let ruleSeq = 0;
async function loadRules() {
  const seq = ++ruleSeq;
  const list = $('#rule-list');
  // The list says which filters it shows: those it was asked with, not
  // those typed since.
  const filters = ruleFilters();
  list.dataset.ready = 'false';
  try {
    const rules = await get('/api/rules', filters);
    if (seq !== ruleSeq) return;
    S.rules = rules;
    drawRules();
  } catch (e) {
    if (seq !== ruleSeq) return;
    setKids(list, errorBox(e, 'rules-error'));
  }
  list.dataset.ready = 'true';
  list.dataset.query = JSON.stringify(filters);
}

function drawRules() {
  const byTable = new Map();
  for (const r of S.rules) {
    if (!byTable.has(r.table)) byTable.set(r.table, []);
    byTable.get(r.table).push(r);
  }
  const list = $('#rule-list');
  if (!S.rules.length) { setKids(list, el('p', { class: 'muted', 'data-testid': 'no-rules' }, 'No rules match.')); return; }
  setKids(list, ...[...byTable].map(([table, rules]) => el('div', { 'data-rule-table': table },
    el('h3', { class: 'group' }, shortTable(table), el('span', { class: 'badge' }, rules.length)),
    el('table', { class: 'grid' },
      el('thead', {}, el('tr', {}, ['Name', 'Shared From', 'Shared To', 'Permission', 'Superiors', 'Last modified by', 'Status', ''].map((h) => el('th', {}, h)))),
      el('tbody', {}, rules.map(ruleRow))))));
}

function ruleRow(r) {
  const toggle = el('input', { type: 'checkbox', checked: r.active, 'aria-label': (r.active ? 'deactivate ' : 'activate ') + r.name, 'data-testid': 'rule-toggle' });
  toggle.addEventListener('change', async () => {
    const res = await previewAndApply({ kind: 'set_rule_active', rule_id: r.rule_id, active: toggle.checked });
    if (res.applied) { await loadBase(); await loadRules(); } else toggle.checked = r.active;
  });
  return el('tr', { 'data-rule': r.name, 'data-rule-id': r.rule_id, 'data-active': String(r.active) },
    el('td', {}, el('b', {}, r.name), el('div', { class: 'muted' }, r.type === 'criteria' ? 'criteria rule' : 'owner rule')),
    el('td', {}, r.shared_from),
    el('td', {}, r.shared_to),
    el('td', {}, ACCESS_LABEL[r.access] || r.access),
    el('td', {}, r.superiors_allowed ? el('span', { class: 'badge yes' }, 'allowed') : el('span', { class: 'muted' }, 'no')),
    el('td', {}, r.modified_by, el('div', { class: 'muted' }, fmtTime(r.modified_at))),
    el('td', {}, el('label', { class: 'switch', title: r.active ? 'active' : 'inactive' }, toggle, el('span')), ' ', el('span', { class: 'muted' }, r.active ? 'active' : 'inactive')),
    el('td', {},
      el('button', { class: 'link', 'data-testid': 'rule-edit', onclick: () => openEditor(r) }, 'Edit'),
      el('button', { class: 'link', 'data-testid': 'rule-clone', onclick: () => cloneRule(r) }, 'Clone'),
      el('button', { class: 'link danger', 'data-testid': 'rule-drop', onclick: () => dropRule(r) }, 'Drop')));
}

async function cloneRule(r) {
  const name = await ask(`Clone rule "${r.name}"`, 'Name of the copy', `${r.name} (copy)`);
  if (!name) return;
  const res = await previewAndApply({ kind: 'clone_rule', rule_id: r.rule_id, new_name: name });
  if (res.applied) { await loadBase(); await loadRules(); }
}

async function dropRule(r) {
  const res = await previewAndApply({ kind: 'drop_rule', rule_id: r.rule_id });
  if (res.applied) { await loadBase(); await loadRules(); }
}

function principalOptions(type) {
  const { roles, groups, users } = S.org;
  if (type === 'group') return groups.map((g) => [g.name, g.name]);
  if (type === 'user') return users.map((u) => [u.name, u.name]);
  if (type === 'all_users') return [];
  return roles.map((r) => [r.name, r.name]);
}

const FROM_TYPES = [['role', 'Role'], ['role_and_subordinates', 'Role and subordinates'], ['group', 'Group']];
const TO_TYPES = [...FROM_TYPES, ['all_users', 'All users']];
const OPS = [['=', 'equals'], ['!=', 'not equal to'], ['<', 'less than'], ['<=', 'at most'], ['>', 'greater than'], ['>=', 'at least'],
  ['in', 'is one of'], ['not_in', 'is none of'], ['contains', 'contains'], ['starts_with', 'starts with'], ['ends_with', 'ends with'],
  ['is_null', 'is empty'], ['is_not_null', 'is not empty']];
const NUMERIC = /^(smallint|integer|bigint|numeric|real|double precision)/;

// The rule editor: create (rule undefined) or edit a rule.
function openEditor(rule) {
  const form = $('#rule-editor');
  const editing = !!rule;
  const tables = S.tables.filter((t) => !t.parent);
  if (!tables.length) { form.hidden = false; setKids(form, el('p', { class: 'warning' }, 'No protected table to make a rule for.')); return; }
  const st = {
    table: rule ? rule.table : ($('#f-table').value || tables[0].table),
    type: rule ? rule.type : 'criteria',
    conditions: rule && rule.criteria ? rule.criteria.conditions.map((c) => ({ column: c.column, op: c.op, value: c.value })) : [],
    pattern: rule && rule.criteria && rule.criteria.pattern ? rule.criteria.pattern : '',
    patternEdited: false,
  };
  // A stored pattern that only ANDs every condition follows the conditions
  // as they are added and removed; any other was written by someone.
  const andChain = (n) => (n > 1 ? Array.from({ length: n }, (_, i) => i + 1).join(' AND ') : '');
  st.patternEdited = st.pattern !== '' && st.pattern.replace(/\s+/g, ' ').trim() !== andChain(st.conditions.length);
  if (!st.conditions.length) st.conditions.push({ column: '', op: '=', value: '' });
  const generalErr = el('div', { 'data-testid': 'editor-error' });
  const nameErr = el('div', { class: 'field-error', 'data-testid': 'name-error' });
  const patternErr = el('div', { class: 'field-error', 'data-testid': 'pattern-error' });
  const name = el('input', { value: rule ? rule.name : '', 'data-testid': 'rule-name', size: 32, required: true });
  const tableSel = el('select', { 'data-testid': 'rule-table', disabled: editing });
  options(tableSel, tables.map((t) => [t.table, shortTable(t.table)]), st.table);
  const typeSel = el('select', { 'data-testid': 'rule-type', disabled: editing });
  options(typeSel, [['criteria', 'Records matching criteria'], ['owner', 'Records owned by']], st.type);
  const fromType = el('select', { 'data-testid': 'from-type' });
  options(fromType, FROM_TYPES, rule && rule.from_type ? rule.from_type : 'role');
  const fromName = el('select', { 'data-testid': 'from-name' });
  const toType = el('select', { 'data-testid': 'to-type' });
  options(toType, TO_TYPES, rule ? rule.to_type : 'role');
  const toName = el('select', { 'data-testid': 'to-name' });
  const access = el('select', { 'data-testid': 'rule-access' });
  options(access, Object.entries(ACCESS_LABEL), rule ? rule.access : 'read');
  const superiors = el('input', { type: 'checkbox', checked: rule ? rule.superiors_allowed : false, 'data-testid': 'rule-superiors' });
  const pattern = el('input', { value: st.pattern, placeholder: 'e.g. 1 AND (2 OR 3)', 'data-testid': 'rule-pattern', size: 30 });
  pattern.addEventListener('input', () => { st.patternEdited = pattern.value.trim() !== ''; st.pattern = pattern.value; });
  const conds = el('div', { 'data-testid': 'conditions' });
  const ownerBox = el('fieldset', {}, el('legend', {}, 'Records owned by'), el('div', { class: 'row' }, el('label', {}, 'Type', fromType), el('label', {}, 'Name', fromName)));
  const criteriaBox = el('fieldset', {}, el('legend', {}, 'Records matching'), conds,
    el('button', { type: 'button', 'data-testid': 'add-condition', onclick: () => { st.conditions.push({ column: '', op: '=', value: '' }); autoPattern(); drawConds(); } }, 'Add condition'),
    el('div', { class: 'row' }, el('label', {}, 'Pattern (condition numbers with AND, OR, parentheses; empty: all ANDed)', pattern), patternErr));

  function autoPattern() {
    if (!st.patternEdited) { st.pattern = andChain(st.conditions.length); pattern.value = st.pattern; }
  }
  function columns() { const t = S.tables.find((x) => x.table === tableSel.value); return t ? t.columns : []; }
  function drawConds() {
    const cols = columns();
    setKids(conds, ...st.conditions.map((c, i) => {
      const col = el('select', { 'data-testid': 'cond-column', 'aria-label': `condition ${i + 1} column` });
      options(col, [['', '— column —'], ...cols.map((x) => [x.name, `${x.name} (${x.type})`])], c.column);
      col.addEventListener('change', () => { c.column = col.value; });
      const op = el('select', { 'data-testid': 'cond-op', 'aria-label': `condition ${i + 1} operator` });
      options(op, OPS, c.op);
      const val = el('input', { 'data-testid': 'cond-value', 'aria-label': `condition ${i + 1} value`, placeholder: 'value (lists: a, b, c)',
        value: Array.isArray(c.value) ? c.value.join(', ') : (c.value === undefined || c.value === null ? '' : String(c.value)) });
      val.hidden = c.op === 'is_null' || c.op === 'is_not_null';
      op.addEventListener('change', () => { c.op = op.value; val.hidden = c.op === 'is_null' || c.op === 'is_not_null'; });
      val.addEventListener('input', () => { c.value = val.value; });
      const rm = el('button', { type: 'button', class: 'link danger', title: 'remove condition', onclick: () => { st.conditions.splice(i, 1); autoPattern(); drawConds(); } }, 'remove');
      return el('div', { class: 'cond', 'data-cond': i + 1 }, el('span', { class: 'num' }, i + 1), col, op, val, rm,
        el('div', { class: 'field-error', 'data-testid': 'cond-error' }));
    }));
  }
  function drawType() {
    ownerBox.hidden = typeSel.value !== 'owner';
    criteriaBox.hidden = typeSel.value !== 'criteria';
  }
  // The name lists follow their type; a name still in the list stays chosen.
  function drawFrom() {
    options(fromName, principalOptions(fromType.value), fromName.value || (rule ? rule.from_name : undefined));
  }
  function drawTo() {
    options(toName, principalOptions(toType.value), toName.value || (rule ? rule.to_name : undefined));
    toName.disabled = toType.value === 'all_users';
  }
  function drawNames() { drawFrom(); drawTo(); }
  fromType.addEventListener('change', drawFrom);
  toType.addEventListener('change', drawTo);
  typeSel.addEventListener('change', drawType);
  tableSel.addEventListener('change', drawConds);

  function criteriaValue(c) {
    if (c.op === 'is_null' || c.op === 'is_not_null') return undefined;
    const col = columns().find((x) => x.name === c.column);
    const numeric = col && NUMERIC.test(col.type);
    const one = (s) => { const t = String(s).trim(); return numeric && t !== '' && !isNaN(Number(t)) ? Number(t) : t; };
    if (c.op === 'in' || c.op === 'not_in') return Array.isArray(c.value) ? c.value : String(c.value).split(',').map(one).filter((x) => x !== '');
    return typeof c.value === 'string' ? one(c.value) : c.value;
  }
  function spec() {
    const r = { name: name.value.trim(), type: typeSel.value, to_type: toType.value, to_name: toType.value === 'all_users' ? null : toName.value,
      access: access.value, superiors_allowed: superiors.checked };
    if (r.type === 'owner') { r.from_type = fromType.value; r.from_name = fromName.value; }
    else {
      r.criteria = { conditions: st.conditions.map((c) => { const o = { column: c.column, op: c.op }; const v = criteriaValue(c); if (v !== undefined) o.value = v; return o; }) };
      if (pattern.value.trim()) r.criteria.pattern = pattern.value.trim();
    }
    return r;
  }
  function clearErrors() {
    setKids(generalErr, ); nameErr.textContent = ''; patternErr.textContent = '';
    pattern.classList.remove('has-error'); name.classList.remove('has-error');
    for (const c of conds.querySelectorAll('.cond')) { c.classList.remove('has-error'); c.querySelector('.field-error').textContent = ''; }
  }
  // Puts the database's error next to the field it is about.
  function showError(err) {
    const msg = err.message || '';
    const cond = msg.match(/criteria condition (\d+)/);
    const target = cond && conds.querySelector(`.cond[data-cond="${cond[1]}"]`);
    if (target) { target.classList.add('has-error'); target.querySelector('.field-error').textContent = msg; return; }
    if (/pattern/i.test(msg)) { pattern.classList.add('has-error'); patternErr.textContent = msg; return; }
    if (err.code === '23505' || /\bname\b/.test(msg)) { name.classList.add('has-error'); nameErr.textContent = msg; return; }
    setKids(generalErr, errorBox(err, 'editor-db-error'));
  }
  async function submit(ev) {
    ev.preventDefault();
    clearErrors();
    const r = spec();
    const change = editing ? { kind: 'alter_rule', rule_id: rule.rule_id, rule: r } : { kind: 'create_rule', table: tableSel.value, rule: r };
    const res = await previewAndApply(change, { inlineErrors: true });
    if (res.error) { showError(res.error); return; }
    if (res.applied) { closeEditor(); await loadBase(); await loadRules(); }
  }
  form.onsubmit = submit;
  setKids(form, 
    el('h3', {}, editing ? `Edit rule "${rule.name}"` : 'New sharing rule'),
    el('div', { class: 'row' }, el('label', {}, 'Module (table)', tableSel), el('label', {}, 'Rule name', name, nameErr), el('label', {}, 'Share', typeSel)),
    ownerBox, criteriaBox,
    el('fieldset', {}, el('legend', {}, 'Share with'), el('div', { class: 'row' },
      el('label', {}, 'Type', toType), el('label', {}, 'Name', toName), el('label', {}, 'Permission', access),
      el('label', { class: 'inline' }, el('span', {}, 'Superiors'), el('span', {}, superiors, ' allow superiors of the recipients the same access')))),
    generalErr,
    el('div', { class: 'row' }, el('button', { class: 'primary', type: 'submit', 'data-testid': 'rule-save' }, 'Preview and save'),
      el('button', { type: 'button', onclick: closeEditor, 'data-testid': 'rule-cancel' }, 'Cancel')));
  drawType(); drawNames(); drawConds();
  form.hidden = false;
  name.focus();
}

function closeEditor() { const f = $('#rule-editor'); f.hidden = true; setKids(f, ); }

let rulesWired = false;
async function renderRules() {
  const sel = $('#f-table');
  const cur = sel.value;
  options(sel, [['', 'all tables'], ...S.tables.filter((t) => !t.parent).map((t) => [t.table, shortTable(t.table)])], cur);
  if (!rulesWired) {
    rulesWired = true;
    let timer;
    const later = () => { clearTimeout(timer); timer = setTimeout(loadRules, 120); };
    $('#f-search').addEventListener('input', later);
    $('#f-from').addEventListener('input', later);
    $('#f-to').addEventListener('input', later);
    for (const id of ['#f-table', '#f-superiors', '#f-active']) $(id).addEventListener('change', loadRules);
    $('#new-rule').addEventListener('click', () => openEditor());
  }
  await loadRules();
}

// ------------------------------------------------------------ access

// Draws paths from the left column to the right one, through the columns
// between: links is a list of label lists, one label per column.
function pathDiagram(links, heads) {
  const n = heads.length;
  const cols = heads.map(() => []);
  for (const l of links) l.forEach((label, i) => { if (!cols[i].includes(label)) cols[i].push(label); });
  const charW = 6.8, pad = 10, rowH = 30, boxH = 22, gap = 48, top = 26;
  const widths = cols.map((c) => Math.max(70, ...c.map((t) => t.length * charW + 2 * pad)));
  const xs = [];
  widths.forEach((w, i) => xs.push(i === 0 ? 10 : xs[i - 1] + widths[i - 1] + gap));
  const rows = Math.max(...cols.map((c) => c.length));
  const height = top + rows * rowH + 10;
  const width = xs[n - 1] + widths[n - 1] + 10;
  const pos = (col, label) => top + ((rows - cols[col].length) * rowH) / 2 + cols[col].indexOf(label) * rowH;
  const kind = (i) => (i === 0 ? 'user' : i === n - 1 ? 'record' : i === 1 && n > 3 ? 'via' : 'grant');
  const s = svg('svg', { class: 'paths', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'data-testid': 'paths-svg' });
  heads.forEach((h, i) => s.append(svg('text', { x: xs[i], y: 16, class: 'col' }, h)));
  const seen = new Set();
  for (const l of links) {
    for (let ci = 0; ci < n - 1; ci++) {
      const from = l[ci], to = l[ci + 1], key = `${ci}|${from}|${to}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const x1 = xs[ci] + widths[ci], y1 = pos(ci, from) + boxH / 2, x2 = xs[ci + 1], y2 = pos(ci + 1, to) + boxH / 2;
      s.append(svg('path', { d: `M${x1},${y1} C${x1 + gap / 2},${y1} ${x2 - gap / 2},${y2} ${x2},${y2}`, 'data-from': from, 'data-to': to }));
    }
  }
  cols.forEach((c, i) => c.forEach((label) => {
    const y = pos(i, label);
    s.append(svg('g', { 'data-node': label, 'data-column': heads[i] }, svg('rect', { x: xs[i], y, width: widths[i], height: boxH, rx: 5, class: kind(i) }),
      svg('text', { x: xs[i] + pad, y: y + 15 }, label)));
  }));
  return s;
}

// How a path reaches the user: the role, group, profile or share recipient
// the user gets the access through.
function throughLabel(user, reason, detail, table) {
  const role = user && S.org.roles.find((r) => r.id === user.role_id);
  let m;
  switch (reason) {
    case 'owner': return 'owns it';
    case 'hierarchy': return role ? `Role: ${role.name} (superior)` : 'a superior';
    case 'peers': return role ? `Role: ${role.name} (peer)` : 'a peer';
    case 'rule':
      m = /rule "(.*)"$/.exec(detail || '');
      if (m) {
        const r = (S.allRules || []).find((x) => x.name === m[1] && x.table === table);
        if (r) return r.superiors_allowed ? `${r.shared_to} or a superior` : r.shared_to;
      }
      return 'a recipient of the rule';
    case 'share':
      m = /^shared with (.*?) by /.exec(detail || '');
      return m ? m[1] : 'a recipient of the share';
    case 'profile':
      m = /^profile "(.*)" has/.exec(detail || '');
      return m ? `Profile: ${m[1]}` : 'the profile';
    case 'default access': return 'everyone (default access)';
    case 'parent': return 'the parent record';
    default: return reason;
  }
}

// "rule: criteria rule \"X\"" (who_can_access) as {reason, detail}.
function splitReason(text) {
  const i = text.indexOf(': ');
  return i < 0 ? { reason: text, detail: '' } : { reason: text.slice(0, i), detail: text.slice(i + 2) };
}

const PATH_HEADS = ['User', 'Through', 'Grant', 'Record'];

function pathLabel(p) { return p.detail ? `${p.reason}: ${p.detail}` : p.reason; }

function recordLabel(rec) {
  const r = rec.row || {};
  const name = r.name || r.title || r.subject;
  return name ? `${rec.id} ${name}` : String(rec.id);
}

let accessWired = false;
async function renderAccess() {
  S.allRules = await get('/api/rules');
  const users = S.org.users;
  const tables = S.tables.map((t) => [t.table, shortTable(t.table)]);
  for (const [id, items] of [['#a-user', users.map((u) => [String(u.id), `${u.name} (${u.id})`])], ['#a-table', tables], ['#w-table', tables]]) {
    const sel = $(id); const cur = sel.value; options(sel, items, cur || undefined);
  }
  if (accessWired) return;
  accessWired = true;
  $('#records-form').addEventListener('submit', (ev) => { ev.preventDefault(); showRecords(); });
  $('#who-form').addEventListener('submit', (ev) => { ev.preventDefault(); showWho(); });
}

async function showRecords() {
  const out = $('#records');
  out.dataset.ready = 'false';
  const uid = $('#a-user').value, table = $('#a-table').value;
  const user = S.org.users.find((u) => String(u.id) === uid);
  try {
    const res = await get('/api/records', { user: uid, table });
    const recs = res.records;
    const seen = recs.filter((r) => r.access !== 'none');
    const links = [];
    for (const r of seen) for (const p of r.paths) links.push([user ? user.name : uid, throughLabel(user, p.reason, p.detail, table), pathLabel(p), recordLabel(r)]);
    setKids(out, 
      el('p', {}, `${user ? user.name : 'User ' + uid} can read `, el('b', { 'data-testid': 'records-count' }, String(seen.length)),
        ` of the ${recs.length} records of ${shortTable(table)} that your login (${S.session.login}) can list.`,
        recs.length >= res.limit ? ` Only the first ${res.limit} are shown.` : ''),
      recs.length ? null : el('p', { class: 'warning' }, `Your login sees no record of ${shortTable(table)} (row level security applies to it too: `,
        'map it to a user with view_all to list them). A record id can still be entered under "Who can see a record".'),
      links.length ? pathDiagram(links, PATH_HEADS) : null,
      el('table', { class: 'grid', 'data-testid': 'records-table' },
        el('thead', {}, el('tr', {}, ['Record', 'Access', 'Why', ''].map((h) => el('th', {}, h)))),
        el('tbody', {}, recs.map((r) => el('tr', { 'data-record': r.id, 'data-access': r.access, class: 'clickable', title: 'who can see this record?',
          onclick: () => { $('#w-table').value = table; $('#w-record').value = r.id; showWho(); } },
          el('td', {}, recordLabel(r)),
          el('td', { class: r.access === 'none' ? 'access-none' : '' }, r.access),
          el('td', {}, r.paths.map((p) => el('div', {}, el('b', {}, p.reason), p.detail ? ': ' + p.detail : '', el('span', { class: 'muted' }, ` (${p.access})`)))),
          el('td', {}, el('button', { class: 'link', type: 'button' }, 'who can see it?')))))));
  } catch (e) {
    setKids(out, errorBox(e, 'records-error'));
  }
  out.dataset.ready = 'true';
}

async function showWho() {
  const out = $('#who');
  out.dataset.ready = 'false';
  const table = $('#w-table').value, record = $('#w-record').value.trim();
  try {
    const rows = await get('/api/who', { table, record });
    const rec = `${shortTable(table)} ${record}`;
    const links = [];
    for (const r of rows) {
      const user = S.org.users.find((u) => u.id === r.user_id);
      for (const text of r.reasons) {
        const { reason, detail } = splitReason(text);
        links.push([r.user_name, throughLabel(user, reason, detail, table), text, rec]);
      }
    }
    setKids(out, 
      el('p', {}, el('b', { 'data-testid': 'who-count' }, String(rows.length)), ` active user(s) can access record ${record} of ${shortTable(table)}.`),
      links.length ? pathDiagram(links, PATH_HEADS) : null,
      el('table', { class: 'grid', 'data-testid': 'who-table' },
        el('thead', {}, el('tr', {}, ['User', 'Access', 'Reasons'].map((h) => el('th', {}, h)))),
        el('tbody', {}, rows.map((r) => el('tr', { 'data-user': r.user_name, 'data-access': r.access },
          el('td', {}, r.user_name, el('span', { class: 'muted' }, ` (${r.user_id})`)),
          el('td', {}, r.access),
          el('td', {}, r.reasons.map((x) => el('div', {}, x))))))));
  } catch (e) {
    setKids(out, errorBox(e, 'who-error'));
  }
  out.dataset.ready = 'true';
  out.scrollIntoView({ block: 'nearest' });
}

// ------------------------------------------------------------ audit

let auditWired = false;
function isoOrEmpty(v) { if (!v) return ''; const d = new Date(v); return isNaN(d) ? v : d.toISOString(); }

function changedKeys(before, after) {
  const b = before || {}, a = after || {};
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]));
  if (!before) return keys.filter((k) => a[k] !== null).map((k) => `${k}: ${JSON.stringify(a[k])}`);
  if (!after) return ['deleted: ' + JSON.stringify(b.name || b.id || '')];
  return keys.map((k) => `${k}: ${JSON.stringify(b[k])} → ${JSON.stringify(a[k])}`);
}

async function loadAudit() {
  const out = $('#audit');
  out.dataset.ready = 'false';
  try {
    const rows = await get('/api/audit', { who: $('#au-who').value, what: $('#au-what').value, since: isoOrEmpty($('#au-since').value),
      until: isoOrEmpty($('#au-until').value), limit: $('#au-limit').value });
    setKids(out, el('p', { class: 'muted' }, el('span', { 'data-testid': 'audit-count' }, String(rows.length)), ' change(s), newest first.'),
      el('table', { class: 'grid', 'data-testid': 'audit-table' },
        el('thead', {}, el('tr', {}, ['When', 'Who', 'What', 'Object', 'Change'].map((h) => el('th', {}, h)))),
        el('tbody', {}, rows.map((r) => el('tr', { 'data-action': r.action },
          el('td', {}, fmtTime(r.at)),
          el('td', {}, r.db_role, r.acting_user_name && r.acting_user_name !== r.db_role ? el('div', { class: 'muted' }, 'as ' + r.acting_user_name) : null),
          el('td', {}, r.action),
          el('td', {}, r.object),
          el('td', { class: 'mono' }, changedKeys(r.before, r.after).map((c) => el('div', {}, c))))))));
  } catch (e) {
    setKids(out, errorBox(e, 'audit-error'));
  }
  out.dataset.ready = 'true';
}

async function renderAudit() {
  if (!auditWired) {
    auditWired = true;
    $('#audit-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadAudit(); });
  }
  await loadAudit();
}

// ------------------------------------------------------------ start

window.addEventListener('hashchange', () => show(location.hash.slice(1)));
document.addEventListener('DOMContentLoaded', () => show(location.hash.slice(1) || 'org'));
