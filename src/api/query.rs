//! AWS Query protocol parameters: flat `Name=value` pairs, `Name.member.N` lists and
//! `Name.entry.N.key/value` (or `Name.member.N.Key/Value`) maps.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// Most parameters accepted in one request.
pub const MAX_PARAMS: usize = 1_000;

/// The decoded parameters of one request.
#[derive(Debug, Default)]
pub struct Params {
    map: HashMap<String, String>,
}

impl Params {
    /// Builds from decoded pairs. A repeated name is refused: AWS's parameters are
    /// single-valued, and two values would be ambiguous.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self> {
        let mut map = HashMap::with_capacity(pairs.len());
        for (k, v) in pairs {
            if map.contains_key(&k) {
                return Err(Error::InvalidInput(format!(
                    "the parameter `{k}` is given more than once"
                )));
            }
            map.insert(k, v);
        }
        Ok(Self { map })
    }

    /// An optional parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// A required parameter.
    pub fn required(&self, name: &str) -> Result<&str> {
        self.get(name).ok_or_else(|| {
            Error::Validation(format!(
                "1 validation error detected: value null at `{}` failed to satisfy constraint: member must not be null",
                lower_first(name)
            ))
        })
    }

    /// An optional integer.
    pub fn int(&self, name: &str) -> Result<Option<i64>> {
        self.get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    Error::Validation(format!(
                        "value `{v}` at `{}` is not an integer",
                        lower_first(name)
                    ))
                })
            })
            .transpose()
    }

    /// An optional boolean (`true`/`false`).
    pub fn bool(&self, name: &str) -> Result<Option<bool>> {
        self.get(name)
            .map(|v| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(Error::Validation(format!(
                    "value `{v}` at `{}` is not a boolean",
                    lower_first(name)
                ))),
            })
            .transpose()
    }

    /// A list `Name.member.1`, `Name.member.2`, … (stops at the first gap).
    pub fn list(&self, name: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for i in 1..=MAX_PARAMS {
            match self.get(&format!("{name}.member.{i}")) {
                Some(v) => out.push(v),
                None => break,
            }
        }
        out
    }

    /// A list of structures `Name.member.N.Field`: returns, per member, a lookup.
    pub fn structs(&self, name: &str, fields: &[&str]) -> Vec<Vec<Option<&str>>> {
        let mut out = Vec::new();
        for i in 1..=MAX_PARAMS {
            let row: Vec<Option<&str>> = fields
                .iter()
                .map(|f| self.get(&format!("{name}.member.{i}.{f}")))
                .collect();
            if row.iter().all(Option::is_none) {
                break;
            }
            out.push(row);
        }
        out
    }

    /// The names of all parameters (for rejecting unknown ones where that matters).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(
            pairs
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn lists_and_structs() {
        let q = p(&[
            ("TagKeys.member.1", "a"),
            ("TagKeys.member.2", "b"),
            ("TagKeys.member.4", "gap"),
            ("Tags.member.1.Key", "k"),
            ("Tags.member.1.Value", "v"),
        ]);
        assert_eq!(q.list("TagKeys"), vec!["a", "b"]);
        assert_eq!(
            q.structs("Tags", &["Key", "Value"]),
            vec![vec![Some("k"), Some("v")]]
        );
        assert!(q.list("Nope").is_empty());
    }

    #[test]
    fn required_and_typed() {
        let q = p(&[
            ("UserName", "a"),
            ("MaxItems", "x"),
            ("SetAsDefault", "true"),
        ]);
        assert_eq!(q.required("UserName").unwrap(), "a");
        assert_eq!(
            q.required("PolicyArn").unwrap_err().code(),
            "ValidationError"
        );
        assert!(q.int("MaxItems").is_err());
        assert_eq!(q.bool("SetAsDefault").unwrap(), Some(true));
        let dup = Params::from_pairs(vec![("A".into(), "1".into()), ("A".into(), "2".into())]);
        assert!(dup.is_err());
    }
}
