//! Money as integer minor units with an ISO 4217 currency. Never floating point.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The currencies this service accepts, with their minor-unit exponent (ISO 4217).
const SUPPORTED: &[(&str, u8)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("INR", 2),
    ("JPY", 0),
    ("MYR", 2),
    ("SGD", 2),
    ("USD", 2),
];

/// An ISO 4217 alphabetic code from the supported list, always upper case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be a supported ISO 4217 code in upper case (e.g. INR)")]
    UnknownCurrency,
    #[error("currencies differ ({0} vs {1})")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount is out of range")]
    OutOfRange,
}

impl Currency {
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        SUPPORTED
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(c, _)| {
                let b = c.as_bytes();
                Self([b[0], b[1], b[2]])
            })
            .ok_or(MoneyError::UnknownCurrency)
    }

    /// Any ISO 4217-shaped code (three upper-case letters), supported for orders or not: for
    /// amounts a provider reports and data read back from storage.
    pub fn parse_any(code: &str) -> Result<Self, MoneyError> {
        match code.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(MoneyError::UnknownCurrency),
        }
    }

    /// A provider's currency code, in whatever case it spells it (Stripe: `inr`).
    pub fn parse_reported(code: &str) -> Option<Self> {
        Self::parse_any(&code.to_ascii_uppercase()).ok()
    }

    /// Whether orders may be placed in this currency.
    pub fn is_supported(&self) -> bool {
        SUPPORTED.iter().any(|(c, _)| c.as_bytes() == self.0)
    }

    pub fn as_str(&self) -> &str {
        // Built only from ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Lower case, as Stripe's API spells currencies.
    pub fn lowercase(&self) -> String {
        self.as_str().to_ascii_lowercase()
    }

    /// Digits after the decimal point (2 for INR: amounts are in paise).
    pub fn exponent(&self) -> u8 {
        SUPPORTED
            .iter()
            .find(|(c, _)| c.as_bytes() == self.0)
            .map_or(2, |(_, e)| *e)
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    /// Stored data may hold a reported currency outside the order list; client input goes
    /// through [`Currency::parse`] instead.
    fn try_from(s: String) -> Result<Self, MoneyError> {
        Self::parse_any(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Upper bound on any amount: 10^13 minor units (100 billion rupees), far above any real order
/// and far below `i64::MAX`, so sums of a few amounts cannot overflow.
pub const MAX_MINOR: i64 = 10_000_000_000_000;

/// A non-negative amount in minor units of one currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawMoney", into = "RawMoney")]
pub struct Money {
    minor: i64,
    currency: Currency,
}

#[derive(Serialize, Deserialize)]
struct RawMoney {
    minor: i64,
    currency: Currency,
}

impl TryFrom<RawMoney> for Money {
    type Error = MoneyError;
    fn try_from(r: RawMoney) -> Result<Self, MoneyError> {
        Money::new(r.minor, r.currency)
    }
}

impl From<Money> for RawMoney {
    fn from(m: Money) -> Self {
        RawMoney {
            minor: m.minor,
            currency: m.currency,
        }
    }
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if (0..=MAX_MINOR).contains(&minor) {
            Ok(Self { minor, currency })
        } else {
            Err(MoneyError::OutOfRange)
        }
    }

    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        Money::new(self.minor + other.minor, self.currency)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        Money::new(self.minor - other.minor, self.currency)
    }

    pub fn times(self, quantity: u32) -> Result<Money, MoneyError> {
        let minor = self
            .minor
            .checked_mul(i64::from(quantity))
            .ok_or(MoneyError::OutOfRange)?;
        Money::new(minor, self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.minor, self.currency)
    }
}

impl fmt::Display for Money {
    /// `INR 1499.00`: major units with the currency's exponent, for humans (invoices, logs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = u32::from(self.currency.exponent());
        if exp == 0 {
            return write!(f, "{} {}", self.currency, self.minor);
        }
        let div = 10_i64.pow(exp);
        write!(
            f,
            "{} {}.{:0width$}",
            self.currency,
            self.minor / div,
            self.minor % div,
            width = exp as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inr() -> Currency {
        Currency::parse("INR").unwrap()
    }

    #[test]
    fn only_supported_upper_case_codes_are_currencies() {
        assert_eq!(inr().as_str(), "INR");
        assert_eq!(inr().lowercase(), "inr");
        for bad in ["inr", "XYZ", "", "INRR", "IN"] {
            assert_eq!(
                Currency::parse(bad),
                Err(MoneyError::UnknownCurrency),
                "{bad}"
            );
        }
    }

    #[test]
    fn provider_reported_codes_are_accepted_in_any_case_but_not_supported_for_orders() {
        let c = Currency::parse_reported("thb").unwrap();
        assert_eq!(c.as_str(), "THB");
        assert!(!c.is_supported());
        assert!(Currency::parse_reported("inr").unwrap().is_supported());
        assert!(Currency::parse_reported("in").is_none());
        assert!(Currency::parse_reported("i1r").is_none());
    }

    #[test]
    fn money_prints_in_major_units_with_the_currency_exponent() {
        assert_eq!(
            Money::new(149_900, inr()).unwrap().to_string(),
            "INR 1499.00"
        );
        assert_eq!(Money::new(5, inr()).unwrap().to_string(), "INR 0.05");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Money::new(500, jpy).unwrap().to_string(), "JPY 500");
    }

    #[test]
    fn negative_or_huge_amounts_and_mixed_currencies_are_refused() {
        assert_eq!(Money::new(-1, inr()), Err(MoneyError::OutOfRange));
        assert_eq!(
            Money::new(MAX_MINOR + 1, inr()),
            Err(MoneyError::OutOfRange)
        );
        let usd = Currency::parse("USD").unwrap();
        let a = Money::new(1, inr()).unwrap();
        let b = Money::new(1, usd).unwrap();
        assert!(matches!(
            a.checked_add(b),
            Err(MoneyError::CurrencyMismatch(..))
        ));
        assert_eq!(
            a.checked_sub(Money::new(2, inr()).unwrap()),
            Err(MoneyError::OutOfRange)
        );
    }

    #[test]
    fn money_deserialisation_applies_the_same_rules() {
        assert!(serde_json::from_str::<Money>(r#"{"minor":-5,"currency":"INR"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"minor":5,"currency":"inr"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"minor":5,"currency":"INRR"}"#).is_err());
        let m: Money = serde_json::from_str(r#"{"minor":5,"currency":"INR"}"#).unwrap();
        assert_eq!(m.minor(), 5);
    }

    proptest! {
        #[test]
        fn multiplication_is_exact_or_refused(minor in 0..=MAX_MINOR, q in 0u32..=1_000_000) {
            let m = Money::new(minor, inr()).unwrap();
            match m.times(q) {
                Ok(t) => prop_assert_eq!(i128::from(t.minor()), i128::from(minor) * i128::from(q)),
                Err(e) => {
                    prop_assert_eq!(e, MoneyError::OutOfRange);
                    prop_assert!(i128::from(minor) * i128::from(q) > i128::from(MAX_MINOR));
                }
            }
        }
    }
}
