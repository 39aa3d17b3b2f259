//! Secret types: no `Debug`, no `Display`, zeroized on drop, compared in constant time.

use zeroize::{Zeroize, Zeroizing};

/// Compares two byte strings in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// A secret string (a secret access key, a password). It deliberately implements neither
/// `Debug` nor `Display`; read it with [`SecretString::expose`] at the one place it is used.
#[derive(Clone)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps `s`; the value is wiped from memory when dropped.
    pub fn new(s: String) -> Self {
        Self(Zeroizing::new(s))
    }

    /// The secret text. Callers must not log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}
impl Eq for SecretString {}

/// Secret bytes (key material, seeds). No `Debug`, zeroized on drop.
#[derive(Clone)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps `v`; the bytes are wiped from memory when dropped.
    pub fn new(v: Vec<u8>) -> Self {
        Self(Zeroizing::new(v))
    }

    /// The secret bytes. Callers must not log or format them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}
impl Eq for SecretBytes {}

impl Zeroize for SecretBytes {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
        assert!(ct_eq(b"", b""));
        assert!(SecretString::new("x".into()) == SecretString::new("x".into()));
        assert!(SecretBytes::new(vec![1]) != SecretBytes::new(vec![2]));
    }

    // Autoref specialisation: `is_debug` resolves to the `HasDebug` impl only when the
    // concrete type implements `Debug`. Adding `#[derive(Debug)]` to a secret type turns
    // this test red.
    struct Probe<T>(std::marker::PhantomData<T>);
    trait HasDebug {
        fn is_debug(&self) -> bool {
            true
        }
    }
    impl<T: std::fmt::Debug> HasDebug for Probe<T> {}
    trait LacksDebug {
        fn is_debug(&self) -> bool {
            false
        }
    }
    impl<T> LacksDebug for &Probe<T> {}

    #[test]
    fn secret_types_have_no_debug() {
        assert!(Probe::<String>(std::marker::PhantomData).is_debug());
        assert!(!(&Probe::<SecretString>(std::marker::PhantomData)).is_debug());
        assert!(!(&Probe::<SecretBytes>(std::marker::PhantomData)).is_debug());
    }
}
