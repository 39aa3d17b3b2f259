//! Patterns: literal text, `*` / `?` wildcards and policy variables, compiled once.
//!
//! Matching is iterative with a single backtrack point (the last `*`), so it runs in
//! O(pattern × text) time with no recursion and no allocation. Variables are resolved
//! from the request context while matching; their values are literal text (a `*` in a
//! value is not a wildcard).

use super::context::RequestContext;

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// `*`: any run of characters, including `/` and `:`.
    Star,
    /// `?`: exactly one character.
    One,
    /// Literal text.
    Lit(Box<str>),
    /// A policy variable `${key}` or `${key, 'default'}`; the key is lowercased.
    Var {
        key: Box<str>,
        default: Option<Box<str>>,
    },
}

/// Options for compiling a pattern.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PatternOpts {
    /// `*` and `?` are wildcards (otherwise literal).
    pub(crate) wildcards: bool,
    /// `${...}` is a policy variable (Version 2012-10-17 only).
    pub(crate) variables: bool,
    /// Lowercase literal text (for case-insensitive action matching).
    pub(crate) lowercase: bool,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    toks: Vec<Tok>,
}

fn push_lit(toks: &mut Vec<Tok>, buf: &mut String) {
    if !buf.is_empty() {
        toks.push(Tok::Lit(std::mem::take(buf).into_boxed_str()));
    }
}

/// Parses the inside of `${...}`: `key` or `key, 'default'`.
fn parse_var(inner: &str) -> Option<Tok> {
    let (key, default) = match inner.split_once(',') {
        Some((k, d)) => {
            let d = d.trim();
            let d = d.strip_prefix('\'')?.strip_suffix('\'')?;
            (k.trim(), Some(d.to_owned().into_boxed_str()))
        }
        None => (inner.trim(), None),
    };
    if key.is_empty() || key.contains(|c: char| c.is_whitespace() || c == '$' || c == '{') {
        return None;
    }
    Some(Tok::Var {
        key: key.to_lowercase().into_boxed_str(),
        default,
    })
}

impl Pattern {
    /// Compiles `src` under `opts`.
    pub(crate) fn compile(src: &str, opts: PatternOpts) -> Pattern {
        let mut toks = Vec::new();
        let mut buf = String::new();
        let mut rest = src;
        while let Some(c) = rest.chars().next() {
            if opts.variables
                && c == '$'
                && rest.starts_with("${")
                && let Some(end) = rest.find('}')
            {
                let inner = rest.get(2..end).unwrap_or("");
                let after = rest.get(end + 1..).unwrap_or("");
                match inner {
                    "*" | "?" | "$" => {
                        buf.push_str(inner);
                        rest = after;
                        continue;
                    }
                    _ => {
                        if let Some(var) = parse_var(inner) {
                            push_lit(&mut toks, &mut buf);
                            toks.push(var);
                            rest = after;
                            continue;
                        }
                    }
                }
            }
            rest = rest.get(c.len_utf8()..).unwrap_or("");
            match c {
                '*' if opts.wildcards => {
                    push_lit(&mut toks, &mut buf);
                    if toks.last() != Some(&Tok::Star) {
                        toks.push(Tok::Star);
                    }
                }
                '?' if opts.wildcards => {
                    push_lit(&mut toks, &mut buf);
                    toks.push(Tok::One);
                }
                _ if opts.lowercase => buf.extend(c.to_lowercase()),
                _ => buf.push(c),
            }
        }
        push_lit(&mut toks, &mut buf);
        Pattern { toks }
    }

    /// Whether the pattern contains policy variables (matching then reads the context).
    pub(crate) fn has_vars(&self) -> bool {
        self.toks.iter().any(|t| matches!(t, Tok::Var { .. }))
    }

    /// The literal text before the first wildcard or variable (empty if none).
    pub(crate) fn as_literal_prefix(&self) -> &str {
        match self.toks.first() {
            Some(Tok::Lit(l)) => l,
            _ => "",
        }
    }

