//! The authorization API in process: signed client requests, signed service calls, the
//! test clock, and counts of store transactions and Ed25519 verifications.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use time::macros::datetime;

use super::AppState;
use super::authorize::handle_authorize;
use crate::clock::{Clock, Env, TestClock, TestRandom};
use crate::model::AccountId;
use crate::service::{
    AssumeRoleRequest, AuthorizeRequest, AuthorizeResponse, Caller, CallerKind, Check,
    ClientRequest, NewRole, RequestContext, Vault,
};
use crate::sigv4::{self, OwnedRequest};
use crate::store::{AccountRow, EntityKind};

const A: &str = "123456789012";
const B: &str = "210987654321";
const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct Key {
    id: String,
    secret: String,
    token: Option<String>,
}

struct T {
    st: AppState,
    clock: TestClock,
    service: Key,
}

fn root(a: &str) -> Caller {
    Caller::root(&AccountId::parse(a).unwrap())
}

fn ctx() -> RequestContext {
    RequestContext::default()
}

fn user(v: &Vault, account: &str, name: &str, policy: Option<&str>) -> Key {
    let r = root(account);
    v.create_user(&r, &ctx(), name, None, None, &[]).unwrap();
    if let Some(p) = policy {
        v.put_inline_policy(&r, &ctx(), EntityKind::User, name, "p", p)
            .unwrap();
    }
    let k = v.create_access_key(&r, &ctx(), Some(name)).unwrap();
    Key {
        id: k.metadata.access_key_id,
        secret: k.secret.expose().to_owned(),
        token: None,
    }
}

fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

const REPORTS_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"AliceReads","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"},
  {"Sid":"NoMallory","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:user/mallory"},"Action":"s3:*","Resource":"arn:aws:s3:::reports/*"}
]}"#;

