//! Printing results: one JSON document, or a table for people.

use serde_json::Value;

use super::Format;

/// A command's result.
pub struct Output {
    /// The JSON document (AWS-shaped for API results).
    pub json: Value,
    /// A one-line confirmation for people, for commands that return nothing else.
    pub note: Option<String>,
    /// The exit code: 0, or 2 for a simulated denial.
    pub exit: i32,
    /// `json` is an array printed as JSON lines (one compact object per line) with
    /// `--output json`, for log shippers and `jq`.
    pub lines: bool,
}

impl Output {
    /// A result document.
    pub fn doc(json: Value) -> Self {
        Self {
            json,
            note: None,
            exit: 0,
            lines: false,
        }
    }

    /// A command with nothing to return but a confirmation.
    pub fn done(note: impl Into<String>) -> Self {
        Self {
            json: Value::Object(serde_json::Map::new()),
            note: Some(note.into()),
            exit: 0,
            lines: false,
        }
    }

    /// Records printed as JSON lines with `--output json`, as a table otherwise.
    pub fn lines(rows: Vec<Value>) -> Self {
        Self {
            json: Value::Array(rows),
            note: None,
            exit: 0,
            lines: true,
        }
    }

    /// Prints to stdout in `format`.
    pub fn print(&self, format: Format) {
        match format {
            Format::Json if self.lines => {
                if let Value::Array(rows) = &self.json {
                    for r in rows {
                        println!("{r}");
                    }
                }
            }
            Format::Json => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&self.json).unwrap_or_else(|_| "{}".into())
                );
            }
            Format::Table => {
                if let Some(n) = &self.note {
                    println!("{n}");
                } else {
                    print!("{}", render(&self.json));
                }
            }
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(a) => a.iter().map(scalar).collect::<Vec<_>>().join(", "),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{k}={}", scalar(v)))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

fn table(rows: &[Value]) -> String {
    let mut cols: Vec<String> = Vec::new();
    for r in rows {
        if let Value::Object(o) = r {
            for k in o.keys() {
                if !cols.contains(k)
                    && !matches!(o.get(k), Some(Value::Array(_) | Value::Object(_)))
                {
                    cols.push(k.clone());
                }
            }
        }
    }
    if cols.is_empty() {
        return rows.iter().map(|r| format!("{}\n", scalar(r))).collect();
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| r.get(c).map(scalar).unwrap_or_default())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |vals: &mut dyn Iterator<Item = &String>| -> String {
        let mut s = vals
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(&mut cols.iter());
    for r in &cells {
        out.push_str(&line(&mut r.iter()));
    }
    out
}

/// Renders a JSON document for people: lists become tables, objects become `key: value`.
pub fn render(v: &Value) -> String {
    match v {
        Value::Object(o) => {
            let mut out = String::new();
            for (k, v) in o {
                match v {
                    Value::Array(a) if a.iter().all(Value::is_object) && !a.is_empty() => {
                        out.push_str(&format!("{k}:\n{}", table(a)));
                    }
                    Value::Object(_) => {
                        out.push_str(&format!("{k}:\n"));
                        for l in render(v).lines() {
                            out.push_str(&format!("  {l}\n"));
                        }
                    }
                    _ => out.push_str(&format!("{k}: {}\n", scalar(v))),
                }
            }
            out
        }
        Value::Array(a) => table(a),
        other => format!("{}\n", scalar(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_lists_as_tables() {
        let v = json!({"Users": [{"UserName": "alice", "Path": "/"}, {"UserName": "bob", "Path": "/eng/"}]});
        let s = render(&v);
        assert!(
            s.starts_with("Users:\nUserName  Path\nalice     /\nbob       /eng/\n"),
            "{s}"
        );
    }

    #[test]
    fn renders_objects_as_pairs() {
        let v = json!({"User": {"UserName": "alice", "Tags": [{"Key": "a", "Value": "b"}]}});
        let s = render(&v);
        assert!(s.contains("User:\n  UserName: alice\n"), "{s}");
    }
}
