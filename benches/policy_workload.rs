//! The benchmark workload, shared by `benches/policy.rs` and `benches/cedar-compare`:
//! one user in 3 groups, 10 attached managed policies of 10 statements each (100 in
//! all), some with conditions and policy variables, plus one explicit deny.

/// Ten policy documents (JSON), ten statements each.
pub fn policies() -> Vec<String> {
    let mut out = Vec::new();
    for p in 0..10 {
        let mut sts = Vec::new();
        for s in 0..10 {
            let st = match s % 5 {
                // Plain allow of one action on a resource prefix.
                0 => format!(
                    r#"{{"Sid":"P{p}S{s}","Effect":"Allow","Action":"svc{p}:Op{s}","Resource":"arn:aws:svc{p}:::res{s}/*"}}"#
                ),
                // A wildcard action.
                1 => format!(
                    r#"{{"Sid":"P{p}S{s}","Effect":"Allow","Action":"svc{p}:List*","Resource":"*"}}"#
                ),
                // A principal-tag condition.
                2 => format!(
                    r#"{{"Sid":"P{p}S{s}","Effect":"Allow","Action":"svc{p}:Op{s}","Resource":"arn:aws:svc{p}:::res{s}/*","Condition":{{"StringEquals":{{"aws:PrincipalTag/team":"platform"}}}}}}"#
                ),
                // A policy variable in the resource.
                3 => format!(
                    r#"{{"Sid":"P{p}S{s}","Effect":"Allow","Action":"svc{p}:Op{s}","Resource":"arn:aws:svc{p}:::home/${{aws:username}}/*"}}"#
                ),
                // A source-address condition.
                _ => format!(
                    r#"{{"Sid":"P{p}S{s}","Effect":"Allow","Action":["svc{p}:Op{s}","svc{p}:Put{s}"],"Resource":"arn:aws:svc{p}:::res{s}/*","Condition":{{"IpAddress":{{"aws:SourceIp":"10.0.0.0/8"}}}}}}"#
                ),
            };
            sts.push(st);
        }
        if p == 9 {
            sts.pop();
            sts.push(
                r#"{"Sid":"DenyDelete","Effect":"Deny","Action":"svc9:Delete*","Resource":"*"}"#
                    .to_owned(),
            );
        }
        out.push(format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            sts.join(",")
        ));
    }
    out
}

/// A request: action, resource, expected decision (`allowed`, `explicitDeny` or
/// `implicitDeny`).
pub struct Req {
    pub action: &'static str,
    pub resource: &'static str,
    pub expect: &'static str,
}

/// The benchmarked requests (user `alice`, tag team=platform, source 10.1.2.3).
pub fn requests() -> Vec<Req> {
    vec![
        Req {
            action: "svc7:Op2",
            resource: "arn:aws:svc7:::res2/report.csv",
            expect: "allowed",
        },
        Req {
            action: "svc3:Op3",
            resource: "arn:aws:svc3:::home/alice/notes",
            expect: "allowed",
        },
        Req {
            action: "svc3:Op3",
            resource: "arn:aws:svc3:::home/bob/notes",
            expect: "implicitDeny",
        },
        Req {
            action: "svc5:ListThings",
            resource: "arn:aws:svc5:::anything",
            expect: "allowed",
        },
        Req {
            action: "svc4:Put4",
            resource: "arn:aws:svc4:::res4/x",
            expect: "allowed",
        },
        Req {
            action: "svc7:Op99",
            resource: "arn:aws:svc7:::res2/report.csv",
            expect: "implicitDeny",
        },
        Req {
            action: "svc9:DeleteAll",
            resource: "arn:aws:svc9:::res1/x",
            expect: "explicitDeny",
        },
    ]
}
