//! Condition operators, compiled with pre-parsed typed values, and their evaluation.

use ipnet::IpNet;

use super::PolicyError;
use super::context::{RequestContext, Scalar};
use super::matcher::{ArnPattern, Pattern, PatternOpts};
use super::values;

/// A base condition operator (without `IfExists` or a set qualifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const OPS: &[(&str, Op)] = &[
    ("StringEquals", Op::StringEquals),
    ("StringNotEquals", Op::StringNotEquals),
    ("StringEqualsIgnoreCase", Op::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", Op::StringNotEqualsIgnoreCase),
    ("StringLike", Op::StringLike),
    ("StringNotLike", Op::StringNotLike),
    ("NumericEquals", Op::NumericEquals),
    ("NumericNotEquals", Op::NumericNotEquals),
    ("NumericLessThan", Op::NumericLessThan),
    ("NumericLessThanEquals", Op::NumericLessThanEquals),
    ("NumericGreaterThan", Op::NumericGreaterThan),
    ("NumericGreaterThanEquals", Op::NumericGreaterThanEquals),
    ("DateEquals", Op::DateEquals),
    ("DateNotEquals", Op::DateNotEquals),
    ("DateLessThan", Op::DateLessThan),
    ("DateLessThanEquals", Op::DateLessThanEquals),
    ("DateGreaterThan", Op::DateGreaterThan),
    ("DateGreaterThanEquals", Op::DateGreaterThanEquals),
    ("Bool", Op::Bool),
    ("BinaryEquals", Op::BinaryEquals),
    ("IpAddress", Op::IpAddress),
    ("NotIpAddress", Op::NotIpAddress),
    ("ArnEquals", Op::ArnEquals),
    ("ArnLike", Op::ArnLike),
    ("ArnNotEquals", Op::ArnNotEquals),
    ("ArnNotLike", Op::ArnNotLike),
    ("Null", Op::Null),
];

impl Op {
    /// Negated operators are true when no policy value matches.
    pub(crate) fn negated(self) -> bool {
        matches!(
            self,
            Op::StringNotEquals
                | Op::StringNotEqualsIgnoreCase
                | Op::StringNotLike
                | Op::NumericNotEquals
                | Op::DateNotEquals
                | Op::NotIpAddress
                | Op::ArnNotEquals
                | Op::ArnNotLike
        )
    }
}

/// `ForAnyValue:` / `ForAllValues:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    ForAnyValue,
    ForAllValues,
}

/// A parsed operator name such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operator {
    pub(crate) op: Op,
    pub(crate) set: Option<SetOp>,
    pub(crate) if_exists: bool,
}

/// Parses a condition operator name (case-sensitive, as AWS).
pub(crate) fn parse_operator(name: &str) -> Option<Operator> {
    let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (Some(SetOp::ForAnyValue), r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (Some(SetOp::ForAllValues), r)
    } else {
        (None, name)
    };
    let lookup = |n: &str| OPS.iter().find(|(s, _)| *s == n).map(|(_, op)| *op);
    if let Some(op) = lookup(rest) {
        if op == Op::Null && set.is_some() {
            return None;
        }
        return Some(Operator {
            op,
            set,
            if_exists: false,
        });
    }
    let base = rest.strip_suffix("IfExists")?;
    let op = lookup(base)?;
    if op == Op::Null {
        return None;
    }
    Some(Operator {
        op,
        set,
        if_exists: true,
    })
}

/// Policy values of one condition, pre-parsed for the operator.
#[derive(Debug, Clone)]
enum Values {
    /// String equality / ignore-case (wildcards literal).
    Text(Vec<Pattern>),
    /// `StringLike` / `StringNotLike`.
    Like(Vec<Pattern>),
    Num(Vec<f64>),
    Date(Vec<i128>),
    Bool(Vec<BoolValue>),
    Binary(Vec<(Vec<u8>, Box<str>)>),
    Ip(Vec<IpNet>),
    Arn(Vec<ArnPattern>),
    Null(Vec<bool>),
}

#[derive(Debug, Clone)]
enum BoolValue {
    Lit(bool),
    /// Contains a policy variable, resolved per request.
    Var(Pattern),
}

/// One compiled `operator: { key: values }` entry.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    operator: Operator,
    /// Lowercased key name.
    key: Box<str>,
    values: Values,
}

