//! The one environment reader every configuration section uses: a value is trimmed, and an
//! empty value counts as unset; every refusal names the variable.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is required{hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// Where variables come from: the process environment, or a list in tests.
pub struct Env<'a> {
    get: Lookup<'a>,
}

impl Env<'static> {
    /// The process environment.
    pub fn process() -> Self {
        Self::from_fn(|k| std::env::var(k).ok())
    }
}

impl<'a> Env<'a> {
    pub fn from_fn(get: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self { get: Box::new(get) }
    }

    /// Exactly these variables (tests, and hosts that pin some values).
    pub fn from_pairs(pairs: &'a [(&'a str, &'a str)]) -> Self {
        Self::from_fn(move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).into())
        })
    }

    /// The trimmed value; empty is unset.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.get)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
        self.var(name).ok_or(ConfigError::Missing { name, hint })
    }

    /// One of `choices` by its name; unset gives `default` (or is refused without one).
    pub fn choice<T: Copy>(
        &self,
        name: &'static str,
        choices: &[(&str, T)],
        default: Option<T>,
    ) -> Result<T, ConfigError> {
        let names = || {
            let n: Vec<String> = choices.iter().map(|(n, _)| format!("'{n}'")).collect();
            n.join(" or ")
        };
        match self.var(name) {
            None => default.ok_or(ConfigError::Missing { name, hint: "" }),
            Some(v) => choices
                .iter()
                .find(|(n, _)| *n == v)
                .map(|(_, t)| *t)
                .ok_or_else(|| ConfigError::Invalid {
                    name,
                    reason: format!("'{v}' is not {}", names()),
                }),
        }
    }

    /// `true` or `false`.
    pub fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        self.choice(name, &[("true", true), ("false", false)], Some(default))
    }

    /// A whole number within `range` (`unit` names what it counts, for the message).
    pub fn number<T>(
        &self,
        name: &'static str,
        default: T,
        range: RangeInclusive<T>,
        unit: &str,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Display + Copy,
    {
        let Some(v) = self.var(name) else {
            return Ok(default);
        };
        v.parse::<T>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| ConfigError::Invalid {
                name,
                reason: format!(
                    "'{v}' is not a whole number of {unit} from {} to {}",
                    range.start(),
                    range.end()
                ),
            })
    }

    /// A comma-separated list, blanks dropped.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.var(name).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_unset_and_every_refusal_names_its_variable() {
        let env = Env::from_pairs(&[("A", "  "), ("N", "12"), ("B", "yes"), ("L", " x, ,y ")]);
        assert_eq!(env.var("A"), None);
        assert_eq!(
            env.number("N", 1u32, 1..=10, "things")
                .unwrap_err()
                .to_string(),
            "N is invalid: '12' is not a whole number of things from 1 to 10"
        );
        assert_eq!(env.number("A", 7u32, 1..=10, "things"), Ok(7));
        assert!(
            env.flag("B", true)
                .unwrap_err()
                .to_string()
                .contains("'true' or 'false'")
        );
        assert_eq!(env.flag("A", true), Ok(true));
        assert_eq!(env.list("L"), Some(vec!["x".to_owned(), "y".to_owned()]));
        assert_eq!(
            env.required("Z", " (why)").unwrap_err().to_string(),
            "Z is required (why)"
        );
    }
}
