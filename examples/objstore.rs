//! `objstore`: a small S3-compatible object store that authorizes every request through
//! the vault, with [`iamvault::client::AuthorizeLayer`] in front of its one handler.
//!
//! ```text
//! AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… \
//!   target/release/examples/objstore --vault http://127.0.0.1:8900 --root ./objects --listen 127.0.0.1:9000
//! ```
//!
//! Path-style requests only (`http://host/bucket/key`). Operations and what each asks the
//! vault:
//!
//! | request                          | operation     | check                                   |
//! | -------------------------------- | ------------- | --------------------------------------- |
//! | `PUT /bucket`                    | CreateBucket  | `s3:CreateBucket` on `arn:aws:s3:::bucket` |
//! | `DELETE /bucket` (empty only)    | DeleteBucket  | `s3:DeleteBucket` on `arn:aws:s3:::bucket` |
//! | `HEAD /bucket`                   | HeadBucket    | `s3:ListBucket` on `arn:aws:s3:::bucket`   |
//! | `GET /bucket?list-type=2`        | ListObjectsV2 | `s3:ListBucket` on `arn:aws:s3:::bucket`, context `s3:prefix`, `s3:delimiter`, `s3:max-keys` when given |
//! | `PUT /bucket/key`                | PutObject     | `s3:PutObject` on `arn:aws:s3:::bucket/key` |
//! | `GET /bucket/key`, `HEAD …`      | GetObject, HeadObject | `s3:GetObject` on `arn:aws:s3:::bucket/key` |
//! | `DELETE /bucket/key`             | DeleteObject  | `s3:DeleteObject` on `arn:aws:s3:::bucket/key` |
//!
//! Buckets must be created first (CreateBucket), as on S3. Anything else (ListBuckets,
//! ListObjects v1, multipart uploads, copies, ranges, ACLs, tagging, versions) is answered
//! `NotImplemented`. Errors are S3's XML; a denial is 403 `AccessDenied`, and a client
//! whose signature or credentials are bad gets the code and status the vault names
//! (`SignatureDoesNotMatch`, `InvalidAccessKeyId`, `ExpiredToken`, …).
//!
//! Storage: a bucket is the directory `ROOT/bucket` (bucket names follow S3's rules, so
//! they are plain directory names); an object is one file in it, named by the
//! percent-encoding of its key where only `A-Z a-z 0-9 - _ ~` and non-leading `.` stay as
//! they are. `/` is encoded, so a key can never name a path outside its bucket's
//! directory, and no encoded name starts with `.`, which keeps temporary files apart.
//! Keys containing a `.` or `..` segment, a leading `/` or a NUL are refused anyway, and
//! an encoded name is at most 255 bytes (`KeyTooLongError` past that). Writes go to a
//! temporary file that is synced and then renamed over the object: a reader sees the old
//! or the new object, never a part.
//!
//! The ETag is the quoted hex SHA-256 of the object, not S3's MD5: the crate has no MD5
//! implementation and this example adds no dependency. boto3 does not compare a simple
//! upload's ETag with anything (with `request_checksum_calculation="when_required"` and
//! `response_checksum_validation="when_required"`), and a 64-digit ETag cannot be taken
//! for an MD5 by tools that check one. Integrity of uploads comes from SigV4 instead: the
//! vault checks that `x-amz-content-sha256` is the hash of the body received.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri, header};
use clap::Parser;
use iamvault::client::authorizer::{Rejection, RequestChecks, sha256_hex};
use iamvault::client::{AuthorizeLayer, Authorized, Authorizer};
use iamvault::service::Check;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

/// An S3-compatible object store whose every request is authorized by the vault.
#[derive(Debug, Parser)]
struct Args {
    /// The vault's endpoint, e.g. `http://127.0.0.1:8900`.
    #[arg(long)]
    vault: String,
    /// The directory holding the buckets (created if missing).
    #[arg(long)]
    root: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Largest object accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    max_object_size: usize,
}

/// An S3 error: status, code, message.
#[derive(Debug)]
struct S3Error {
    status: StatusCode,
    code: String,
    message: String,
}