impl Condition {
    /// Compiles a condition. `raw` are the policy values as text; `variables` is true for
    /// Version 2012-10-17. `describe` names the element in errors.
    pub(crate) fn compile(
        op_name: &str,
        operator: Operator,
        key: &str,
        raw: &[String],
        variables: bool,
    ) -> Result<Condition, PolicyError> {
        let bad = |what: &str, v: &str| {
            PolicyError::malformed(format!(
                "invalid {what} `{v}` for condition key `{key}` under `{op_name}` in `Condition`"
            ))
        };
        let text_opts = PatternOpts {
            wildcards: false,
            variables,
            lowercase: false,
        };
        let values = match operator.op {
            Op::StringEquals
            | Op::StringNotEquals
            | Op::StringEqualsIgnoreCase
            | Op::StringNotEqualsIgnoreCase => {
                Values::Text(raw.iter().map(|v| Pattern::compile(v, text_opts)).collect())
            }
            Op::StringLike | Op::StringNotLike => Values::Like(
                raw.iter()
                    .map(|v| {
                        Pattern::compile(
                            v,
                            PatternOpts {
                                wildcards: true,
                                variables,
                                lowercase: false,
                            },
                        )
                    })
                    .collect(),
            ),
            Op::NumericEquals
            | Op::NumericNotEquals
            | Op::NumericLessThan
            | Op::NumericLessThanEquals
            | Op::NumericGreaterThan
            | Op::NumericGreaterThanEquals => Values::Num(
                raw.iter()
                    .map(|v| values::parse_number(v).ok_or_else(|| bad("number", v)))
                    .collect::<Result<_, _>>()?,
            ),
            Op::DateEquals
            | Op::DateNotEquals
            | Op::DateLessThan
            | Op::DateLessThanEquals
            | Op::DateGreaterThan
            | Op::DateGreaterThanEquals => Values::Date(
                raw.iter()
                    .map(|v| values::parse_date(v).ok_or_else(|| bad("date", v)))
                    .collect::<Result<_, _>>()?,
            ),
            Op::Bool => Values::Bool(
                raw.iter()
                    .map(|v| {
                        let p = Pattern::compile(v, text_opts);
                        if p.has_vars() {
                            Ok(BoolValue::Var(p))
                        } else {
                            values::parse_bool(v)
                                .map(BoolValue::Lit)
                                .ok_or_else(|| bad("boolean", v))
                        }
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Op::BinaryEquals => Values::Binary(
                raw.iter()
                    .map(|v| {
                        values::base64_decode(v)
                            .map(|b| (b, v.clone().into_boxed_str()))
                            .ok_or_else(|| bad("base64 value", v))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Op::IpAddress | Op::NotIpAddress => Values::Ip(
                raw.iter()
                    .map(|v| values::parse_ip_net(v).ok_or_else(|| bad("ip address", v)))
                    .collect::<Result<_, _>>()?,
            ),
            Op::ArnEquals | Op::ArnLike | Op::ArnNotEquals | Op::ArnNotLike => Values::Arn(
                raw.iter()
                    .map(|v| ArnPattern::compile(v, variables))
                    .collect(),
            ),
            Op::Null => Values::Null(
                raw.iter()
                    .map(|v| values::parse_bool(v).ok_or_else(|| bad("null check value", v)))
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Condition {
            operator,
            key: key.to_lowercase().into_boxed_str(),
            values,
        })
    }

    /// Whether some policy value matches one request value, ignoring negation.
    fn any_value_matches(&self, r: &Scalar, ctx: &RequestContext) -> bool {
        match &self.values {
            Values::Text(ps) => match self.operator.op {
                Op::StringEqualsIgnoreCase | Op::StringNotEqualsIgnoreCase => {
                    ps.iter().any(|p| p.equals_ignore_case(r.text(ctx), ctx))
                }
                _ => ps.iter().any(|p| p.equals(r.text(ctx), ctx)),
            },
            Values::Like(ps) => ps.iter().any(|p| p.glob(r.text(ctx), ctx)),
            Values::Num(ns) => {
                let Some(x) = r.num else {
                    return false;
                };
                ns.iter().any(|&p| match self.operator.op {
                    Op::NumericLessThan => x < p,
                    Op::NumericLessThanEquals => x <= p,
                    Op::NumericGreaterThan => x > p,
                    Op::NumericGreaterThanEquals => x >= p,
                    _ => x == p,
                })
            }
            Values::Date(ds) => {
                let Some(x) = r.date else {
                    return false;
                };
                ds.iter().any(|&p| match self.operator.op {
                    Op::DateLessThan => x < p,
                    Op::DateLessThanEquals => x <= p,
                    Op::DateGreaterThan => x > p,
                    Op::DateGreaterThanEquals => x >= p,
                    _ => x == p,
                })
            }
            Values::Bool(bs) => {
                let Some(x) = r.boolean else {
                    return false;
                };
                bs.iter().any(|b| match b {
                    BoolValue::Lit(v) => *v == x,
                    BoolValue::Var(p) => {
                        p.with_resolved(ctx, |s| s.and_then(values::parse_bool) == Some(x))
                    }
                })
            }
            Values::Binary(bs) => bs.iter().any(|(bytes, text)| match &r.bytes {
                Some(rb) => rb == bytes,
                None => r.text(ctx) == &**text,
            }),
            Values::Ip(nets) => {
                let Some(ip) = r.ip else {
                    return false;
                };
                nets.iter().any(|n| n.contains(&ip))
            }
            Values::Arn(ps) => ps.iter().any(|p| p.matches(r.text(ctx), ctx)),
            Values::Null(_) => false,
        }
    }

    /// Evaluates the condition against the request.
    pub(crate) fn eval(&self, ctx: &RequestContext) -> bool {
        let present: &[Scalar] = ctx.lookup(&self.key).map_or(&[], |e| e.values);
        if let Values::Null(wants) = &self.values {
            let is_null = present.is_empty();
            return wants.contains(&is_null);
        }
        let negated = self.operator.op.negated();
        if present.is_empty() {
            if self.operator.if_exists {
                return true;
            }
            return match self.operator.set {
                Some(SetOp::ForAllValues) => true,
                Some(SetOp::ForAnyValue) => false,
                None => negated,
            };
        }
        // Op(r, P): for a negated operator, no policy value matches r (NOR).
        let one = |r: &Scalar| self.any_value_matches(r, ctx) != negated;
        match self.operator.set {
            Some(SetOp::ForAnyValue) => present.iter().any(one),
            Some(SetOp::ForAllValues) => present.iter().all(one),
            None => {
                let any = present.iter().any(|r| self.any_value_matches(r, ctx));
                any != negated
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    use super::*;
    use time::macros::datetime;

    fn cond(op: &str, key: &str, vals: &[&str]) -> Condition {
        let operator = parse_operator(op).unwrap();
        let raw: Vec<String> = vals.iter().map(|s| s.to_string()).collect();
        Condition::compile(op, operator, key, &raw, true).unwrap()
    }

    fn ctx() -> RequestContext {
        RequestContext::builder("s3:GetObject", "*")
            .string("aws:username", "bob")
            .string("s", "Hello")
            .number("n", 10.0)
            .string("nstr", "10.5")
            .current_time(datetime!(2020-06-01 12:00:00 UTC))
            .boolean("aws:SecureTransport", true)
            .string("boolstr", "FALSE")
            .ip("aws:SourceIp", "10.1.2.3".parse().unwrap())
            .ip("ip6", "2001:db8::1".parse().unwrap())
            .binary("bin", b"foobar".to_vec())
            .string("arn", "arn:aws:iam::123456789012:user/bob")
            .strings("aws:TagKeys", ["a", "b"])
            .strings("empty", Vec::<String>::new())
            .build()
    }

    fn t(op: &str, key: &str, vals: &[&str]) -> bool {
        cond(op, key, vals).eval(&ctx())
    }

    #[test]
    fn operator_names() {
        assert!(parse_operator("StringEquals").is_some());
        assert!(
            parse_operator("ForAnyValue:StringLikeIfExists")
                .unwrap()
                .if_exists
        );
        assert!(parse_operator("stringequals").is_none());
        assert!(parse_operator("StringEqual").is_none());
        assert!(parse_operator("NullIfExists").is_none());
        assert!(parse_operator("ForAllValues:Null").is_none());
        assert!(parse_operator("ForSomeValues:StringEquals").is_none());
        assert!(parse_operator("IfExists").is_none());
    }

    #[test]
    fn string_operators() {
        assert!(t("StringEquals", "s", &["Hello"]));
        assert!(!t("StringEquals", "s", &["hello"]));
        assert!(
            t("StringEquals", "S", &["x", "Hello"]),
            "values OR, key case-insensitive"
        );
        assert!(t("StringNotEquals", "s", &["x", "y"]));
        assert!(
            !t("StringNotEquals", "s", &["x", "Hello"]),
            "negated is NOR"
        );
        assert!(t("StringEqualsIgnoreCase", "s", &["hELLO"]));
        assert!(!t("StringNotEqualsIgnoreCase", "s", &["hello"]));
        assert!(t("StringNotEqualsIgnoreCase", "s", &["bye"]));
        assert!(t("StringLike", "s", &["H*o"]));
        assert!(t("StringLike", "s", &["H?llo"]));
        assert!(!t("StringLike", "s", &["h*"]));
        assert!(t("StringNotLike", "s", &["x*", "y*"]));
        assert!(!t("StringNotLike", "s", &["x*", "He*"]));
        assert!(
            !t("StringEquals", "s", &["He*"]),
            "no wildcards in StringEquals"
        );
        // absent key
        assert!(!t("StringEquals", "missing", &["x"]));
        assert!(t("StringNotEquals", "missing", &["x"]));
        assert!(!t("StringLike", "missing", &["*"]));
        assert!(t("StringNotLike", "missing", &["*"]));
        // variables in values
        assert!(t("StringEquals", "aws:username", &["${aws:username}"]));
        assert!(
            !t("StringEquals", "s", &["${aws:userid}"]),
            "missing variable does not match"
        );
        assert!(
            t("StringNotEquals", "s", &["${aws:userid}"]),
            "missing variable: negated matches"
        );
        assert!(t(
            "StringLike",
            "arn",
            &["arn:aws:iam::*:user/${aws:username}"]
        ));
    }

    #[test]
    fn if_exists() {
        assert!(t("StringEqualsIfExists", "missing", &["x"]));
        assert!(t("StringEqualsIfExists", "s", &["Hello"]));
        assert!(!t("StringEqualsIfExists", "s", &["x"]));
        assert!(t("NumericLessThanIfExists", "missing", &["1"]));
        assert!(t("BoolIfExists", "aws:MultiFactorAuthPresent", &["false"]));
        assert!(!t("BoolIfExists", "aws:SecureTransport", &["false"]));
        assert!(t("DateLessThanIfExists", "missing", &["2020-01-01"]));
        assert!(t("IpAddressIfExists", "missing", &["10.0.0.0/8"]));
        assert!(t("ArnLikeIfExists", "missing", &["x"]));
        assert!(t("StringNotEqualsIfExists", "missing", &["x"]));
        assert!(!t("StringNotEqualsIfExists", "s", &["Hello"]));
    }

    #[test]
    fn numeric_operators() {
        assert!(t("NumericEquals", "n", &["10"]));
        assert!(t("NumericEquals", "n", &["10.0"]));
        assert!(t("NumericNotEquals", "n", &["11", "12"]));
        assert!(!t("NumericNotEquals", "n", &["11", "10"]));
        assert!(t("NumericLessThan", "n", &["11"]));
        assert!(!t("NumericLessThan", "n", &["10"]));
        assert!(t("NumericLessThanEquals", "n", &["10"]));
        assert!(t("NumericGreaterThan", "n", &["9.5"]));
        assert!(!t("NumericGreaterThan", "n", &["10"]));
        assert!(t("NumericGreaterThanEquals", "n", &["10"]));
        assert!(
            t("NumericGreaterThan", "nstr", &["10"]),
            "string context value read as number"
        );
        assert!(!t("NumericEquals", "s", &["1"]), "not a number: no match");
        assert!(!t("NumericLessThan", "missing", &["1"]));
        assert!(t("NumericNotEquals", "missing", &["1"]));
        assert!(t("NumericLessThan", "aws:EpochTime", &["1591013000"]));
    }

    #[test]
    fn date_operators() {
        assert!(t(
            "DateEquals",
            "aws:CurrentTime",
            &["2020-06-01T12:00:00Z"]
        ));
        assert!(t("DateEquals", "aws:CurrentTime", &["1591012800"]));
        assert!(t("DateNotEquals", "aws:CurrentTime", &["2020-06-01"]));
        assert!(t("DateLessThan", "aws:CurrentTime", &["2020-06-02"]));
        assert!(!t(
            "DateLessThan",
            "aws:CurrentTime",
            &["2020-06-01T12:00:00Z"]
        ));
        assert!(t(
            "DateLessThanEquals",
            "aws:CurrentTime",
            &["2020-06-01T12:00:00Z"]
        ));
        assert!(t(
            "DateGreaterThan",
            "aws:CurrentTime",
            &["2020-06-01T11:59:59Z"]
        ));
        assert!(t(
            "DateGreaterThanEquals",
            "aws:CurrentTime",
            &["2020-06-01T14:00:00+02:00"]
        ));
        assert!(t("DateGreaterThan", "aws:EpochTime", &["2020-01-01"]));
        assert!(!t("DateGreaterThan", "missing", &["2020-01-01"]));
    }

    #[test]
    fn bool_binary_ip_arn_null() {
        assert!(t("Bool", "aws:SecureTransport", &["true"]));
        assert!(!t("Bool", "aws:SecureTransport", &["false"]));
        assert!(t("Bool", "boolstr", &["false"]));
        assert!(!t("Bool", "aws:MultiFactorAuthPresent", &["false"]));
        assert!(t("BinaryEquals", "bin", &["Zm9vYmFy"]));
        assert!(!t("BinaryEquals", "bin", &["Zm9v"]));
        assert!(t("IpAddress", "aws:SourceIp", &["10.0.0.0/8"]));
        assert!(t("IpAddress", "aws:SourceIp", &["10.1.2.3"]));
        assert!(!t("IpAddress", "aws:SourceIp", &["192.168.0.0/16"]));
        assert!(t(
            "NotIpAddress",
            "aws:SourceIp",
            &["192.168.0.0/16", "172.16.0.0/12"]
        ));
        assert!(!t(
            "NotIpAddress",
            "aws:SourceIp",
            &["192.168.0.0/16", "10.0.0.0/8"]
        ));
        assert!(t("IpAddress", "ip6", &["2001:db8::/32"]));
        assert!(!t("IpAddress", "ip6", &["10.0.0.0/8"]));
        assert!(t("NotIpAddress", "missing", &["10.0.0.0/8"]));
        assert!(t("ArnLike", "arn", &["arn:aws:iam::*:user/*"]));
        assert!(t(
            "ArnEquals",
            "arn",
            &["arn:aws:iam::123456789012:user/bob"]
        ));
        assert!(!t(
            "ArnEquals",
            "arn",
            &["arn:aws:iam::123456789012:user/Bob"]
        ));
        assert!(t("ArnNotLike", "arn", &["arn:aws:iam::*:role/*"]));
        assert!(!t(
            "ArnNotEquals",
            "arn",
            &["arn:aws:iam::123456789012:user/bob"]
        ));
        assert!(t(
            "ArnLike",
            "arn",
            &["arn:aws:iam::123456789012:user/${aws:username}"]
        ));
        assert!(t("Null", "missing", &["true"]));
        assert!(!t("Null", "s", &["true"]));
        assert!(t("Null", "s", &["false"]));
        assert!(!t("Null", "missing", &["false"]));
        assert!(t("Null", "empty", &["true"]));
    }

    #[test]
    fn set_operators() {
        assert!(t("ForAnyValue:StringEquals", "aws:TagKeys", &["b", "z"]));
        assert!(!t("ForAnyValue:StringEquals", "aws:TagKeys", &["z"]));
        assert!(t(
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            &["a", "b", "c"]
        ));
        assert!(!t("ForAllValues:StringEquals", "aws:TagKeys", &["a"]));
        // empty / absent
        assert!(t("ForAllValues:StringEquals", "missing", &["a"]));
        assert!(t("ForAllValues:StringEquals", "empty", &["a"]));
        assert!(!t("ForAnyValue:StringEquals", "missing", &["a"]));
        assert!(!t("ForAnyValue:StringEquals", "empty", &["a"]));
        // negated with set operators
        assert!(t("ForAllValues:StringNotLike", "missing", &["key1*"]));
        assert!(t("ForAllValues:StringNotEquals", "aws:TagKeys", &["x"]));
        assert!(!t("ForAllValues:StringNotEquals", "aws:TagKeys", &["a"]));
        assert!(t("ForAnyValue:StringNotEquals", "aws:TagKeys", &["a"]));
        assert!(!t(
            "ForAnyValue:StringNotEquals",
            "aws:TagKeys",
            &["a", "b"]
        ));
        // plain operator on a multivalued key: any value
        assert!(t("StringEquals", "aws:TagKeys", &["b"]));
        assert!(!t("StringNotEquals", "aws:TagKeys", &["b"]));
        assert!(t("ForAnyValue:StringEqualsIfExists", "missing", &["a"]));
    }

    #[test]
    fn bad_typed_values_are_rejected() {
        for (op, v) in [
            ("NumericEquals", "ten"),
            ("DateEquals", "yesterday"),
            ("Bool", "yes"),
            ("BinaryEquals", "!!"),
            ("IpAddress", "10.0.0.0/99"),
            ("Null", "maybe"),
        ] {
            let operator = parse_operator(op).unwrap();
            let err = Condition::compile(op, operator, "k", &[v.to_string()], true).unwrap_err();
            assert!(err.message().contains(&format!("`{v}`")), "{err}");
            assert!(err.message().contains(op), "{err}");
        }
    }
}
