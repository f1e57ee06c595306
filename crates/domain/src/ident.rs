//! Identifiers chosen by people (item ids, SKUs, station names): short, printable, stable.

use std::fmt;

/// A short identifier: 1 to 64 characters of `a-z A-Z 0-9 - _ .`.
///
/// Used for menu item ids, modifier ids, SKUs, station and tax-class names, so
/// they can appear in URLs, MQTT topics and printed tickets without escaping.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Ident(String);

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Ident {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[A-Za-z0-9._-]{1,64}$"))
            .min_length(Some(1))
            .max_length(Some(Self::MAX_LEN))
            .examples([serde_json::json!("harbor-classic-burger")])
            .into()
    }
}
#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Ident {}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentError {
    #[error("identifier is empty")]
    Empty,
    #[error("identifier is longer than 64 characters")]
    TooLong,
    #[error("identifier {0:?} may only contain letters, digits, '-', '_' and '.'")]
    BadChar(String),
}

impl Ident {
    pub const MAX_LEN: usize = 64;

    pub fn parse(s: &str) -> Result<Self, IdentError> {
        if s.is_empty() {
            return Err(IdentError::Empty);
        }
        if s.len() > Self::MAX_LEN {
            return Err(IdentError::TooLong);
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(IdentError::BadChar(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Ident {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ident::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_slugs_and_rejects_the_rest() {
        assert!(Ident::parse("burger-classic_2.0").is_ok());
        assert_eq!(Ident::parse(""), Err(IdentError::Empty));
        assert_eq!(Ident::parse(&"a".repeat(65)), Err(IdentError::TooLong));
        assert!(matches!(Ident::parse("a b"), Err(IdentError::BadChar(_))));
        assert!(matches!(Ident::parse("é"), Err(IdentError::BadChar(_))));
    }
}