fn err(status: StatusCode, code: &str, message: impl Into<String>) -> S3Error {
    S3Error {
        status,
        code: code.to_owned(),
        message: message.into(),
    }
}

fn not_implemented(what: &str) -> S3Error {
    err(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        format!("{what} is not implemented by this object store"),
    )
}

fn internal(e: &std::io::Error) -> S3Error {
    tracing::error!(error = %e, "storage failure");
    err(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "We encountered an internal error. Please try again.",
    )
}

/// The parameters of ListObjectsV2.
#[derive(Debug, Default)]
struct ListParams {
    prefix: Option<String>,
    delimiter: Option<String>,
    max_keys: Option<String>,
    continuation_token: Option<String>,
    start_after: Option<String>,
    url_encoding: bool,
}

/// One request, parsed.
#[derive(Debug)]
enum Op {
    CreateBucket(String),
    DeleteBucket(String),
    HeadBucket(String),
    ListObjectsV2(String, ListParams),
    PutObject(String, String),
    GetObject(String, String),
    HeadObject(String, String),
    DeleteObject(String, String),
}

/// The raw query as decoded pairs (`+` is not a space in S3 queries).
fn query_pairs(uri: &Uri) -> Result<Vec<(String, String)>, S3Error> {
    let mut out = Vec::new();
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| {
                    err(
                        StatusCode::BAD_REQUEST,
                        "InvalidArgument",
                        "the query is not UTF-8",
                    )
                })
        };
        out.push((dec(k)?, dec(v)?));
    }
    Ok(out)
}

/// S3's bucket naming rules: 3-63 of `a-z 0-9 . -`, starting and ending with a letter or
/// digit, no `..`. Such a name is always a plain directory name.
fn valid_bucket(b: &str) -> bool {
    let bytes = b.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !b.contains("..")
}

fn valid_key(k: &str) -> Result<(), S3Error> {
    if k.len() > 1024 {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "KeyTooLongError",
            "Your key is too long",
        ));
    }
    if k.starts_with('/') || k.contains('\0') || k.split('/').any(|s| s == ".." || s == ".") {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "object keys may not start with `/`, contain NUL, or have a `.` or `..` segment",
        ));
    }
    Ok(())
}

/// Parses a path-style request. Unknown parameters are refused rather than ignored, so a
/// request is never served as a different operation than the one it was authorized for.
fn parse_op(method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<Op, S3Error> {
    let path = uri.path().strip_prefix('/').unwrap_or(uri.path());
    let (raw_bucket, raw_key) = path.split_once('/').unwrap_or((path, ""));
    if raw_bucket.is_empty() {
        return Err(not_implemented("ListBuckets"));
    }
    let bucket = percent_decode_str(raw_bucket)
        .decode_utf8_lossy()
        .into_owned();
    if !valid_bucket(&bucket) {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "InvalidBucketName",
            "The specified bucket is not valid.",
        ));
    }
    let key = percent_decode_str(raw_key)
        .decode_utf8()
        .map_err(|_| {
            err(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "the key is not UTF-8",
            )
        })?
        .into_owned();
    let params = query_pairs(uri)?;
    let only = |allowed: &[&str]| -> Result<(), S3Error> {
        match params
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()) && k != "x-id")
        {
            Some((k, _)) => Err(not_implemented(&format!(
                "The parameter `{}`",
                k.escape_default()
            ))),
            None => Ok(()),
        }
    };
    if key.is_empty() {
        return match *method {
            Method::GET => {
                if !params.iter().any(|(k, v)| k == "list-type" && v == "2") {
                    only(&[])?;
                    return Err(not_implemented("ListObjects (v1); use ListObjectsV2"));
                }
                only(&[
                    "list-type",
                    "prefix",
                    "delimiter",
                    "max-keys",
                    "continuation-token",
                    "start-after",
                    "encoding-type",
                    "fetch-owner",
                ])?;
                let get = |name: &str| {
                    params
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                };
                Ok(Op::ListObjectsV2(
                    bucket,
                    ListParams {
                        prefix: get("prefix"),
                        delimiter: get("delimiter").filter(|d| !d.is_empty()),
                        max_keys: get("max-keys"),
                        continuation_token: get("continuation-token"),
                        start_after: get("start-after"),
                        url_encoding: get("encoding-type").as_deref() == Some("url"),
                    },
                ))
            }
            Method::PUT => only(&[]).map(|()| Op::CreateBucket(bucket)),
            Method::DELETE => only(&[]).map(|()| Op::DeleteBucket(bucket)),
            Method::HEAD => only(&[]).map(|()| Op::HeadBucket(bucket)),
            _ => Err(not_implemented(&format!("The method {method}"))),
        };
    }
    valid_key(&key)?;
    only(&[])?;
    if headers.contains_key(header::RANGE) {
        return Err(not_implemented("A Range request"));
    }
    match *method {
        Method::PUT if headers.contains_key("x-amz-copy-source") => {
            Err(not_implemented("CopyObject"))
        }
        Method::PUT => Ok(Op::PutObject(bucket, key)),
        Method::GET => Ok(Op::GetObject(bucket, key)),
        Method::HEAD => Ok(Op::HeadObject(bucket, key)),
        Method::DELETE => Ok(Op::DeleteObject(bucket, key)),
        _ => Err(not_implemented(&format!("The method {method}"))),
    }
}

