//! The authorizer and its layer against a fake vault served by axum on loopback. The fake
//! checks the service's own SigV4 signature, records every call, and answers according to
//! the client request's `x-fake` header.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, OriginalUri, State};
use axum::http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use axum::routing::{any, post};
use serde_json::{Value, json};
use time::macros::datetime;
use tower::ServiceExt;

use super::*;
use crate::clock::TestClock;
use crate::sigv4::{HttpRequest, PayloadHash};

const SECRET: &str = "service-secret-not-real-0000000000000000";

#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<AuthorizeRequest>>,
}

fn clock() -> Arc<TestClock> {
    Arc::new(TestClock::new(datetime!(2026-11-28 12:00 UTC)))
}

fn creds() -> Credentials {
    Credentials {
        access_key_id: "AKIASERVICE000000001".into(),
        secret_access_key: SecretString::new(SECRET.into()),
        session_token: None,
    }
}

async fn fake_vault(
    State((fake, clock)): State<(Arc<Fake>, Arc<TestClock>)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let reply = |status: u16, v: Value| {
        let mut r = Response::new(Body::from(v.to_string()));
        *r.status_mut() = StatusCode::from_u16(status).unwrap();
        r
    };
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
        .collect();
    let req = HttpRequest::new(
        "POST",
        uri.path(),
        uri.query().unwrap_or(""),
        pairs,
        PayloadHash::Body(&body),
    )
    .unwrap();
    let auth = sigv4::parse_auth(&req).unwrap();
    if auth.service() != "vault"
        || sigv4::verify_with_secret(&req, &auth, SECRET.as_bytes(), clock.now()).is_err()
    {
        return reply(
            403,
            json!({"error": "SignatureDoesNotMatch", "message": "bad"}),
        );
    }
    let call: AuthorizeRequest = serde_json::from_slice(&body).unwrap();
    fake.calls.lock().unwrap().push(call.clone());
    let mode = call
        .request
        .headers
        .iter()
        .find(|(n, _)| n == "x-fake")
        .map_or("allow", |(_, v)| v.as_str())
        .to_owned();
    let results = |decision: &str| -> Vec<Value> {
        call.checks
            .iter()
            .map(|c| {
                json!({"action": c.action, "resource": c.resource, "decision": decision,
                       "matched_statements": [], "reason": "because the test says so"})
            })
            .collect()
    };
    let principal = json!({"arn": "arn:aws:iam::123456789012:user/alice",
                           "account": "123456789012", "userid": "AIDAALICE"});
    match mode.as_str() {
        "allow" | "deny" => reply(
            200,
            json!({"authenticated": true, "principal": principal,
                   "access_key_id": "AKIAALICE",
                   "results": results(if mode == "allow" { "allowed" } else { "explicitDeny" }),
                   "cache_seconds": 60}),
        ),
        "short" => reply(
            200,
            json!({"authenticated": true, "principal": principal, "access_key_id": "AKIAALICE",
                   "results": [], "cache_seconds": 0}),
        ),
        "unauth" => reply(
            200,
            json!({"authenticated": false,
                   "error": {"status": 400, "code": "ExpiredToken", "message": "expired"},
                   "results": [], "cache_seconds": 0}),
        ),
        _ => reply(
            403,
            json!({"error": "AccessDenied", "message": "the service may not call vault:Authorize"}),
        ),
    }
}

/// Serves the fake vault and returns an authorizer of it.
async fn start() -> (Arc<Fake>, Arc<Authorizer>) {
    let fake = Arc::new(Fake::default());
    let clock = clock();
    let app = Router::new()
        .route(AUTHORIZE_PATH, post(fake_vault))
        .with_state((Arc::clone(&fake), Arc::clone(&clock)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let authorizer = Authorizer::new(&format!("http://{addr}"), creds(), clock).unwrap();
    (fake, Arc::new(authorizer))
}

fn check(action: &str, resource: &str) -> Check {
    Check {
        action: action.into(),
        resource: resource.into(),
    }
}

fn call(mode: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        request: ClientRequest {
            method: "GET".into(),
            path: "/b/k".into(),
            query: String::new(),
            headers: vec![("host".into(), "s".into()), ("x-fake".into(), mode.into())],
            body_sha256: sha256_hex(b""),
            source_ip: None,
            secure_transport: false,
        },
        checks: vec![check("s3:GetObject", "arn:aws:s3:::b/k")],
        context: serde_json::Map::new(),
    }
}

#[test]
fn client_request_keeps_the_raw_request() {
    let mut req = Request::builder()
        .method(Method::PUT)
        .uri("/bucket/a%20b/c?x-id=PutObject&tagging")
        .header("host", "objects:9000")
        .header("x-amz-date", "20261128T120000Z")
        .header("x-amz-meta-note", "one")
        .header("x-amz-meta-note", "two")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 7], 5555))));
    let (parts, _) = req.into_parts();
    let c = client_request(&parts, b"hello", None);
    assert_eq!(c.method, "PUT");
    assert_eq!(c.path, "/bucket/a%20b/c");
    assert_eq!(c.query, "x-id=PutObject&tagging");
    assert_eq!(
        c.body_sha256,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(c.source_ip.as_deref(), Some("10.0.0.7"));
    assert!(!c.secure_transport);
    let notes: Vec<&str> = c
        .headers
        .iter()
        .filter(|(n, _)| n == "x-amz-meta-note")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(notes, ["one", "two"]);
    assert!(c.headers.contains(&("host".into(), "objects:9000".into())));
    // An explicit peer wins; an IPv4-mapped IPv6 address is given as IPv4.
    let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
    let c = client_request(&parts, b"", Some(mapped));
    assert_eq!(c.source_ip.as_deref(), Some("192.0.2.1"));
    // Debug shows header names, never their values.
    let dbg = format!("{c:?}");
    assert!(dbg.contains("x-amz-date") && !dbg.contains("20261128T120000Z"));
}

