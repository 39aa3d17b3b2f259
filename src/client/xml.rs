//! Reads AWS Query XML responses into JSON: an element with children becomes an object,
//! `member` children become an array, text becomes a string.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Most nesting accepted.
const MAX_DEPTH: usize = 64;

struct Node {
    name: String,
    children: Vec<(String, Value)>,
    text: String,
}

fn finish(n: Node) -> Value {
    if n.children.is_empty() {
        return Value::String(n.text);
    }
    if n.children.iter().all(|(k, _)| k == "member") {
        return Value::Array(n.children.into_iter().map(|(_, v)| v).collect());
    }
    let mut m = Map::new();
    for (k, v) in n.children {
        m.insert(k, v);
    }
    Value::Object(m)
}

/// Parses an XML document; returns the root element's content keyed by its children.
/// The root itself (`…Response` or `ErrorResponse`) is unwrapped.
pub fn parse(text: &str) -> Result<Value> {
    let bad = |e: String| {
        Error::Remote(
            "MalformedResponse".into(),
            format!("the response is not valid xml: {e}"),
        )
    };
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Value> = None;
    loop {
        match reader.read_event().map_err(|e| bad(e.to_string()))? {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(bad("too deeply nested".into()));
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                stack.push(Node {
                    name,
                    children: Vec::new(),
                    text: String::new(),
                });
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if let Some(top) = stack.last_mut() {
                    top.children.push((name, Value::String(String::new())));
                }
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| bad(e.to_string()))?;
                let s = quick_xml::escape::unescape(&s).map_err(|e| bad(e.to_string()))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| bad(e.to_string()))?;
                let entity = format!("&{name};");
                let s = quick_xml::escape::unescape(&entity).map_err(|e| bad(e.to_string()))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or_else(|| bad("unbalanced tags".into()))?;
                let name = node.name.clone();
                let v = finish(node);
                match stack.last_mut() {
                    Some(parent) => parent.children.push((name, v)),
                    None => root = Some(v),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    root.ok_or_else(|| bad("empty document".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::xml as out;
    use serde_json::json;

    #[test]
    fn round_trips_the_servers_xml() {
        let v = json!({"Users": [{"UserName": "a&b"}, {"UserName": "c"}], "IsTruncated": false});
        let x = out::response("ListUsers", out::IAM_NS, Some(&v), "rid");
        let back = parse(&x).unwrap();
        assert_eq!(back["ListUsersResult"]["Users"][0]["UserName"], "a&b");
        assert_eq!(back["ListUsersResult"]["IsTruncated"], "false");
        assert_eq!(back["ResponseMetadata"]["RequestId"], "rid");
        let e = out::error(out::IAM_NS, true, "NoSuchEntity", "gone <x>", "rid");
        assert_eq!(parse(&e).unwrap()["Error"]["Message"], "gone <x>");
        assert!(parse("<a><b></a>").is_err());
        assert!(parse(&"<a>".repeat(100)).is_err());
    }
}
