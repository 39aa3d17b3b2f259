//! Signed calls to an iamvault (or AWS) endpoint over the Query protocol, with the same
//! SigV4 code the server verifies with; and the AWS shared credentials file.

pub mod authorizer;
pub mod credentials_file;
pub mod login;
pub mod rotate;
mod xml;

use std::sync::Arc;

use serde_json::Value;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::model::SecretString;
use crate::sigv4::{self, OwnedRequest};

pub use authorizer::{AuthorizeLayer, Authorized, Authorizer};
pub use xml::parse as parse_xml;

/// AWS credentials. No `Debug`: the secret and the token never reach a log.
#[derive(Clone)]
pub struct Credentials {
    /// `AKIA…` or `ASIA…`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: SecretString,
    /// The session token of temporary credentials.
    pub session_token: Option<SecretString>,
}

/// A client of one endpoint.
pub struct Client {
    endpoint: String,
    host: String,
    region: String,
    http: reqwest::blocking::Client,
    clock: Arc<dyn Clock>,
}

/// Maps an AWS error code from a response to the crate's error.
fn remote_error(code: &str, message: String) -> Error {
    match code {
        "NoSuchEntity" => Error::NoSuchEntity(message),
        "EntityAlreadyExists" => Error::EntityAlreadyExists(message),
        "LimitExceeded" => Error::LimitExceeded(message),
        "DeleteConflict" => Error::DeleteConflict(message),
        "ValidationError" => Error::Validation(message),
        "InvalidInput" => Error::InvalidInput(message),
        "MalformedPolicyDocument" => Error::MalformedPolicyDocument(message),
        "AccessDenied" => Error::AccessDenied(message),
        other => Error::Remote(other.to_owned(), message),
    }
}

impl Client {
    /// A client of `endpoint` (for example `http://127.0.0.1:8900`).
    pub fn new(endpoint: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        let url = reqwest::Url::parse(endpoint).map_err(|e| {
            Error::InvalidInput(format!("`{endpoint}` is not a valid endpoint url: {e}"))
        })?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(Error::InvalidInput(format!("`{endpoint}` has no host"))),
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the http client: {e}")))?;
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            host,
            region: "us-east-1".into(),
            http,
            clock,
        })
    }

    /// Calls `action` of `service` (`iam` or `sts`) and returns the `<ActionResult>`
    /// element as JSON (an empty object when the action returns nothing).
    pub fn call(
        &self,
        creds: &Credentials,
        service: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<Value> {
        let version = if service == "sts" {
            "2011-06-15"
        } else {
            "2010-05-08"
        };
        let mut form = form_urlencoded(&[("Action", action), ("Version", version)]);
        if !params.is_empty() {
            form.push('&');
            form.push_str(&form_urlencoded(params));
        }
        let mut req = OwnedRequest::new("POST", "/")
            .with_header("host", &self.host)
            .with_header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .with_body(form.clone().into_bytes());
        sigv4::sign(
            &mut req,
            &creds.access_key_id,
            creds.secret_access_key.expose().as_bytes(),
            creds.session_token.as_ref().map(SecretString::expose),
            &self.region,
            service,
            self.clock.now(),
        )
        .map_err(|e| Error::Internal(format!("cannot sign the request: {e}")))?;
        let mut builder = self.http.post(format!("{}/", self.endpoint)).body(form);
        for (k, v) in &req.headers {
            if k != "host" {
                builder = builder.header(k.as_str(), v.as_str());
            }
        }
        let resp = builder.send().map_err(|e| {
            Error::Remote(
                "RequestFailed".into(),
                format!("cannot reach {}: {e}", self.endpoint),
            )
        })?;
        let status = resp.status();
        let text = resp.text().map_err(|e| {
            Error::Remote(
                "RequestFailed".into(),
                format!("cannot read the response: {e}"),
            )
        })?;
        let doc = xml::parse(&text)?;
        if !status.is_success() {
            let err = doc.get("Error").cloned().unwrap_or(Value::Null);
            let code = err
                .get("Code")
                .and_then(Value::as_str)
                .unwrap_or("UnknownError")
                .to_owned();
            let message = err
                .get("Message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            return Err(remote_error(&code, message));
        }
        Ok(doc
            .get(format!("{action}Result"))
            .cloned()
            .unwrap_or_else(|| Value::Object(serde_json::Map::new())))
    }
}

impl Client {
    /// POSTs a JSON body to a vault-specific endpoint (`/vault/v1/…`), signed with SigV4 for
    /// service `vault`. Returns the JSON answer, or the error it names.
    pub fn vault_json(&self, creds: &Credentials, path: &str, body: &Value) -> Result<Value> {
        let text = body.to_string();
        let mut req = OwnedRequest::new("POST", path)
            .with_header("host", &self.host)
            .with_header("content-type", "application/json")
            .with_body(text.clone().into_bytes());
        sigv4::sign(
            &mut req,
            &creds.access_key_id,
            creds.secret_access_key.expose().as_bytes(),
            creds.session_token.as_ref().map(SecretString::expose),
            &self.region,
            "vault",
            self.clock.now(),
        )
        .map_err(|e| Error::Internal(format!("cannot sign the request: {e}")))?;
        let mut builder = self
            .http
            .post(format!("{}{path}", self.endpoint))
            .body(text);
        for (k, v) in &req.headers {
            if k != "host" {
                builder = builder.header(k.as_str(), v.as_str());
            }
        }
        let resp = builder.send().map_err(|e| {
            Error::Remote(
                "RequestFailed".into(),
                format!("cannot reach {}: {e}", self.endpoint),
            )
        })?;
        let status = resp.status();
        let answer: Value = serde_json::from_str(
            &resp
                .text()
                .map_err(|e| Error::Remote("RequestFailed".into(), e.to_string()))?,
        )
        .map_err(|e| Error::Remote("MalformedResponse".into(), e.to_string()))?;
        if status.is_success() {
            Ok(answer)
        } else {
            let code = answer
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("UnknownError");
            let msg = answer
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            Err(remote_error(code, msg))
        }
    }
}

/// `application/x-www-form-urlencoded` with RFC 3986 unreserved characters kept.
pub fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, SET),
                percent_encoding::utf8_percent_encode(v, SET)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}