#[test]
fn client_request_uses_the_original_uri_and_the_authority() {
    let mut req = Request::builder()
        .uri("http://objects.internal:9000/inner?q=1")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut().insert(OriginalUri(
        "http://objects.internal:9000/outer/inner?q=1"
            .parse()
            .unwrap(),
    ));
    let (parts, _) = req.into_parts();
    let c = client_request(&parts, b"", None);
    assert_eq!(c.path, "/outer/inner");
    assert_eq!(c.query, "q=1");
    assert_eq!(c.source_ip, None);
    assert!(
        c.headers
            .contains(&("host".into(), "objects.internal:9000".into()))
    );
}

#[test]
fn endpoints_are_checked_and_secrets_stay_out_of_debug() {
    let clock: Arc<dyn Clock> = clock();
    assert!(Authorizer::new("not a url", creds(), Arc::clone(&clock)).is_err());
    assert!(Authorizer::new("ftp://vault", creds(), Arc::clone(&clock)).is_err());
    let a = Authorizer::new("https://vault.internal:8900/base/", creds(), clock).unwrap();
    assert_eq!(
        a.url(),
        "https://vault.internal:8900/base/vault/v1/authorize"
    );
    let dbg = format!("{a:?}");
    assert!(dbg.contains("AKIASERVICE000000001"));
    assert!(!dbg.contains(SECRET));
}

#[tokio::test]
async fn the_call_is_signed_and_the_answer_parsed() {
    let (fake, a) = start().await;
    let answer = a.authorize(&call("allow")).await.unwrap();
    assert!(answer.all_allowed());
    assert_eq!(
        answer.principal.unwrap().arn,
        "arn:aws:iam::123456789012:user/alice"
    );
    assert_eq!(fake.calls.lock().unwrap().len(), 1);

    let answer = a.authorize(&call("deny")).await.unwrap();
    assert!(answer.authenticated && !answer.all_allowed());
    let answer = a.authorize(&call("unauth")).await.unwrap();
    assert!(!answer.authenticated);
    assert_eq!(answer.error.unwrap().code, "ExpiredToken");
}

#[tokio::test]
async fn failed_or_malformed_calls_are_errors() {
    let (fake, a) = start().await;
    let e = a.authorize(&call("refuse")).await.unwrap_err();
    assert_eq!(e.code(), "AccessDenied");
    let e = a.authorize(&call("short")).await.unwrap_err();
    assert!(e.to_string().contains("does not answer the checks"), "{e}");
    let mut none = call("allow");
    none.checks.clear();
    assert!(a.authorize(&none).await.is_err());
    let mut many = call("allow");
    many.checks = vec![check("s3:GetObject", "arn:aws:s3:::b/k"); MAX_CHECKS + 1];
    assert!(a.authorize(&many).await.is_err());
    assert_eq!(fake.calls.lock().unwrap().len(), 2);
    // A wrong secret: the fake refuses the signature.
    let mut bad = creds();
    bad.secret_access_key = SecretString::new("wrong".into());
    let other = Authorizer::new(&a.url().replace(AUTHORIZE_PATH, ""), bad, clock()).unwrap();
    let e = other.authorize(&call("allow")).await.unwrap_err();
    assert!(
        matches!(&e, Error::Remote(code, _) if code == "SignatureDoesNotMatch"),
        "{e:?}"
    );
}

/// An app behind the layer: echoes the body and the principal it was told about.
fn app(layer: AuthorizeLayer) -> Router {
    Router::new()
        .route(
            "/{*rest}",
            any(
                |axum::Extension(who): axum::Extension<Authorized>, body: Bytes| async move {
                    format!("{}|{}", who.principal.arn, String::from_utf8_lossy(&body))
                },
            ),
        )
        .layer(layer)
}

