//! Identifiers and credentials as newtypes: each is built only through `parse`, so a value of
//! the type is always well formed.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(&'static str);

macro_rules! string_newtype {
    ($(#[$m:meta])* $name:ident, $check:expr) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let check: fn(&str) -> Result<(), IdError> = $check;
                check(s)?;
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                let check: fn(&str) -> Result<(), IdError> = $check;
                check(&s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

string_newtype!(
    /// `ord_` followed by a 26-character ULID: unique, and sortable by creation time.
    OrderId,
    |s| {
        let ulid = s.strip_prefix("ord_").ok_or(IdError("must start with ord_"))?;
        if ulid.len() == 26 && ulid.bytes().all(|b| CROCKFORD.contains(&b)) && ulid.as_bytes()[0] <= b'7' {
            Ok(())
        } else {
            Err(IdError("must be ord_ followed by a 26-character ULID"))
        }
    }
);

impl OrderId {
    /// The id for a ULID string produced by an id generator.
    pub fn from_ulid(ulid: &str) -> Result<Self, IdError> {
        Self::parse(&format!("ord_{ulid}"))
    }
}

string_newtype!(
    /// A catalog stock-keeping unit: 1 to 64 of `A-Z a-z 0-9 - _ .`.
    Sku,
    |s| {
        if (1..=64).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            Ok(())
        } else {
            Err(IdError("must be 1 to 64 letters, digits, '-', '_' or '.'"))
        }
    }
);

string_newtype!(
    /// The identity provider's subject (`sub` claim) of a signed-in user.
    UserId,
    |s| {
        if (1..=128).contains(&s.len()) && !s.chars().any(|c| c.is_control() || c == '#') {
            Ok(())
        } else {
            Err(IdError("must be 1 to 128 characters with no control characters or '#'"))
        }
    }
);

string_newtype!(
    /// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
    IdempotencyKey,
    |s| {
        if (1..=255).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(())
        } else {
            Err(IdError("must be 1 to 255 visible ASCII characters"))
        }
    }
);

string_newtype!(
    /// The human-facing order number (`ORD-20261123-7K3F9Q2M`), printed on invoices and emails.
    OrderNumber,
    |s| {
        if (1..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            Ok(())
        } else {
            Err(IdError("must be 1 to 40 letters, digits or '-'"))
        }
    }
);

/// A guest's bearer credential for reading one order (`X-Order-Token`). Only its hash is
/// stored on the order; its `Debug` never prints it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps a token produced by an id generator (`otk_` + random characters).
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// SHA-256 (hex) of an [`AccessToken`]: what the order stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(secret: &str) -> Self {
        Self(hex::encode(Sha256::digest(secret.as_bytes())))
    }

    /// Whether `presented` is the token this hash was made from, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        let candidate = Self::of(presented);
        candidate.0.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_are_ord_prefixed_ulids() {
        assert!(OrderId::parse("ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0").is_ok());
        for bad in [
            "",
            "ord_",
            "01JDQ7Z3K5M8N9P0QRSTVWXYZ0",
            "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ",
            "ord_01JDQ7Z3K5M8N9P0QRSTVWXYZI",
            "ord_81JDQ7Z3K5M8N9P0QRSTVWXYZ0",
            "ord_01jdq7z3k5m8n9p0qrstvwxyz0",
        ] {
            assert!(OrderId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn skus_allow_only_a_safe_alphabet() {
        assert!(Sku::parse("CHAI-250G.v2_x").is_ok());
        for bad in ["", "a b", "x#y", "é", &"a".repeat(65)] {
            assert!(Sku::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_up_to_255() {
        assert!(IdempotencyKey::parse("4f1c-9a").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for bad in ["", "has space", "tab\t", &"k".repeat(256)] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_token_matches_only_its_own_hash_and_never_prints() {
        let t = AccessToken::new("otk_secret".into());
        let h = t.hash();
        assert!(h.matches("otk_secret"));
        assert!(!h.matches("otk_secreT"));
        assert!(!h.matches(""));
        assert!(!format!("{t:?}").contains("secret"));
    }

    #[test]
    fn ids_round_trip_through_serde_and_reject_bad_input() {
        let id: OrderId = serde_json::from_str("\"ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0\"").unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"ord_01JDQ7Z3K5M8N9P0QRSTVWXYZ0\""
        );
        assert!(serde_json::from_str::<Sku>("\"bad sku\"").is_err());
    }
}