/// What the vault is asked about a request; nothing for a request that does not parse
/// (the layer then refuses it, and [`respond_rejection`] says why).
fn checks_for(parts: &Parts) -> RequestChecks {
    let Ok(op) = parse_op(&parts.method, &parts.uri, &parts.headers) else {
        return RequestChecks::default();
    };
    let check = |action: &str, resource: String| Check {
        action: action.to_owned(),
        resource: format!("arn:aws:s3:::{resource}"),
    };
    let mut context = Map::new();
    let checks = match op {
        Op::CreateBucket(b) => vec![check("s3:CreateBucket", b)],
        Op::DeleteBucket(b) => vec![check("s3:DeleteBucket", b)],
        Op::HeadBucket(b) => vec![check("s3:ListBucket", b)],
        Op::ListObjectsV2(b, p) => {
            for (k, v) in [
                ("s3:prefix", p.prefix),
                ("s3:delimiter", p.delimiter),
                ("s3:max-keys", p.max_keys),
            ] {
                if let Some(v) = v {
                    context.insert(k.to_owned(), Value::String(v));
                }
            }
            vec![check("s3:ListBucket", b)]
        }
        Op::PutObject(b, k) => vec![check("s3:PutObject", format!("{b}/{k}"))],
        Op::GetObject(b, k) | Op::HeadObject(b, k) => {
            vec![check("s3:GetObject", format!("{b}/{k}"))]
        }
        Op::DeleteObject(b, k) => vec![check("s3:DeleteObject", format!("{b}/{k}"))],
    };
    RequestChecks { checks, context }
}

fn request_id() -> String {
    let mut b = [0u8; 8];
    // A request id is not a secret: if the system RNG fails, zeros do.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    hex::encode_upper(b)
}

fn xml_escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// S3's error document (no body for HEAD).
fn error_response(method: &Method, uri: &Uri, e: &S3Error) -> Response<Body> {
    let id = request_id();
    let body = if *method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>{id}</RequestId></Error>",
            xml_escape(&e.code),
            xml_escape(&e.message),
            xml_escape(uri.path()),
        ))
    };
    let mut r = Response::new(body);
    *r.status_mut() = e.status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-amz-request-id", v);
    }
    r
}