fn mapper(parts: &Parts) -> RequestChecks {
    if parts.uri.path() == "/unknown" {
        return RequestChecks::default();
    }
    let mut context = serde_json::Map::new();
    context.insert("s3:prefix".into(), json!("2026/"));
    RequestChecks {
        checks: vec![check(
            "s3:PutObject",
            &format!("arn:aws:s3:::{}", parts.uri.path().trim_start_matches('/')),
        )],
        context,
    }
}

fn request(path: &str, mode: &str, body: &'static str) -> Request<Body> {
    let mut req = Request::builder()
        .method(Method::PUT)
        .uri(path)
        .header("host", "objects")
        .header("x-fake", mode)
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((Ipv4Addr::LOCALHOST, 1234))));
    req
}

async fn text(resp: Response<Body>) -> (u16, String) {
    let status = resp.status().as_u16();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn an_allowed_request_goes_on_with_its_body_and_principal() {
    let (fake, a) = start().await;
    let app = app(AuthorizeLayer::new(a, mapper).secure_transport(true));
    let (status, body) = text(
        app.clone()
            .oneshot(request("/b/k", "allow", "payload"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, "arn:aws:iam::123456789012:user/alice|payload");
    {
        let calls = fake.calls.lock().unwrap();
        let c = &calls[0];
        assert_eq!(c.request.body_sha256, sha256_hex(b"payload"));
        assert_eq!(c.request.source_ip.as_deref(), Some("127.0.0.1"));
        assert!(c.request.secure_transport);
        assert_eq!(c.checks, [check("s3:PutObject", "arn:aws:s3:::b/k")]);
        assert_eq!(c.context["s3:prefix"], "2026/");
    }
    // Nothing is cached: the same request asks again.
    let (status, _) = text(
        app.oneshot(request("/b/k", "allow", "payload"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(fake.calls.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn refusals_use_the_default_json_answer() {
    let (fake, a) = start().await;
    let app = app(AuthorizeLayer::new(a, mapper).max_body_bytes(8));
    let cases = [
        ("/b/k", "deny", "x", 403, "AccessDenied"),
        ("/b/k", "unauth", "x", 400, "ExpiredToken"),
        ("/b/k", "refuse", "x", 503, "ServiceUnavailable"),
        ("/b/k", "short", "x", 503, "ServiceUnavailable"),
        ("/unknown", "allow", "x", 403, "AccessDenied"),
        (
            "/b/k",
            "allow",
            "more than eight bytes",
            413,
            "EntityTooLarge",
        ),
    ];
    for (path, mode, body, want_status, want_code) in cases {
        let resp = app
            .clone()
            .oneshot(request(path, mode, body))
            .await
            .unwrap();
        // Refused before its body was read to the end, the connection is not reused.
        let closes = resp
            .headers()
            .get("connection")
            .is_some_and(|v| v == "close");
        assert_eq!(
            closes,
            want_status == 413 || path == "/unknown",
            "{mode} {path}"
        );
        let (status, text) = text(resp).await;
        assert_eq!(status, want_status, "{mode} {path}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"], want_code, "{mode} {path}: {text}");
        // The vault's own refusal of the service is not repeated to the client.
        assert!(!text.contains("vault:Authorize"), "{text}");
    }
    let denied: Value = serde_json::from_str(
        &text(app.oneshot(request("/b/k", "deny", "")).await.unwrap())
            .await
            .1,
    )
    .unwrap();
    assert_eq!(denied["message"], "because the test says so");
    // The unmapped and the oversized requests never reached the vault.
    assert_eq!(fake.calls.lock().unwrap().len(), 5);
}

#[tokio::test]
async fn a_custom_responder_answers_refusals() {
    let (_fake, a) = start().await;
    let layer = AuthorizeLayer::new(a, mapper).responder(|parts, rejection| {
        let mut r = Response::new(Body::from(format!(
            "{} {} {}",
            parts.uri.path(),
            rejection.code(),
            matches!(rejection, Rejection::Denied { ref principal, .. } if principal.account == "123456789012")
        )));
        *r.status_mut() = StatusCode::IM_A_TEAPOT;
        r
    });
    let (status, body) = text(
        app(layer)
            .oneshot(request("/b/k", "deny", ""))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 418);
    assert_eq!(body, "/b/k AccessDenied true");
}

#[tokio::test]
async fn an_unreachable_vault_fails_closed() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let a = Arc::new(Authorizer::new(&format!("http://{addr}"), creds(), clock()).unwrap());
    let (status, body) = text(
        app(AuthorizeLayer::new(a, mapper))
            .oneshot(request("/b/k", "allow", ""))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 503, "{body}");
}
