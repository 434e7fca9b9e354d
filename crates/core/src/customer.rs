//! Who buys and where it goes: email, phone, customer and shipping address.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::validation::bounded_text;

/// An email address, trimmed, checked for a plausible `local@domain.tld` shape. Deliverability
/// is the provider's business; this only keeps obvious garbage out.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ContactError(&'static str);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ContactError> {
        let s = raw.trim();
        const BAD: ContactError = ContactError("must be an email address like name@example.com");
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(BAD);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(BAD)?;
        let labels_ok = domain.split('.').count() >= 2
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local.is_empty() || local.len() > 64 || local.contains('@') || !labels_ok {
            return Err(BAD);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = ContactError;
    fn try_from(s: String) -> Result<Self, ContactError> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data: enough to recognise in a test failure, not a full address in logs.
        let (local, domain) = self.0.rsplit_once('@').unwrap_or(("", ""));
        write!(
            f,
            "Email({}…@{})",
            local.chars().next().unwrap_or('?'),
            domain
        )
    }
}

/// A phone number: an optional `+`, then 6 to 15 digits, spaces and dashes allowed between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, ContactError> {
        let s = raw.trim();
        let body = s.strip_prefix('+').unwrap_or(s);
        let digits = body.chars().filter(char::is_ascii_digit).count();
        if (6..=15).contains(&digits)
            && body
                .chars()
                .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
            && body.starts_with(|c: char| c.is_ascii_digit())
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(ContactError(
                "must be a phone number: optional '+' then 6 to 15 digits",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = ContactError;
    fn try_from(s: String) -> Result<Self, ContactError> {
        Self::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

/// ISO 3166-1 alpha-2 country code, upper case (`IN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn parse(s: &str) -> Result<Self, ContactError> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(Self([*a, *b])),
            _ => Err(ContactError(
                "must be an ISO 3166-1 alpha-2 code in upper case (e.g. IN)",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XX")
    }
}

impl TryFrom<String> for CountryCode {
    type Error = ContactError;
    fn try_from(s: String) -> Result<Self, ContactError> {
        Self::parse(&s)
    }
}

impl From<CountryCode> for String {
    fn from(c: CountryCode) -> String {
        c.as_str().to_owned()
    }
}

/// Maximum length of names and address lines, in characters.
pub const MAX_TEXT: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub email: Email,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippingAddress {
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: CountryCode,
}

/// Checks a free-text field (name, address line) the way every such field is checked.
pub fn text_field(value: &str) -> Result<String, String> {
    bounded_text(value, MAX_TEXT)
}

/// Checks a postal code: 2 to 12 letters, digits, spaces or dashes.
pub fn postal_code(value: &str) -> Result<String, String> {
    let s = value.trim();
    if (2..=12).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
    {
        Ok(s.to_owned())
    } else {
        Err("must be 2 to 12 letters, digits, spaces or dashes".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_emails_parse_and_are_trimmed() {
        assert_eq!(
            Email::parse(" asha@example.in ").unwrap().as_str(),
            "asha@example.in"
        );
        assert!(Email::parse("a.b+tag@mail.example.co.uk").is_ok());
    }

    #[test]
    fn implausible_emails_are_rejected() {
        for bad in [
            "",
            "asha",
            "asha@",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@@example.com",
            "a@-x.com",
            "a@x..com",
            &format!("{}@example.com", "a".repeat(65)),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_email_debug_print_hides_the_address() {
        let e = Email::parse("asha.rao@example.in").unwrap();
        assert!(!format!("{e:?}").contains("asha.rao"));
    }

    #[test]
    fn phones_need_six_to_fifteen_digits() {
        assert!(Phone::parse("+91 98765-43210").is_ok());
        for bad in [
            "",
            "+",
            "12345",
            "+91 98765 43210 99999",
            "call me",
            "+-123456",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn country_codes_are_two_upper_case_letters() {
        assert_eq!(CountryCode::parse("IN").unwrap().as_str(), "IN");
        for bad in ["in", "IND", "", "I1"] {
            assert!(CountryCode::parse(bad).is_err());
        }
    }

    #[test]
    fn text_fields_are_trimmed_bounded_and_printable() {
        assert_eq!(text_field("  Asha ").unwrap(), "Asha");
        assert!(text_field("   ").is_err());
        assert!(text_field(&"x".repeat(201)).is_err());
        assert!(text_field("a\u{0}b").is_err());
        assert!(postal_code("560001").is_ok());
        assert!(postal_code("5").is_err());
    }
}
