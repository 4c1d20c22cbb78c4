//! The JSON API. Reads query the catalog and the SQL API directly; the SQL
//! builds the JSON (jsonb), so the page gets exactly what the database says.
//! Every value is a bind parameter.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use tokio_postgres::types::ToSql;

use crate::change::{self, Change};
use crate::db::{self, DbError};
use crate::http::Shared;

pub struct ApiError(pub DbError);

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ApiError(e)
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.0.code.as_deref() {
            Some("42501") => StatusCode::FORBIDDEN,
            Some(_) => StatusCode::UNPROCESSABLE_ENTITY,
            None if self.0.message.starts_with("cannot connect") => StatusCode::SERVICE_UNAVAILABLE,
            None => StatusCode::BAD_REQUEST,
        };
        (status, Json(serde_json::json!({ "error": self.0 }))).into_response()
    }
}

type ApiResult = Result<Json<Value>, ApiError>;
type Params = Query<HashMap<String, String>>;

fn text(q: &HashMap<String, String>, key: &str) -> Option<String> {
    q.get(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn boolean(q: &HashMap<String, String>, key: &str) -> Result<Option<bool>, ApiError> {
    match text(q, key).as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError(DbError::new(format!(
            "{key} must be true or false, not {other:?}"
        )))),
    }
}

fn required(q: &HashMap<String, String>, key: &str) -> Result<String, ApiError> {
    text(q, key).ok_or_else(|| ApiError(DbError::new(format!("missing parameter {key}"))))
}

fn user_id(q: &HashMap<String, String>) -> Result<i64, ApiError> {
    let v = required(q, "user")?;
    v.parse()
        .map_err(|_| ApiError(DbError::new(format!("user must be a user id, not {v:?}"))))
}

/// Runs a query that returns one jsonb value.
async fn json_query(
    state: &Shared,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Value, ApiError> {
    let client = db::connect(&state.pg).await?;
    let row = client.query_one(sql, params).await?;
    Ok(row.get::<_, Option<Value>>(0).unwrap_or(Value::Null))
}

pub async fn session(State(state): State<Shared>) -> ApiResult {
    let sql = "SELECT jsonb_build_object(
        'login', current_user::text,
        'database', current_database(),
        'server', current_setting('server_version'),
        'user_id', sharing.current_user_id(),
        'user_name', (SELECT name FROM sharing.users WHERE id = sharing.current_user_id()),
        'access_diff', to_regprocedure('sharing.access_diff(jsonb)') IS NOT NULL,
        'manage', coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
                  OR pg_has_role(current_user, 'sharing_admin', 'MEMBER')
                  OR coalesce((SELECT p.manage_sharing AND u.active FROM sharing.users u
                                 JOIN sharing.profiles p ON p.id = u.profile_id
                                WHERE u.id = sharing.current_user_id()), false))";
    Ok(Json(json_query(&state, sql, &[]).await?))
}

const MEMBER_NAME: &str = "CASE m.member_type
    WHEN 'user' THEN (SELECT name FROM sharing.users WHERE id = m.member_id)
    WHEN 'group' THEN (SELECT name FROM sharing.groups WHERE id = m.member_id)
    ELSE (SELECT name FROM sharing.roles WHERE id = m.member_id) END";

pub async fn org(State(state): State<Shared>) -> ApiResult {
    let sql = format!(
        "SELECT jsonb_build_object(
        'roles', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'name', r.name, 'parent_id', r.parent_id,
                      'share_with_peers', r.share_with_peers) ORDER BY r.name), '[]') FROM sharing.roles r),
        'users', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', u.id, 'name', u.name, 'role_id', u.role_id,
                      'profile', p.name, 'db_role', u.db_role, 'active', u.active) ORDER BY u.id), '[]')
                    FROM sharing.users u LEFT JOIN sharing.profiles p ON p.id = u.profile_id),
        'groups', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', g.id, 'name', g.name, 'members',
                      (SELECT coalesce(jsonb_agg(jsonb_build_object('type', m.member_type, 'id', m.member_id,
                                                 'name', {MEMBER_NAME}) ORDER BY m.member_type, m.member_id), '[]')
                         FROM sharing.group_members m WHERE m.group_id = g.id)) ORDER BY g.name), '[]')
                     FROM sharing.groups g),
        'profiles', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'name', p.name,
                      'manage_sharing', p.manage_sharing, 'view_all', p.view_all, 'modify_all', p.modify_all,
                      'permissions', (SELECT coalesce(jsonb_agg(jsonb_build_object('table', pp.tbl::text,
                                         'create', pp.can_create, 'read', pp.can_read, 'edit', pp.can_edit,
                                         'delete', pp.can_delete) ORDER BY pp.tbl::text), '[]')
                                        FROM sharing.profile_permissions pp WHERE pp.profile_id = p.id))
                      ORDER BY p.id), '[]') FROM sharing.profiles p))"
    );
    Ok(Json(json_query(&state, &sql, &[]).await?))
}