    /// Whether every variable in the pattern has a value (or default) in `ctx`.
    pub(crate) fn resolvable(&self, ctx: &RequestContext) -> bool {
        self.toks.iter().all(|t| match t {
            Tok::Var { key, default } => resolve(ctx, key, default.as_deref()).is_some(),
            _ => true,
        })
    }

    /// Wildcard match of the whole `text` (case-sensitive byte comparison).
    pub(crate) fn glob(&self, text: &str, ctx: &RequestContext) -> bool {
        let toks = self.toks.as_slice();
        let mut pi = 0usize;
        let mut ti = 0usize;
        let mut star: Option<(usize, usize)> = None;
        loop {
            let Some(rest) = text.get(ti..) else {
                return false;
            };
            let advanced = match toks.get(pi) {
                Some(Tok::Star) => {
                    if pi + 1 == toks.len() {
                        return true;
                    }
                    star = Some((pi, ti));
                    pi += 1;
                    true
                }
                Some(Tok::One) => match rest.chars().next() {
                    Some(c) => {
                        ti += c.len_utf8();
                        pi += 1;
                        true
                    }
                    None => false,
                },
                Some(Tok::Lit(lit)) => {
                    if rest.starts_with(&**lit) {
                        ti += lit.len();
                        pi += 1;
                        true
                    } else {
                        false
                    }
                }
                Some(Tok::Var { key, default }) => {
                    let Some(value) = resolve(ctx, key, default.as_deref()) else {
                        return false;
                    };
                    if rest.starts_with(value) {
                        ti += value.len();
                        pi += 1;
                        true
                    } else {
                        false
                    }
                }
                None => {
                    if rest.is_empty() {
                        return true;
                    }
                    false
                }
            };
            if advanced {
                continue;
            }
            let Some((sp, st)) = star else {
                return false;
            };
            let Some(c) = text.get(st..).and_then(|r| r.chars().next()) else {
                return false;
            };
            let next = st + c.len_utf8();
            star = Some((sp, next));
            pi = sp + 1;
            ti = next;
        }
    }

    /// Exact comparison; wildcards are not expected (compile with `wildcards: false`).
    pub(crate) fn equals(&self, text: &str, ctx: &RequestContext) -> bool {
        let mut rest = text;
        for tok in &self.toks {
            let part = match tok {
                Tok::Lit(l) => &**l,
                Tok::Star => "*",
                Tok::One => "?",
                Tok::Var { key, default } => match resolve(ctx, key, default.as_deref()) {
                    Some(v) => v,
                    None => return false,
                },
            };
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    }

    /// Comparison ignoring case (Unicode lowercase, char by char, no allocation).
    pub(crate) fn equals_ignore_case(&self, text: &str, ctx: &RequestContext) -> bool {
        let mut it = text.chars().flat_map(char::to_lowercase);
        for tok in &self.toks {
            let part = match tok {
                Tok::Lit(l) => &**l,
                Tok::Star => "*",
                Tok::One => "?",
                Tok::Var { key, default } => match resolve(ctx, key, default.as_deref()) {
                    Some(v) => v,
                    None => return false,
                },
            };
            for c in part.chars().flat_map(char::to_lowercase) {
                if it.next() != Some(c) {
                    return false;
                }
            }
        }
        it.next().is_none()
    }

    /// The text after resolving variables; for `Bool` values with variables.
    pub(crate) fn with_resolved<R>(
        &self,
        ctx: &RequestContext,
        f: impl FnOnce(Option<&str>) -> R,
    ) -> R {
        match self.toks.as_slice() {
            [] => f(Some("")),
            [Tok::Lit(l)] => f(Some(l)),
            [Tok::Var { key, default }] => f(resolve(ctx, key, default.as_deref())),
            // Mixed text and variables: rare for booleans; build the string.
            toks => {
                let mut s = String::new();
                for t in toks {
                    match t {
                        Tok::Lit(l) => s.push_str(l),
                        Tok::Star => s.push('*'),
                        Tok::One => s.push('?'),
                        Tok::Var { key, default } => match resolve(ctx, key, default.as_deref()) {
                            Some(v) => s.push_str(v),
                            None => return f(None),
                        },
                    }
                }
                f(Some(&s))
            }
        }
    }
}

fn resolve<'c>(ctx: &'c RequestContext, key: &str, default: Option<&'c str>) -> Option<&'c str> {
    ctx.single(key).or(default)
}

/// Splits `src` at the first five colons that are not inside `${...}`.
fn split_arn_src(src: &str, variables: bool) -> Vec<&str> {
    let mut parts = Vec::with_capacity(6);
    let mut start = 0usize;
    let mut in_var = false;
    let bytes = src.as_bytes();
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes.get(i).copied().unwrap_or(0);
        if variables && !in_var && b == b'$' && bytes.get(i + 1) == Some(&b'{') {
            in_var = true;
        } else if in_var && b == b'}' {
            in_var = false;
        } else if !in_var && b == b':' && parts.len() < 5 {
            parts.push(src.get(start..i).unwrap_or(""));
            start = i + 1;
        }
        i += 1;
    }
    parts.push(src.get(start..).unwrap_or(""));
    parts
}

