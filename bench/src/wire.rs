//! Signed requests on the wire: the AWS Query protocol (IAM, STS) and the vault's JSON
//! endpoints, signed with the library's own SigV4 signer.

use std::time::Duration;

use iamvault::clock::{Clock, SystemClock};
use iamvault::sigv4::{self, OwnedRequest};
use serde::{Deserialize, Serialize};

/// A credential: long-term (`token` none) or temporary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Creds {
    pub id: String,
    pub secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Where requests go: `http://host:port` and its `host:port`.
#[derive(Clone, Debug)]
pub struct Target {
    pub base: String,
    pub host: String,
    pub region: String,
}

impl Target {
    pub fn new(endpoint: &str) -> Result<Self, String> {
        let base = endpoint.trim_end_matches('/').to_owned();
        let host = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .ok_or_else(|| format!("endpoint `{endpoint}` must start with http:// or https://"))?
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        Ok(Self {
            base,
            host,
            region: "us-east-1".into(),
        })
    }

    /// True when the endpoint is on 127.0.0.0/8 (the login scenario then spreads its
    /// requests over loopback source addresses).
    pub fn is_loopback_v4(&self) -> bool {
        self.host.starts_with("127.") || self.host.starts_with("localhost")
    }
}

/// A request ready to send: path, headers (without `host`) and body.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn version_of(service: &str) -> &'static str {
    if service == "sts" {
        "2011-06-15"
    } else {
        "2010-05-08"
    }
}

/// A signed Query-protocol POST to `/`.
pub fn query(
    t: &Target,
    c: &Creds,
    service: &str,
    action: &str,
    params: &[(&str, &str)],
) -> Result<Prepared, String> {
    let mut pairs: Vec<(&str, &str)> = vec![("Action", action), ("Version", version_of(service))];
    pairs.extend_from_slice(params);
    let form = iamvault::client::form_urlencoded(&pairs);
    let req = OwnedRequest::new("POST", "/")
        .with_header("host", &t.host)
        .with_header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .with_body(form.into_bytes());
    sign(t, c, service, req)
}

/// A signed JSON POST to one of the vault's endpoints (service `vault`).
pub fn vault_json(t: &Target, c: &Creds, path: &str, body: Vec<u8>) -> Result<Prepared, String> {
    let req = OwnedRequest::new("POST", path)
        .with_header("host", &t.host)
        .with_header("content-type", "application/json")
        .with_body(body);
    sign(t, c, "vault", req)
}

fn sign(t: &Target, c: &Creds, service: &str, mut req: OwnedRequest) -> Result<Prepared, String> {
    sigv4::sign(
        &mut req,
        &c.id,
        c.secret.as_bytes(),
        c.token.as_deref(),
        &t.region,
        service,
        SystemClock.now(),
    )
    .map_err(|e| format!("signing failed: {e}"))?;
    let headers = req
        .headers
        .into_iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
        .collect();
    Ok(Prepared {
        path: req.path,
        headers,
        body: req.body,
    })
}

/// The HTTP client of one load run.
pub fn http_client(local: Option<std::net::IpAddr>) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(60))
        .tcp_nodelay(true);
    if let Some(ip) = local {
        b = b.local_address(ip);
    }
    b.build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Sends `p`; returns the status and the body.
pub async fn send(
    http: &reqwest::Client,
    t: &Target,
    p: Prepared,
) -> Result<(u16, String), String> {
    let mut b = http.post(format!("{}{}", t.base, p.path)).body(p.body);
    for (k, v) in &p.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let resp = b.send().await.map_err(|e| format!("transport: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| format!("transport: {e}"))?;
    Ok((status, text))
}

/// Sends `p` and requires a 2xx answer; returns the body.
pub async fn call(http: &reqwest::Client, t: &Target, p: Prepared) -> Result<String, String> {
    let (status, text) = send(http, t, p).await?;
    if (200..300).contains(&status) {
        Ok(text)
    } else {
        Err(format!("HTTP {status}: {}", short(&text)))
    }
}

/// The first `<tag>text</tag>` of an XML answer, with the five XML entities decoded.
pub fn xml_field(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml.get(start..)?.find(&close)?;
    let raw = xml.get(start..start + len)?;
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// An error body shortened for one line: the AWS `<Code>`/`<Message>` when present.
pub fn short(body: &str) -> String {
    if let (Some(code), msg) = (xml_field(body, "Code"), xml_field(body, "Message")) {
        return format!(
            "{code}: {}",
            msg.unwrap_or_default()
                .chars()
                .take(160)
                .collect::<String>()
        );
    }
    body.chars()
        .take(200)
        .collect::<String>()
        .replace('\n', " ")
}

/// Credentials in an STS answer (`AssumeRole`, `GetSessionToken`).
pub fn session_creds(xml: &str) -> Result<Creds, String> {
    Ok(Creds {
        id: xml_field(xml, "AccessKeyId").ok_or("no AccessKeyId in the answer")?,
        secret: xml_field(xml, "SecretAccessKey").ok_or("no SecretAccessKey in the answer")?,
        token: Some(xml_field(xml, "SessionToken").ok_or("no SessionToken in the answer")?),
    })
}

/// RFC 4648 base32 (no padding needed) to bytes.
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u64, 0u32);
    for ch in s.trim_end_matches('=').bytes() {
        let v = match ch {
            b'A'..=b'Z' => ch - b'A',
            b'a'..=b'z' => ch - b'a',
            b'2'..=b'7' => ch - b'2' + 26,
            _ => return None,
        };
        buf = (buf << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buf >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}