pub async fn tables(State(state): State<Shared>) -> ApiResult {
    let sql = "SELECT coalesce(jsonb_agg(jsonb_build_object(
            'table', t.tbl::text, 'pk_column', t.pk_column, 'owner_column', t.owner_column,
            'default_access', t.default_access, 'grant_via_hierarchy', t.grant_via_hierarchy,
            'parent', t.parent_tbl::text, 'parent_column', t.parent_column,
            'columns', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', a.attname,
                                'type', format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum), '[]')
                          FROM pg_attribute a WHERE a.attrelid = t.tbl AND a.attnum > 0 AND NOT a.attisdropped))
            ORDER BY t.tbl::text), '[]')
        FROM sharing.protected_tables t";
    Ok(Json(json_query(&state, sql, &[]).await?))
}

fn principal_name(kind: &str, id: &str) -> String {
    format!(
        "CASE {kind} WHEN 'user' THEN (SELECT name FROM sharing.users WHERE id = {id})
                     WHEN 'group' THEN (SELECT name FROM sharing.groups WHERE id = {id})
                     WHEN 'all_users' THEN NULL
                     ELSE (SELECT name FROM sharing.roles WHERE id = {id}) END"
    )
}

pub async fn rules(State(state): State<Shared>, Query(q): Params) -> ApiResult {
    let sql = format!(
        "SELECT coalesce(jsonb_agg(jsonb_build_object(
            'rule_id', f.rule_id, 'table', f.tbl::text, 'name', f.name, 'type', f.type,
            'shared_from', f.shared_from, 'shared_to', f.shared_to, 'access', f.access,
            'superiors_allowed', f.superiors_allowed, 'active', f.active,
            'created_at', f.created_at, 'created_by', f.created_by,
            'modified_at', f.modified_at, 'modified_by', f.modified_by,
            'from_type', r.from_type, 'from_name', {from}, 'to_type', r.to_type, 'to_name', {to},
            'criteria', r.criteria) ORDER BY f.tbl::text, f.name), '[]')
        FROM sharing.find_rules($1::text, $2::text::regclass, $3::text, $4::text, $5::boolean, $6::boolean) f
        JOIN sharing.rules r ON r.id = f.rule_id",
        from = principal_name("r.from_type", "r.from_id"),
        to = principal_name("r.to_type", "r.to_id"),
    );
    let search = text(&q, "search");
    let tbl = text(&q, "table");
    let from = text(&q, "shared_from");
    let to = text(&q, "shared_to");
    let superiors = boolean(&q, "superiors")?;
    let active = boolean(&q, "active")?;
    let v = json_query(
        &state,
        &sql,
        &[&search, &tbl, &from, &to, &superiors, &active],
    )
    .await?;
    Ok(Json(v))
}

/// Quotes an identifier for SQL text.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The records of a table the console's login may read (at most 500), with
/// the given user's access level and paths to each.
pub async fn records(State(state): State<Shared>, Query(q): Params) -> ApiResult {
    let user = user_id(&q)?;
    let tbl = required(&q, "table")?;
    let client = db::connect(&state.pg).await?;
    let row = client
        .query_opt(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), t.pk_column::text
               FROM sharing.protected_tables t JOIN pg_class c ON c.oid = t.tbl
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE t.tbl = $1::text::regclass",
            &[&tbl],
        )
        .await?
        .ok_or_else(|| ApiError(DbError::new(format!("table {tbl} is not protected"))))?;
    let qualified: String = row.get(0);
    let pk: String = row.get(1);
    let sql = format!(
        "SELECT jsonb_build_object('limit', 500, 'records', coalesce(jsonb_agg(jsonb_build_object(
            'id', x.id, 'row', x.r,
            'access', sharing.access_level($1, $2::text::regclass, x.id),
            'paths', (SELECT coalesce(jsonb_agg(to_jsonb(e)), '[]')
                        FROM sharing.explain_access($1, $2::text::regclass, x.id) e)) ORDER BY x.k), '[]'))
        FROM (SELECT t.{pk}::text AS id, t.{pk} AS k, to_jsonb(t) AS r FROM {qualified} t ORDER BY t.{pk} LIMIT 500) x",
        pk = quote_ident(&pk),
    );
    let row = client.query_one(&sql, &[&user, &tbl]).await?;
    Ok(Json(row.get::<_, Value>(0)))
}

