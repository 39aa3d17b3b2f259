//! XML bodies of the AWS Query protocol, written with quick-xml.

use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use serde_json::Value;

/// IAM's XML namespace.
pub const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// STS's XML namespace.
pub const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Fields that AWS returns URL-encoded (policy documents); botocore decodes them.
const URL_ENCODED: &[&str] = &["AssumeRolePolicyDocument", "PolicyDocument", "Document"];

/// Fields that are maps in AWS's shapes.
const MAPS: &[&str] = &["SummaryMap"];

fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

type W = Writer<Vec<u8>>;

fn text(w: &mut W, s: &str) {
    let _ = w.write_event(Event::Text(BytesText::new(s)));
}

fn open(w: &mut W, name: &str) {
    let _ = w.write_event(Event::Start(BytesStart::new(name)));
}

fn close(w: &mut W, name: &str) {
    let _ = w.write_event(Event::End(BytesEnd::new(name)));
}

fn value(w: &mut W, name: &str, v: &Value) {
    match v {
        Value::Null => {}
        Value::Array(items) => {
            open(w, name);
            // Maps are lists of `<entry><key/><value/></entry>`; everything else `<member>`.
            let item = if MAPS.contains(&name) {
                "entry"
            } else {
                "member"
            };
            for it in items {
                value(w, item, it);
            }
            close(w, name);
        }
        Value::Object(map) => {
            open(w, name);
            for (k, v) in map {
                value(w, k, v);
            }
            close(w, name);
        }
        Value::String(s) => {
            open(w, name);
            if URL_ENCODED.contains(&name) {
                text(w, &url_encode(s));
            } else {
                text(w, s);
            }
            close(w, name);
        }
        Value::Bool(b) => {
            open(w, name);
            text(w, if *b { "true" } else { "false" });
            close(w, name);
        }
        Value::Number(n) => {
            open(w, name);
            text(w, &n.to_string());
            close(w, name);
        }
    }
}

/// `<ActionResponse xmlns=NS><ActionResult>…</ActionResult><ResponseMetadata>…`.
/// `result` is an object whose fields become the result's children; `None` gives an
/// action without a result element (such as DeleteUser).
pub fn response(action: &str, ns: &str, result: Option<&Value>, request_id: &str) -> String {
    let mut w = Writer::new(Vec::new());
    let _ = w.write_event(Event::Decl(quick_xml::events::BytesDecl::new(
        "1.0",
        Some("UTF-8"),
        None,
    )));
    let root = format!("{action}Response");
    let mut start = BytesStart::new(root.as_str());
    start.push_attribute(("xmlns", ns));
    let _ = w.write_event(Event::Start(start));
    if let Some(Value::Object(map)) = result {
        let res = format!("{action}Result");
        open(&mut w, &res);
        for (k, v) in map {
            value(&mut w, k, v);
        }
        close(&mut w, &res);
    }
    open(&mut w, "ResponseMetadata");
    open(&mut w, "RequestId");
    text(&mut w, request_id);
    close(&mut w, "RequestId");
    close(&mut w, "ResponseMetadata");
    close(&mut w, &root);
    String::from_utf8(w.into_inner()).unwrap_or_default()
}

/// AWS's Query error body.
pub fn error(ns: &str, sender: bool, code: &str, message: &str, request_id: &str) -> String {
    let mut w = Writer::new(Vec::new());
    let _ = w.write_event(Event::Decl(quick_xml::events::BytesDecl::new(
        "1.0",
        Some("UTF-8"),
        None,
    )));
    let mut start = BytesStart::new("ErrorResponse");
    start.push_attribute(("xmlns", ns));
    let _ = w.write_event(Event::Start(start));
    open(&mut w, "Error");
    for (k, v) in [
        ("Type", if sender { "Sender" } else { "Receiver" }),
        ("Code", code),
        ("Message", message),
    ] {
        open(&mut w, k);
        text(&mut w, v);
        close(&mut w, k);
    }
    close(&mut w, "Error");
    open(&mut w, "RequestId");
    text(&mut w, request_id);
    close(&mut w, "RequestId");
    close(&mut w, "ErrorResponse");
    String::from_utf8(w.into_inner()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes() {
        let r = json!({"Users": [{"UserName": "a&b", "Tags": [{"Key": "k", "Value": "v"}]}], "IsTruncated": false});
        let x = response("ListUsers", IAM_NS, Some(&r), "rid");
        assert!(
            x.contains(r#"<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">"#),
            "{x}"
        );
        assert!(x.contains("<ListUsersResult><Users><member><UserName>a&amp;b</UserName><Tags><member><Key>k</Key><Value>v</Value></member></Tags></member></Users><IsTruncated>false</IsTruncated></ListUsersResult>"), "{x}");
        assert!(x.contains("<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata>"));
        let none = response("DeleteUser", IAM_NS, None, "rid");
        assert!(!none.contains("DeleteUserResult"));
    }

    #[test]
    fn documents_are_url_encoded() {
        let r = json!({"Role": {"AssumeRolePolicyDocument": "{\"a\": 1}"}});
        let x = response("GetRole", IAM_NS, Some(&r), "rid");
        assert!(
            x.contains("<AssumeRolePolicyDocument>%7B%22a%22%3A%201%7D</AssumeRolePolicyDocument>"),
            "{x}"
        );
    }

    #[test]
    fn errors() {
        let x = error(
            IAM_NS,
            true,
            "NoSuchEntity",
            "The user with name <x> cannot be found.",
            "rid",
        );
        assert!(x.contains("<Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The user with name &lt;x&gt; cannot be found.</Message></Error><RequestId>rid</RequestId>"), "{x}");
    }
}