/// An ARN pattern: each colon-separated component is matched on its own
/// (`ArnLike` / `ArnEquals`). A pattern with fewer than six components matches its last
/// component against the rest of the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArnPattern {
    parts: Vec<Pattern>,
}

impl ArnPattern {
    pub(crate) fn compile(src: &str, variables: bool) -> ArnPattern {
        let opts = PatternOpts {
            wildcards: true,
            variables,
            lowercase: false,
        };
        ArnPattern {
            parts: split_arn_src(src, variables)
                .into_iter()
                .map(|p| Pattern::compile(p, opts))
                .collect(),
        }
    }

    pub(crate) fn matches(&self, value: &str, ctx: &RequestContext) -> bool {
        let n = self.parts.len();
        let mut count = 0usize;
        for (pat, comp) in self.parts.iter().zip(value.splitn(n, ':')) {
            if !pat.glob(comp, ctx) {
                return false;
            }
            count += 1;
        }
        count == n
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

    const RES: PatternOpts = PatternOpts {
        wildcards: true,
        variables: true,
        lowercase: false,
    };
    const ACT: PatternOpts = PatternOpts {
        wildcards: true,
        variables: false,
        lowercase: true,
    };
    const EQ: PatternOpts = PatternOpts {
        wildcards: false,
        variables: true,
        lowercase: false,
    };

    fn ctx() -> RequestContext {
        RequestContext::builder("s3:GetObject", "*")
            .string("aws:username", "bob")
            .string("aws:PrincipalTag/team", "red")
            .strings("aws:TagKeys", ["a"])
            .string("star", "a*b")
            .build()
    }

    fn g(p: &str, t: &str) -> bool {
        Pattern::compile(p, RES).glob(t, &ctx())
    }

    #[test]
    fn glob_basics() {
        assert!(g("*", ""));
        assert!(g("*", "anything/at:all"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "ac"));
        assert!(g(
            "arn:aws:s3:::b/*/test/*",
            "arn:aws:s3:::b//test/object.jpg"
        ));
        assert!(g(
            "arn:aws:s3:::b/*/test/*",
            "arn:aws:s3:::b/1///test///object.jpg"
        ));
        assert!(!g(
            "arn:aws:s3:::b/*/test/*",
            "arn:aws:s3:::b/test/object.jpg"
        ));
        assert!(g("arn:aws:iam::*:user/*", "arn:aws:iam::123:user/path/bob"));
        assert!(!g("arn:aws:iam::123:user/Bob", "arn:aws:iam::123:user/bob"));
        assert!(g("a*b*c", "aXbYbZc"));
        assert!(!g("a*b*c", "aXbYbZ"));
        assert!(g("é?", "éü"));
        assert!(g("", ""));
        assert!(!g("", "x"));
    }

    #[test]
    fn glob_is_not_exponential() {
        let text = "a".repeat(5000);
        let pat = format!("{}b", "a*".repeat(200));
        assert!(!g(&pat, &text));
    }

    #[test]
    fn actions_are_case_insensitive() {
        let p = Pattern::compile("IAM:*AccessKey*", ACT);
        assert!(p.glob("iam:listaccesskeys", &ctx()));
        assert!(!p.glob("iam:listusers", &ctx()));
    }

    #[test]
    fn variables_and_defaults() {
        assert!(g(
            "arn:aws:s3:::home/${aws:username}/*",
            "arn:aws:s3:::home/bob/x"
        ));
        assert!(g("home/${AWS:UserName}", "home/bob"));
        assert!(!g("home/${aws:username}", "home/alice"));
        assert!(g("t/${aws:principaltag/team}", "t/red"));
        assert!(g("t/${aws:PrincipalTag/dept, 'none'}", "t/none"));
        assert!(g("t/${aws:PrincipalTag/team, 'none'}", "t/red"));
        // missing value and no default: matches nothing, even with wildcards around
        assert!(!g("*${aws:userid}*", "anything"));
        // multivalued keys are not variables
        assert!(!g("${aws:TagKeys}", "a"));
        // a value containing `*` is literal
        assert!(g("${star}", "a*b"));
        assert!(!g("${star}", "aXb"));
    }

    #[test]
    fn escapes_are_literal() {
        assert!(g("a${*}b", "a*b"));
        assert!(!g("a${*}b", "aXb"));
        assert!(g("a${?}b", "a?b"));
        assert!(!g("a${?}b", "aXb"));
        assert!(g("a${$}b", "a$b"));
        // malformed variable syntax is literal text
        assert!(g("a${b", "a${b"));
        assert!(g("${ }", "${ }"));
    }

    #[test]
    fn variables_off_is_literal() {
        let p = Pattern::compile(
            "home/${aws:username}",
            PatternOpts {
                wildcards: true,
                variables: false,
                lowercase: false,
            },
        );
        assert!(p.glob("home/${aws:username}", &ctx()));
        assert!(!p.glob("home/bob", &ctx()));
    }

    #[test]
    fn equality() {
        let c = ctx();
        assert!(Pattern::compile("a*b", EQ).equals("a*b", &c));
        assert!(!Pattern::compile("a*b", EQ).equals("aXb", &c));
        assert!(Pattern::compile("u-${aws:username}", EQ).equals("u-bob", &c));
        assert!(Pattern::compile("U-${aws:username}", EQ).equals_ignore_case("u-BOB", &c));
        assert!(!Pattern::compile("U-${aws:username}", EQ).equals_ignore_case("u-BOBx", &c));
        assert!(!Pattern::compile("${nope}", EQ).equals("", &c));
        assert!(Pattern::compile("ÄÖ", EQ).equals_ignore_case("äö", &c));
    }

    #[test]
    fn arn_components() {
        let c = ctx();
        let p = ArnPattern::compile("arn:aws:someservice:*:111122223333:finance/*", true);
        let v = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
        assert!(!p.matches(v, &c));
        assert!(Pattern::compile("arn:aws:someservice:*:111122223333:finance/*", RES).glob(v, &c));
        assert!(p.matches("arn:aws:someservice:us-east-2:111122223333:finance/a:b", &c));
        let p = ArnPattern::compile("arn:aws:iam::123:user/${aws:username}", true);
        assert!(p.matches("arn:aws:iam::123:user/bob", &c));
        assert!(!p.matches("arn:aws:iam::123:user/alice", &c));
        assert!(ArnPattern::compile("*", true).matches("arn:aws:iam::1:root", &c));
        assert!(!ArnPattern::compile("arn:aws:iam::1:root", true).matches("arn:aws:iam", &c));
    }
}
