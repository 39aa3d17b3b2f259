//! The bundled list of common passwords, for the `RejectCommonPasswords` policy setting:
//! the 20,000 most frequent entries of the `passwords` list in zxcvbn 4.5.0 (PyPI package
//! `zxcvbn`, `zxcvbn/frequency_lists.py`, MIT licence; the header of
//! `common-passwords.txt` carries the notice). Loaded once, lazily, into a hash set;
//! compared case-insensitively (the list is lowercase).

use std::collections::HashSet;
use std::sync::OnceLock;

const LIST: &str = include_str!("common-passwords.txt");

fn set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        // The header is the leading block of `#` lines; after it every line is a password.
        LIST.lines()
            .skip_while(|l| l.starts_with('#'))
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty())
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
        assert!(is_common("QWERTY123"));
        assert!(!is_common("correct-Horse-battery-staple-9"));
        assert!(!is_common(""));
        assert!(!is_common("# MIT License"), "the header is not a password");
    }
}
