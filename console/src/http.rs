//! The web side: static files embedded in the binary, the JSON API, and the
//! guards against cross-site requests (Host allow-list on every request, and
//! on every state change: POST only, the per-process token as a header, and
//! a same-origin Origin when the browser sends one).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api;

pub struct AppState {
    pub pg: tokio_postgres::Config,
    pub token: String,
    pub allowed_hosts: Vec<String>,
}

pub type Shared = Arc<AppState>;

const INDEX: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const APP_CSS: &str = include_str!("../web/app.css");
pub const TOKEN_HEADER: &str = "x-console-token";

pub fn random_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The Host values a browser may use to reach us.
pub fn allowed_hosts(local: &SocketAddr, public_host: Option<&str>) -> Vec<String> {
    let port = local.port();
    let mut hosts = vec![local.to_string()];
    if local.ip().is_loopback() || local.ip().is_unspecified() {
        hosts.push(format!("localhost:{port}"));
        hosts.push(format!("127.0.0.1:{port}"));
        hosts.push(format!("[::1]:{port}"));
    }
    if let Some(h) = public_host {
        hosts.push(h.to_string());
        if !h.contains(':') {
            hosts.push(format!("{h}:{port}"));
        }
    }
    hosts
}

pub fn router(state: Shared) -> Router {
    let api = Router::new()
        .route("/api/session", get(api::session))
        .route("/api/org", get(api::org))
        .route("/api/tables", get(api::tables))
        .route("/api/rules", get(api::rules))
        .route("/api/records", get(api::records))
        .route("/api/explain", get(api::explain))
        .route("/api/who", get(api::who))
        .route("/api/audit", get(api::audit))
        .route("/api/preview", post(api::preview))
        .route("/api/apply", post(api::apply));
    Router::new()
        .route("/", get(index))
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .merge(api)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

fn security_headers(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn index(State(state): State<Shared>) -> Response {
    let page = INDEX.replace("{{TOKEN}}", &state.token);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "message": message } });
    (status, axum::Json(body)).into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a request must be refused, if it must.
pub fn check_request(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
) -> Option<(StatusCode, &'static str)> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match host {
        Some(h)
            if state
                .allowed_hosts
                .iter()
                .any(|a| a.eq_ignore_ascii_case(h)) => {}
        _ => return Some((StatusCode::MISDIRECTED_REQUEST, "unexpected Host header")),
    }
    if method == Method::GET || method == Method::HEAD {
        return None;
    }
    if method != Method::POST {
        return Some((StatusCode::METHOD_NOT_ALLOWED, "only GET and POST"));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|o| {
                state
                    .allowed_hosts
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(o))
            });
        if !ok {
            return Some((StatusCode::FORBIDDEN, "cross-origin request refused"));
        }
    }
    let token_ok = headers
        .get(TOKEN_HEADER)
        .is_some_and(|t| constant_time_eq(t.as_bytes(), state.token.as_bytes()));
    if !token_ok {
        return Some((
            StatusCode::FORBIDDEN,
            "missing or wrong console token: reload the page",
        ));
    }
    None
}

async fn guard(State(state): State<Shared>, req: Request<Body>, next: Next) -> Response {
    if let Some((status, message)) = check_request(&state, req.method(), req.headers()) {
        let mut resp = refuse(status, message);
        security_headers(&mut resp);
        return resp;
    }
    let mut resp = next.run(req).await;
    security_headers(&mut resp);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> AppState {
        AppState {
            pg: tokio_postgres::Config::new(),
            token: "abc".into(),
            allowed_hosts: allowed_hosts(&"127.0.0.1:8432".parse().unwrap(), None),
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn reads_need_a_known_host() {
        let s = state();
        assert!(check_request(&s, &Method::GET, &headers(&[("host", "127.0.0.1:8432")])).is_none());
        assert!(check_request(&s, &Method::GET, &headers(&[("host", "localhost:8432")])).is_none());
        assert!(
            check_request(&s, &Method::GET, &headers(&[("host", "evil.example:8432")])).is_some()
        );
        assert!(check_request(&s, &Method::GET, &headers(&[])).is_some());
    }

    #[test]
    fn changes_need_token_and_same_origin() {
        let s = state();
        let ok = headers(&[
            ("host", "127.0.0.1:8432"),
            ("origin", "http://127.0.0.1:8432"),
            ("x-console-token", "abc"),
        ]);
        assert!(check_request(&s, &Method::POST, &ok).is_none());
        let no_token = headers(&[
            ("host", "127.0.0.1:8432"),
            ("origin", "http://127.0.0.1:8432"),
        ]);
        assert_eq!(
            check_request(&s, &Method::POST, &no_token).unwrap().0,
            StatusCode::FORBIDDEN
        );
        let wrong_token = headers(&[("host", "127.0.0.1:8432"), ("x-console-token", "abd")]);
        assert!(check_request(&s, &Method::POST, &wrong_token).is_some());
        let cross = headers(&[
            ("host", "127.0.0.1:8432"),
            ("origin", "http://evil.example"),
            ("x-console-token", "abc"),
        ]);
        assert!(check_request(&s, &Method::POST, &cross).is_some());
        let put = headers(&[("host", "127.0.0.1:8432"), ("x-console-token", "abc")]);
        assert!(check_request(&s, &Method::PUT, &put).is_some());
    }
}