fn setup() -> T {
    let clock = TestClock::new(datetime!(2026-06-01 12:00 UTC));
    let env = Env {
        clock: Arc::new(clock.clone()),
        rng: Arc::new(TestRandom::new(9)),
    };
    let v = Vault::in_memory(env).unwrap();
    for a in [A, B] {
        let tx = v.store().write().unwrap();
        tx.insert_account(
            &AccountRow {
                account_id: a.into(),
                created_at: clock.now(),
            },
            None,
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let service = user(
        &v,
        A,
        "objstore",
        Some(&allow("vault:Authorize", "arn:aws:s3:::*")),
    );
    v.put_resource_policy(&root(A), &ctx(), "arn:aws:s3:::reports", REPORTS_POLICY)
        .unwrap();
    T {
        st: AppState::new(Arc::new(v), false).unwrap(),
        clock,
        service,
    }
}

impl T {
    fn v(&self) -> &Vault {
        &self.st.vault
    }

    /// A client request for `GET /reports/KEY`, signed by `k` for s3.
    fn client_get(&self, k: &Key, key: &str) -> ClientRequest {
        let mut req = OwnedRequest::new("GET", &format!("/reports/{key}"))
            .with_header("host", "objects.internal:9000")
            .with_header("x-amz-content-sha256", EMPTY);
        sigv4::sign(
            &mut req,
            &k.id,
            k.secret.as_bytes(),
            k.token.as_deref(),
            "us-east-1",
            "s3",
            self.clock.now(),
        )
        .unwrap();
        ClientRequest {
            method: req.method,
            path: req.path,
            query: req.query,
            headers: req.headers,
            body_sha256: EMPTY.into(),
            source_ip: Some("10.0.0.7".into()),
            secure_transport: true,
        }
    }

    /// The service's signed call; the raw answer.
    fn call_raw(
        &self,
        service: &Key,
        body: &AuthorizeRequest,
    ) -> Result<AuthorizeResponse, super::WireError> {
        let text = serde_json::to_vec(body).unwrap();
        let mut req = OwnedRequest::new("POST", "/vault/v1/authorize")
            .with_header("host", "vault.internal:8900")
            .with_header("content-type", "application/json")
            .with_body(text.clone());
        sigv4::sign(
            &mut req,
            &service.id,
            service.secret.as_bytes(),
            service.token.as_deref(),
            "us-east-1",
            "vault",
            self.clock.now(),
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        for (n, v) in &req.headers {
            headers.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let uri: Uri = "/vault/v1/authorize".parse().unwrap();
        handle_authorize(&self.st, peer, &Method::POST, &uri, &headers, &text)
    }

    fn ask(&self, client: ClientRequest, action: &str, resource: &str) -> AuthorizeResponse {
        self.call_raw(
            &self.service,
            &AuthorizeRequest {
                request: client,
                checks: vec![Check {
                    action: action.into(),
                    resource: resource.into(),
                }],
                context: serde_json::Map::new(),
            },
        )
        .unwrap()
    }

    fn get(&self, k: &Key, key: &str) -> AuthorizeResponse {
        let c = self.client_get(k, key);
        self.ask(c, "s3:GetObject", &format!("arn:aws:s3:::reports/{key}"))
    }
}

fn decision(r: &AuthorizeResponse) -> &str {
    assert!(r.authenticated, "not authenticated: {:?}", r.error);
    &r.results[0].decision
}

#[test]
fn resource_policy_alone_allows_and_explicit_deny_wins() {
    let t = setup();
    let alice = user(t.v(), A, "alice", None);
    let r = t.get(&alice, "2026/q3.csv");
    assert_eq!(decision(&r), "allowed");
    let p = r.principal.as_ref().unwrap();
    assert_eq!(p.arn, "arn:aws:iam::123456789012:user/alice");
    assert_eq!(p.account, A);
    assert!(p.userid.starts_with("AIDA"));
    let m = &r.results[0].matched_statements;
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].sid, "AliceReads");
    assert_eq!(m[0].policy_id, "arn:aws:s3:::reports");
    assert_eq!(m[0].policy_type, "resource-based policy");
    assert_eq!(r.cache_seconds, 60);

    // Outside the covered tree, and for another action, alice has nothing.
    let c = t.client_get(&alice, "x");
    let r = t.ask(c, "s3:GetObject", "arn:aws:s3:::other/x");
    assert_eq!(decision(&r), "implicitDeny");
    let c = t.client_get(&alice, "x");
    let r = t.ask(c, "s3:DeleteObject", "arn:aws:s3:::reports/x");
    assert_eq!(decision(&r), "implicitDeny");
    assert!(
        r.results[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("is not authorized to perform: s3:DeleteObject")
    );

    // Nobody allows carol.
    let carol = user(t.v(), A, "carol", None);
    assert_eq!(decision(&t.get(&carol, "a")), "implicitDeny");

    // Mallory's identity policy allows everything; the resource policy's deny wins.
    let mallory = user(t.v(), A, "mallory", Some(&allow("s3:*", "*")));
    let r = t.get(&mallory, "a");
    assert_eq!(decision(&r), "explicitDeny");
    assert!(
        r.results[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("with an explicit deny in a resource-based policy")
    );
    // Same-account identity allow without the resource policy naming the user.
    let bob = user(t.v(), A, "bob", Some(&allow("s3:GetObject", "*")));
    assert_eq!(decision(&t.get(&bob, "a")), "allowed");
}

#[test]
fn bad_signatures_and_payloads_are_refused() {
    let t = setup();
    let alice = user(t.v(), A, "alice", None);
    let mut c = t.client_get(&alice, "a");
    for (n, v) in &mut c.headers {
        if n == "authorization" {
            let last = v.pop().unwrap();
            v.push(if last == '0' { '1' } else { '0' });
        }
    }
    let r = t.ask(c, "s3:GetObject", "arn:aws:s3:::reports/a");
    assert!(!r.authenticated);
    assert_eq!(r.error.as_ref().unwrap().code, "SignatureDoesNotMatch");
    assert!(r.results.is_empty() && r.principal.is_none());

    // The body the service received is not what the client signed.
    let mut c = t.client_get(&alice, "a");
    c.body_sha256 = "ab".repeat(32);
    let r = t.ask(c, "s3:GetObject", "arn:aws:s3:::reports/a");
    assert_eq!(r.error.as_ref().unwrap().code, "XAmzContentSHA256Mismatch");

    // Unknown key.
    let ghost = Key {
        id: "AKIAZZZZZZZZZZZZZZZZ".into(),
        secret: "x".repeat(40),
        token: None,
    };
    let r = t.get(&ghost, "a");
    assert_eq!(r.error.as_ref().unwrap().code, "InvalidAccessKeyId");

    // Signed too long ago.
    let c = t.client_get(&alice, "a");
    t.clock.advance(time::Duration::minutes(16));
    let r = t.ask(c, "s3:GetObject", "arn:aws:s3:::reports/a");
    assert_eq!(r.error.as_ref().unwrap().code, "SignatureDoesNotMatch");
}

#[test]
fn the_service_needs_vault_authorize_on_the_resource() {
    let t = setup();
    let alice = user(t.v(), A, "alice", None);
    let c = t.client_get(&alice, "a");
    // The service may ask about s3 resources, not others.
    let e = t
        .call_raw(
            &t.service,
            &AuthorizeRequest {
                request: c.clone(),
                checks: vec![Check {
                    action: "dynamodb:GetItem".into(),
                    resource: "arn:aws:dynamodb:us-east-1:123456789012:table/t".into(),
                }],
                context: serde_json::Map::new(),
            },
        )
        .unwrap_err();
    assert_eq!((e.status, e.code), (403, "AccessDenied"));
    // A user without the permission cannot ask at all.
    let nosy = user(t.v(), A, "nosy", None);
    let body = AuthorizeRequest {
        request: c,
        checks: vec![Check {
            action: "s3:GetObject".into(),
            resource: "arn:aws:s3:::reports/a".into(),
        }],
        context: serde_json::Map::new(),
    };
    let e = t.call_raw(&nosy, &body).unwrap_err();
    assert_eq!(e.code, "AccessDenied");
    assert!(e.message.contains("vault:Authorize"));
    // Keys the vault computes itself cannot be supplied.
    let mut forged = body.clone();
    forged
        .context
        .insert("aws:SourceIp".into(), serde_json::json!("10.1.1.1"));
    let e = t.call_raw(&t.service, &forged).unwrap_err();
    assert_eq!(e.code, "ValidationError");
    let mut ok = body;
    ok.context
        .insert("s3:prefix".into(), serde_json::json!("2026/"));
    assert!(t.call_raw(&t.service, &ok).is_ok());
}

#[test]
fn warm_decisions_touch_neither_the_store_nor_ed25519() {
    let t = setup();
    let alice = user(t.v(), A, "alice", None);
    // A role session too.
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    t.v()
        .create_role(
            &root(A),
            &ctx(),
            &NewRole {
                name: "writer",
                trust_policy: trust,
                ..NewRole::default()
            },
        )
        .unwrap();
    t.v()
        .put_inline_policy(
            &root(A),
            &ctx(),
            EntityKind::Role,
            "writer",
            "p",
            &allow("s3:GetObject", "arn:aws:s3:::reports/*"),
        )
        .unwrap();
    let s = t
        .v()
        .assume_role(
            &root(A),
            &ctx(),
            &AssumeRoleRequest {
                role_arn: "arn:aws:iam::123456789012:role/writer".into(),
                session_name: "job".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let session = Key {
        id: s.claims.access_key_id.clone(),
        secret: s.secret.expose().to_owned(),
        token: Some(s.token.clone()),
    };
    // Cold: fills the caches.
    assert_eq!(decision(&t.get(&alice, "a")), "allowed");
    let r = t.get(&session, "a");
    assert_eq!(decision(&r), "allowed");
    assert!(
        r.results[0].matched_statements[0]
            .policy_id
            .ends_with("role/writer/p")
    );
    assert_eq!(
        r.principal.as_ref().unwrap().userid,
        format!("{}:job", s.claims.principal_id.split(':').next().unwrap())
    );
    assert!(r.cache_seconds > 0 && r.cache_seconds <= 60);
    // Warm: no transaction, no Ed25519 verification.
    let (tx0, ed0) = (t.v().store().transactions(), t.v().token_verifications());
    for _ in 0..3 {
        assert_eq!(decision(&t.get(&alice, "a")), "allowed");
        assert_eq!(decision(&t.get(&session, "a")), "allowed");
    }
    assert_eq!(
        t.v().store().transactions(),
        tx0,
        "a warm decision read the store"
    );
    assert_eq!(
        t.v().token_verifications(),
        ed0,
        "a warm decision verified a signature"
    );

    // A revocation bites on the very next call.
    t.v()
        .revoke_role_sessions(&root(A), &ctx(), "writer")
        .unwrap();
    let r = t.get(&session, "a");
    assert!(!r.authenticated);
    assert_eq!(r.error.as_ref().unwrap().code, "InvalidToken");
    // So does a policy change.
    t.v()
        .put_resource_policy(
            &root(A),
            &ctx(),
            "arn:aws:s3:::reports",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}"#,
        )
        .unwrap();
    assert_eq!(decision(&t.get(&alice, "a")), "explicitDeny");
    // And deactivating the key.
    t.v()
        .update_access_key(
            &root(A),
            &ctx(),
            Some("alice"),
            &alice.id,
            crate::store::KeyStatus::Inactive,
        )
        .unwrap();
    assert_eq!(t.get(&alice, "a").error.unwrap().code, "InvalidAccessKeyId");
}

#[test]
fn cross_account_needs_both_sides() {
    let t = setup();
    // dave lives in account B; the bucket belongs to A (it put the policy).
    let dave = user(t.v(), B, "dave", None);
    assert_eq!(decision(&t.get(&dave, "a")), "implicitDeny");
    // A's resource policy names dave, but B has not allowed him: still denied.
    let both = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:user/dave"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;
    t.v()
        .put_resource_policy(&root(A), &ctx(), "arn:aws:s3:::reports", both)
        .unwrap();
    let r = t.get(&dave, "a");
    assert_eq!(decision(&r), "implicitDeny");
    // B allows dave too: now allowed.
    t.v()
        .put_inline_policy(
            &root(B),
            &ctx(),
            EntityKind::User,
            "dave",
            "p",
            &allow("s3:GetObject", "arn:aws:s3:::reports/*"),
        )
        .unwrap();
    assert_eq!(decision(&t.get(&dave, "a")), "allowed");
    // Identity allow alone (resource policy no longer naming dave): denied.
    t.v()
        .put_resource_policy(&root(A), &ctx(), "arn:aws:s3:::reports", REPORTS_POLICY)
        .unwrap();
    assert_eq!(decision(&t.get(&dave, "a")), "implicitDeny");
    // And B cannot take over A's resource tree.
    let e = t
        .v()
        .put_resource_policy(&root(B), &ctx(), "arn:aws:s3:::reports/b", REPORTS_POLICY)
        .unwrap_err();
    assert_eq!(e.code(), "AccessDenied");
    let _ = CallerKind::Root;
}

#[test]
fn a_stored_policy_that_does_not_compile_denies() {
    let t = setup();
    let bob = user(t.v(), A, "bob", Some(&allow("s3:GetObject", "*")));
    assert_eq!(decision(&t.get(&bob, "a")), "allowed");
    // Written behind the validator's back (a damaged row, an older build's document).
    let tx = t.v().store().write().unwrap();
    tx.put_resource_policy("arn:aws:s3:::reports", A, "{not json", t.clock.now())
        .unwrap();
    tx.commit().unwrap();
    let r = t.get(&bob, "a");
    assert_eq!(decision(&r), "implicitDeny");
    assert!(
        r.results[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("arn:aws:s3:::reports")
    );
}

#[tokio::test]
async fn a_shed_request_gets_throttling_not_a_dropped_connection() {
    use tower::ServiceExt as _;
    let t = setup();
    let mut st = AppState::new(std::sync::Arc::clone(&t.st.vault), false).unwrap();
    // No room at all: every request is shed.
    st.max_in_flight = 0;
    let app = super::router(std::sync::Arc::new(st));
    let req = axum::http::Request::builder()
        .uri("/healthz")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 429);
    let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("<Code>Throttling</Code>"), "{text}");
    // With room, the same request is served.
    let app = super::router(std::sync::Arc::new(
        AppState::new(std::sync::Arc::clone(&t.st.vault), false).unwrap(),
    ));
    let req = axum::http::Request::builder()
        .uri("/healthz")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.oneshot(req).await.unwrap().status(), 200);
}

#[test]
fn failed_authentications_are_throttled_per_source_address() {
    let t = setup();
    let bad = Key {
        id: t.service.id.clone(),
        secret: "y".repeat(40),
        token: None,
    };
    let probe = AuthorizeRequest {
        request: t.client_get(&t.service, "a"),
        checks: vec![Check {
            action: "s3:GetObject".into(),
            resource: "arn:aws:s3:::reports/a".into(),
        }],
        context: serde_json::Map::new(),
    };
    // Control: the right secret works.
    t.call_raw(&t.service, &probe).unwrap();
    for _ in 0..super::auth::AUTH_FAILURE_BURST {
        let e = t.call_raw(&bad, &probe).unwrap_err();
        assert_eq!(e.code, "SignatureDoesNotMatch");
    }
    // The address has used its failures: even a good signature waits, and costs nothing.
    let e = t.call_raw(&t.service, &probe).unwrap_err();
    assert_eq!((e.status, e.code), (429, "Throttling"));
    let e = t.call_raw(&bad, &probe).unwrap_err();
    assert_eq!((e.status, e.code), (429, "Throttling"));
    // Another address is not affected.
    let other = "10.1.2.3".parse().unwrap();
    let now = t.clock.now();
    assert!(t.st.auth_failures_by_ip.has_token(&other, now));
    // The bucket refills: one failure's worth after 60 / AUTH_FAILURES_PER_MINUTE s.
    t.clock.advance(time::Duration::seconds(1));
    t.call_raw(&t.service, &probe).unwrap();
}
