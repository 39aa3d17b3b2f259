//! Account ids, unique ids and access key ids.

use std::fmt;

use crate::error::{Error, Result};

/// The base32 alphabet AWS uses in key ids and unique ids (no 0, 1, 8 or 9).
pub const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn is_base32(c: u8) -> bool {
    c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c)
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    /// Validates a 12-digit account id.
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::Validation(format!(
                "account id `{}` is not 12 digits",
                s.escape_default()
            )))
        }
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The prefixes of AWS unique ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdPrefix {
    /// IAM user.
    User,
    /// IAM group.
    Group,
    /// IAM role.
    Role,
    /// Managed policy.
    Policy,
    /// Instance profile.
    InstanceProfile,
}

impl IdPrefix {
    /// The four-letter prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            IdPrefix::User => "AIDA",
            IdPrefix::Group => "AGPA",
            IdPrefix::Role => "AROA",
            IdPrefix::Policy => "ANPA",
            IdPrefix::InstanceProfile => "AIPA",
        }
    }
}

/// A unique id: a four-letter prefix and 17 base32 characters, 21 in all, like AWS's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UniqueId(String);

impl UniqueId {
    /// Number of random characters after the prefix.
    pub const RANDOM_LEN: usize = 17;

    /// Builds an id from a prefix and random bytes (one character per byte, 5 bits each).
    pub fn from_random(prefix: IdPrefix, random: &[u8; Self::RANDOM_LEN]) -> Self {
        let mut s = String::with_capacity(4 + Self::RANDOM_LEN);
        s.push_str(prefix.as_str());
        s.extend(random.iter().map(|b| base32_char(*b)));
        Self(s)
    }

    /// Validates an id of the expected prefix.
    pub fn parse(prefix: IdPrefix, s: &str) -> Result<Self> {
        let ok = s.len() == 4 + Self::RANDOM_LEN
            && s.starts_with(prefix.as_str())
            && s.bytes().skip(4).all(is_base32);
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::Validation(format!(
                "`{}` is not a valid {} id",
                s.escape_default(),
                prefix.as_str()
            )))
        }
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UniqueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Maps the low five bits of a byte to the AWS base32 alphabet.
pub fn base32_char(b: u8) -> char {
    // `b & 31` is always < 32, the alphabet's length.
    BASE32_ALPHABET
        .get(usize::from(b & 31))
        .map_or('A', |c| char::from(*c))
}

/// An access key id: `AKIA` (long-term) or `ASIA` (temporary) and 16 base32 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccessKeyId(String);

impl AccessKeyId {
    /// Number of random characters after the prefix.
    pub const RANDOM_LEN: usize = 16;

    /// Builds a long-term (`AKIA`) or temporary (`ASIA`) key id from random bytes.
    pub fn from_random(temporary: bool, random: &[u8; Self::RANDOM_LEN]) -> Self {
        let mut s = String::with_capacity(20);
        s.push_str(if temporary { "ASIA" } else { "AKIA" });
        s.extend(random.iter().map(|b| base32_char(*b)));
        Self(s)
    }

    /// Validates an access key id.
    pub fn parse(s: &str) -> Result<Self> {
        let ok = s.len() == 20
            && (s.starts_with("AKIA") || s.starts_with("ASIA"))
            && s.bytes().skip(4).all(is_base32);
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::Validation(format!(
                "`{}` is not a valid access key id",
                s.escape_default()
            )))
        }
    }

    /// A temporary (`ASIA`) id that carries its account, as AWS's newer key ids do: the
    /// 40-bit account number in the first 8 base32 characters, then 8 random ones.
    pub fn temporary_for_account(account: &AccountId, random: &[u8; 8]) -> Self {
        let n: u64 = account.as_str().parse().unwrap_or(0);
        let mut s = String::with_capacity(20);
        s.push_str("ASIA");
        for i in (0..8).rev() {
            // Each character carries 5 bits; `& 31` keeps the index in the alphabet.
            s.push(base32_char(((n >> (i * 5)) & 31) as u8));
        }
        s.extend(random.iter().map(|b| base32_char(*b)));
        Self(s)
    }

    /// The account a temporary id was issued for (see [`Self::temporary_for_account`]).
    pub fn temporary_account(&self) -> Option<AccountId> {
        if !self.is_temporary() {
            return None;
        }
        let mut n: u64 = 0;
        for c in self.0.bytes().skip(4).take(8) {
            let v = BASE32_ALPHABET.iter().position(|a| *a == c)?;
            n = (n << 5) | u64::try_from(v).ok()?;
        }
        AccountId::parse(&format!("{n:012}")).ok()
    }

    /// True for `ASIA` (temporary) ids.
    pub fn is_temporary(&self) -> bool {
        self.0.starts_with("ASIA")
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids() {
        assert!(AccountId::parse("123456789012").is_ok());
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "１２３４５６７８９０１２",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_id_format() {
        let id = AccessKeyId::from_random(
            false,
            &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 25, 26, 31, 32, 255],
        );
        assert_eq!(id.as_str(), "AKIAABCDEFGHIJKZ27A7");
        assert_eq!(id.as_str().len(), 20);
        assert!(AccessKeyId::parse(id.as_str()).is_ok());
        let tmp = AccessKeyId::from_random(true, &[0; 16]);
        assert!(tmp.is_temporary());
        for bad in [
            "AKIA",
            "AKIAABCDEFGHIJKLMNO1",
            "AKIAabcdefghijklmnop",
            "AIDAABCDEFGHIJKLMNOP",
            "AKIAABCDEFGHIJKLMNOPQ",
        ] {
            assert!(AccessKeyId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn temporary_ids_carry_their_account() {
        for a in ["123456789012", "000000000001", "999999999999"] {
            let acct = AccountId::parse(a).unwrap();
            let id = AccessKeyId::temporary_for_account(&acct, &[3; 8]);
            assert_eq!(id.as_str().len(), 20);
            assert!(AccessKeyId::parse(id.as_str()).is_ok());
            assert_eq!(id.temporary_account(), Some(acct));
        }
        assert_eq!(
            AccessKeyId::parse("AKIAABCDEFGHIJKLMNOP")
                .unwrap()
                .temporary_account(),
            None
        );
    }

    #[test]
    fn unique_ids() {
        let id = UniqueId::from_random(IdPrefix::Role, &[7; 17]);
        assert_eq!(id.as_str().len(), 21);
        assert!(id.as_str().starts_with("AROA"));
        assert!(UniqueId::parse(IdPrefix::Role, id.as_str()).is_ok());
        assert!(UniqueId::parse(IdPrefix::User, id.as_str()).is_err());
        for p in [
            IdPrefix::User,
            IdPrefix::Group,
            IdPrefix::Policy,
            IdPrefix::InstanceProfile,
        ] {
            assert_eq!(
                UniqueId::from_random(p, &[0; 17]).as_str().get(..4),
                Some(p.as_str())
            );
        }
    }
}