pub async fn explain(State(state): State<Shared>, Query(q): Params) -> ApiResult {
    let user = user_id(&q)?;
    let tbl = required(&q, "table")?;
    let record = required(&q, "record")?;
    let sql = "SELECT jsonb_build_object(
            'access', sharing.access_level($1, $2::text::regclass, $3),
            'paths', (SELECT coalesce(jsonb_agg(to_jsonb(e)), '[]')
                        FROM sharing.explain_access($1, $2::text::regclass, $3) e))";
    Ok(Json(
        json_query(&state, sql, &[&user, &tbl, &record]).await?,
    ))
}

pub async fn who(State(state): State<Shared>, Query(q): Params) -> ApiResult {
    let tbl = required(&q, "table")?;
    let record = required(&q, "record")?;
    let sql = "SELECT coalesce(jsonb_agg(to_jsonb(w) ORDER BY w.user_id), '[]')
                 FROM sharing.who_can_access($1::text::regclass, $2) w";
    Ok(Json(json_query(&state, sql, &[&tbl, &record]).await?))
}

pub async fn audit(State(state): State<Shared>, Query(q): Params) -> ApiResult {
    let who = text(&q, "who");
    let what = text(&q, "what");
    let since = text(&q, "since");
    let until = text(&q, "until");
    let limit: i64 = match text(&q, "limit") {
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=5000).contains(n))
            .ok_or_else(|| ApiError(DbError::new("limit must be a number from 1 to 5000")))?,
        None => 200,
    };
    let sql = "SELECT coalesce(jsonb_agg(jsonb_build_object('id', a.id, 'at', a.at, 'db_role', a.db_role,
                   'acting_user', a.acting_user, 'acting_user_name', u.name, 'action', a.action,
                   'object', a.object, 'before', a.before, 'after', a.after) ORDER BY a.at DESC, a.id DESC), '[]')
          FROM (SELECT * FROM sharing.audit_log a
                 WHERE ($1::text IS NULL OR strpos(lower(a.db_role::text), lower($1)) > 0
                        OR strpos(lower(coalesce(a.acting_user::text, '')), lower($1)) > 0
                        OR EXISTS (SELECT 1 FROM sharing.users su WHERE su.id = a.acting_user
                                     AND strpos(lower(su.name), lower($1)) > 0))
                   AND ($2::text IS NULL OR strpos(lower(a.action), lower($2)) > 0
                        OR strpos(lower(coalesce(a.object, '')), lower($2)) > 0)
                   AND ($3::text IS NULL OR a.at >= $3::text::timestamptz)
                   AND ($4::text IS NULL OR a.at <= $4::text::timestamptz)
                 ORDER BY a.at DESC, a.id DESC LIMIT $5) a
          LEFT JOIN sharing.users u ON u.id = a.acting_user";
    Ok(Json(
        json_query(&state, sql, &[&who, &what, &since, &until, &limit]).await?,
    ))
}

fn parse_change(body: &Value) -> Result<Change, ApiError> {
    serde_json::from_value(body.clone())
        .map_err(|e| ApiError(DbError::new(format!("bad change: {e}"))))
}

pub async fn preview(State(state): State<Shared>, Json(body): Json<Value>) -> ApiResult {
    let change = parse_change(&body)?;
    let mut client = db::connect(&state.pg).await?;
    Ok(Json(change::preview(&mut client, &change).await))
}

pub async fn apply(State(state): State<Shared>, Json(body): Json<Value>) -> ApiResult {
    let change = parse_change(&body)?;
    let mut client = db::connect(&state.pg).await?;
    Ok(Json(change::apply(&mut client, &change).await?))
}
