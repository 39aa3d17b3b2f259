//! The bundled list of common passwords (see the header of `common-passwords.txt` for
//! its source and licence), for the `RejectCommonPasswords` policy setting.

use std::collections::HashSet;
use std::sync::OnceLock;

const LIST: &str = include_str!("common-passwords.txt");

fn set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        LIST.lines()
            .filter(|l| !l.starts_with("# ") && *l != "#" && !l.is_empty())
            .collect()
    })
}

/// Whether `password` is on the list, compared case-insensitively.
pub fn is_common(password: &str) -> bool {
    set().contains(password.to_lowercase().as_str())
}

/// How many passwords the list holds.
pub fn len() -> usize {
    set().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_big_and_works() {
        assert!(len() >= 10_000, "{}", len());
        assert!(is_common("password"));
        assert!(is_common("PassWord"));
        assert!(is_common("123456"));
        assert!(!is_common("correct-Horse-battery-staple-9"));
    }
}