/// The layer's answer to a refused request.
fn respond_rejection(parts: &Parts, rejection: Rejection) -> Response<Body> {
    let status = |s: u16| StatusCode::from_u16(s).unwrap_or(StatusCode::FORBIDDEN);
    let e = match &rejection {
        Rejection::Unmapped => match parse_op(&parts.method, &parts.uri, &parts.headers) {
            Err(e) => e,
            Ok(_) => err(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied"),
        },
        Rejection::Vault(v) => {
            tracing::warn!(error = %v, "the vault could not be asked");
            err(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                rejection.message(),
            )
        }
        // An unsigned request cannot say which service it is for, so the vault answers
        // with its generic code; S3 answers anonymous requests with AccessDenied.
        Rejection::Unauthenticated(e) if e.code == "MissingAuthenticationToken" => {
            err(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied")
        }
        Rejection::BodyTooLarge { .. } => err(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            rejection.message(),
        ),
        Rejection::Denied { principal, .. } => {
            tracing::info!(principal = %principal.arn, path = %parts.uri.path(), "denied");
            err(StatusCode::FORBIDDEN, "AccessDenied", rejection.message())
        }
        _ => err(
            status(rejection.status()),
            rejection.code(),
            rejection.message(),
        ),
    };
    error_response(&parts.method, &parts.uri, &e)
}

/// Only `A-Z a-z 0-9 - _ ~ .` stay in a file name; a leading `.` is encoded too.
const NAME: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'~')
    .remove(b'.');

fn file_name(key: &str) -> Result<String, S3Error> {
    let mut name = utf8_percent_encode(key, NAME).to_string();
    if name.starts_with('.') {
        name.replace_range(..1, "%2E");
    }
    if name.len() > 255 {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "KeyTooLongError",
            "Your key is too long for this object store (255 bytes once encoded)",
        ));
    }
    Ok(name)
}

fn key_of(name: &str) -> Option<String> {
    if name.starts_with('.') {
        return None;
    }
    percent_decode_str(name)
        .decode_utf8()
        .ok()
        .map(|k| k.into_owned())
}

/// The encoding of keys in a url-encoded listing (botocore decodes with `unquote_plus`).
const LISTING: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'~')
    .remove(b'.')
    .remove(b'/');

struct Store {
    root: PathBuf,
}

impl Store {
    async fn bucket_dir(&self, bucket: &str) -> Result<PathBuf, S3Error> {
        let dir = self.root.join(bucket);
        match tokio::fs::metadata(&dir).await {
            Ok(m) if m.is_dir() => Ok(dir),
            _ => Err(err(
                StatusCode::NOT_FOUND,
                "NoSuchBucket",
                "The specified bucket does not exist",
            )),
        }
    }
}

fn etag(body: &[u8]) -> String {
    format!("\"{}\"", sha256_hex(body))
}

fn http_date(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(f).unwrap_or_default()
}

fn iso_date(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(f).unwrap_or_default()
}

fn modified(m: &std::fs::Metadata) -> time::OffsetDateTime {
    m.modified()
        .map(time::OffsetDateTime::from)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn ok(status: StatusCode, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        r.headers_mut().insert("x-amz-request-id", v);
    }
    r
}

fn set(r: &mut Response<Body>, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

async fn write_atomically(dir: &Path, name: &str, body: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".tmp-{}", request_id()));
    let result = async {
        let mut f = tokio::fs::File::create(&tmp).await?;
        f.write_all(body).await?;
        f.sync_all().await?;
        drop(f);
        tokio::fs::rename(&tmp, dir.join(name)).await
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

async fn list(store: &Store, bucket: &str, p: ListParams) -> Result<Response<Body>, S3Error> {
    let dir = store.bucket_dir(bucket).await?;
    let max_keys = match p.max_keys.as_deref() {
        None => 1000,
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| {
                err(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "max-keys must be a non-negative integer",
                )
            })?
            .min(1000),
    };
    // The continuation token is the hex of the last key (`k`) or common prefix (`p`) sent.
    let token = match p.continuation_token.as_deref() {
        None => None,
        Some(t) => {
            let bad = || {
                err(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "The continuation token provided is incorrect",
                )
            };
            let raw = String::from_utf8(hex::decode(t).map_err(|_| bad())?).map_err(|_| bad())?;
            let (kind, after) = raw.split_at_checked(1).ok_or_else(bad)?;
            Some((kind == "p", after.to_owned()))
        }
    };
    let prefix = p.prefix.clone().unwrap_or_default();
    let mut entries = tokio::fs::read_dir(&dir).await.map_err(|e| internal(&e))?;
    let mut keys = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(|e| internal(&e))? {
        let Some(key) = entry.file_name().to_str().and_then(key_of) else {
            continue;
        };
        if key.starts_with(&prefix) {
            keys.push((key, entry.path()));
        }
    }
    keys.sort();
    let mut contents = String::new();
    let mut prefixes: BTreeSet<String> = BTreeSet::new();
    let (mut count, mut truncated, mut last) = (0usize, false, None::<(bool, String)>);
    let enc = |s: &str| {
        if p.url_encoding {
            utf8_percent_encode(s, LISTING).to_string()
        } else {
            s.to_owned()
        }
    };
    for (key, path) in keys {
        if p.start_after
            .as_ref()
            .is_some_and(|a| key.as_str() <= a.as_str())
        {
            continue;
        }
        if let Some((is_prefix, after)) = &token
            && (key.as_str() <= after.as_str() || (*is_prefix && key.starts_with(after.as_str())))
        {
            continue;
        }
        let common = p.delimiter.as_deref().and_then(|d| {
            let rest = key.get(prefix.len()..)?;
            rest.find(d)
                .map(|i| format!("{prefix}{}", &rest[..i + d.len()]))
        });
        if let Some(cp) = &common
            && prefixes.contains(cp)
        {
            continue;
        }
        if count == max_keys {
            truncated = max_keys > 0;
            break;
        }
        count += 1;
        match common {
            Some(cp) => {
                last = Some((true, cp.clone()));
                prefixes.insert(cp);
            }
            None => {
                let Ok(body) = tokio::fs::read(&path).await else {
                    continue;
                };
                let meta = tokio::fs::metadata(&path).await.map_err(|e| internal(&e))?;
                contents.push_str(&format!(
                    "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
                    xml_escape(&enc(&key)),
                    iso_date(modified(&meta)),
                    xml_escape(&etag(&body)),
                    body.len()
                ));
                last = Some((false, key));
            }
        }
    }
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{count}</KeyCount><MaxKeys>{max_keys}</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
        xml_escape(bucket),
        xml_escape(&enc(&prefix)),
    );
    if let Some(d) = &p.delimiter {
        xml.push_str(&format!("<Delimiter>{}</Delimiter>", xml_escape(&enc(d))));
    }
    if p.url_encoding {
        xml.push_str("<EncodingType>url</EncodingType>");
    }
    if let Some(t) = &p.continuation_token {
        xml.push_str(&format!(
            "<ContinuationToken>{}</ContinuationToken>",
            xml_escape(t)
        ));
    }
    if let Some(a) = &p.start_after {
        xml.push_str(&format!("<StartAfter>{}</StartAfter>", xml_escape(&enc(a))));
    }
    if truncated && let Some((is_prefix, at)) = last {
        let kind = if is_prefix { "p" } else { "k" };
        xml.push_str(&format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            hex::encode(format!("{kind}{at}"))
        ));
    }
    xml.push_str(&contents);
    for cp in &prefixes {
        xml.push_str(&format!(
            "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
            xml_escape(&enc(cp))
        ));
    }
    xml.push_str("</ListBucketResult>");
    let mut r = ok(StatusCode::OK, Body::from(xml));
    set(&mut r, header::CONTENT_TYPE, "application/xml");
    Ok(r)
}

async fn serve(store: &Store, op: Op, body: Bytes) -> Result<Response<Body>, S3Error> {
    match op {
        Op::CreateBucket(b) => {
            let dir = store.root.join(&b);
            match tokio::fs::create_dir(&dir).await {
                Ok(()) => {
                    let mut r = ok(StatusCode::OK, Body::empty());
                    set(&mut r, header::LOCATION, &format!("/{b}"));
                    Ok(r)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(err(
                    StatusCode::CONFLICT,
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                )),
                Err(e) => Err(internal(&e)),
            }
        }
        Op::DeleteBucket(b) => {
            let dir = store.bucket_dir(&b).await?;
            let mut entries = tokio::fs::read_dir(&dir).await.map_err(|e| internal(&e))?;
            while let Some(e) = entries.next_entry().await.map_err(|e| internal(&e))? {
                if e.file_name().to_str().and_then(key_of).is_some() {
                    return Err(err(
                        StatusCode::CONFLICT,
                        "BucketNotEmpty",
                        "The bucket you tried to delete is not empty",
                    ));
                }
            }
            tokio::fs::remove_dir_all(&dir)
                .await
                .map_err(|e| internal(&e))?;
            Ok(ok(StatusCode::NO_CONTENT, Body::empty()))
        }
        Op::HeadBucket(b) => store
            .bucket_dir(&b)
            .await
            .map(|_| ok(StatusCode::OK, Body::empty())),
        Op::ListObjectsV2(b, p) => list(store, &b, p).await,
        Op::PutObject(b, k) => {
            let dir = store.bucket_dir(&b).await?;
            write_atomically(&dir, &file_name(&k)?, &body)
                .await
                .map_err(|e| internal(&e))?;
            let mut r = ok(StatusCode::OK, Body::empty());
            set(&mut r, header::ETAG, &etag(&body));
            Ok(r)
        }
        Op::GetObject(b, k) => get_object(store, &b, &k, false).await,
        Op::HeadObject(b, k) => get_object(store, &b, &k, true).await,
        Op::DeleteObject(b, k) => {
            let dir = store.bucket_dir(&b).await?;
            match tokio::fs::remove_file(dir.join(file_name(&k)?)).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(internal(&e)),
            }
            Ok(ok(StatusCode::NO_CONTENT, Body::empty()))
        }
    }
}

async fn get_object(
    store: &Store,
    bucket: &str,
    key: &str,
    head: bool,
) -> Result<Response<Body>, S3Error> {
    let dir = store.bucket_dir(bucket).await?;
    let path = dir.join(file_name(key)?);
    let (data, meta) = match tokio::fs::read(&path).await {
        Ok(d) => (
            d,
            tokio::fs::metadata(&path).await.map_err(|e| internal(&e))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(err(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            ));
        }
        Err(e) => return Err(internal(&e)),
    };
    let len = data.len().to_string();
    let tag = etag(&data);
    let mut r = ok(
        StatusCode::OK,
        if head {
            Body::empty()
        } else {
            Body::from(data)
        },
    );
    set(&mut r, header::CONTENT_TYPE, "application/octet-stream");
    set(&mut r, header::CONTENT_LENGTH, &len);
    set(&mut r, header::ETAG, &tag);
    set(&mut r, header::LAST_MODIFIED, &http_date(modified(&meta)));
    set(&mut r, header::ACCEPT_RANGES, "none");
    Ok(r)
}

/// The one handler: every request reaching it was authorized by the layer.
async fn handle(
    State(store): State<Arc<Store>>,
    Extension(who): Extension<Authorized>,
    req: Request,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    // The layer buffered and bounded the body already.
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => {
            let e = err(
                StatusCode::BAD_REQUEST,
                "IncompleteBody",
                "The request body could not be read.",
            );
            return error_response(&parts.method, &parts.uri, &e);
        }
    };
    let result = match parse_op(&parts.method, &parts.uri, &parts.headers) {
        Ok(op) => {
            tracing::debug!(principal = %who.principal.arn, ?op, "authorized");
            serve(&store, op, body).await
        }
        Err(e) => Err(e),
    };
    result.unwrap_or_else(|e| error_response(&parts.method, &parts.uri, &e))
}

async fn run(args: Args) -> Result<(), String> {
    let authorizer = Authorizer::from_env(&args.vault).map_err(|e| e.to_string())?;
    tokio::fs::create_dir_all(&args.root)
        .await
        .map_err(|e| format!("cannot create {}: {e}", args.root.display()))?;
    let store = Arc::new(Store { root: args.root });
    let layer = AuthorizeLayer::new(Arc::new(authorizer), checks_for)
        .max_body_bytes(args.max_object_size)
        .responder(respond_rejection);
    let app = Router::new()
        .fallback(handle)
        .with_state(store)
        .layer(layer);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("objstore listening on http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("objstore: {e}");
            ExitCode::FAILURE
        }
    }
}
