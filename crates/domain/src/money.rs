//! Money in integer minor units, tax rates and the one rounding rule we use.
//!
//! Amounts are `i64` minor units (cents) of one currency; there are no floats
//! anywhere in pricing. Tax is computed **per order line** and rounded
//! **half away from zero** to the minor unit; an order's tax is the sum of its
//! line taxes, so a receipt's lines always add up to its total.

use std::fmt;

/// An ISO 4217 currency code with its number of minor digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", schema(value_type = String, example = "USD", pattern = "^[A-Z]{3}$"))]
pub struct Currency([u8; 3]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency must be three upper-case letters, got {0:?}")]
    BadCurrency(String),
    #[error("amount overflows")]
    Overflow,
    #[error("currencies differ: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("tax rate must be between 0 and 100%, got {0} basis points")]
    BadRate(u32),
}

impl Currency {
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let b = code.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_uppercase) {
            Ok(Self([b[0], b[1], b[2]]))
        } else {
            Err(MoneyError::BadCurrency(code.to_owned()))
        }
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Digits after the decimal point (ISO 4217); 2 unless listed.
    pub fn minor_digits(&self) -> u32 {
        match self.code() {
            "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "HUF" | "TWD" => 0,
            "BHD" | "KWD" | "OMR" | "JOD" | "TND" => 3,
            _ => 2,
        }
    }

    /// The ISO 4217 numeric code (card terminals speak it), for the currencies we know.
    pub fn numeric(&self) -> Option<u16> {
        Some(match self.code() {
            "USD" => 840,
            "EUR" => 978,
            "GBP" => 826,
            "CHF" => 756,
            "CAD" => 124,
            "AUD" => 36,
            "NZD" => 554,
            "JPY" => 392,
            "SEK" => 752,
            "NOK" => 578,
            "DKK" => 208,
            "PLN" => 985,
            "CZK" => 203,
            "HUF" => 348,
            "MXN" => 484,
            "BRL" => 986,
            "INR" => 356,
            "SGD" => 702,
            "HKD" => 344,
            "ZAR" => 710,
            _ => return None,
        })
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Currency::parse(&s)
    }
}
impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}
impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount of money: minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Money {
    /// Minor units (cents for USD/EUR).
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }
    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
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
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }
    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_mul(factor).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.currency.minor_digits();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if digits == 0 {
            return write!(f, "{sign}{abs} {}", self.currency);
        }
        let scale = 10u64.pow(digits);
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            abs / scale,
            abs % scale,
            self.currency,
            width = digits as usize
        )
    }
}

/// A tax rate in basis points: 825 = 8.25 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "u32", into = "u32")]
#[cfg_attr(feature = "openapi", schema(value_type = u32, example = 825))]
pub struct TaxRate(u32);

impl TaxRate {
    pub fn from_basis_points(bp: u32) -> Result<Self, MoneyError> {
        if bp <= 10_000 {
            Ok(Self(bp))
        } else {
            Err(MoneyError::BadRate(bp))
        }
    }
    pub fn basis_points(&self) -> u32 {
        self.0
    }
}
impl TryFrom<u32> for TaxRate {
    type Error = MoneyError;
    fn try_from(bp: u32) -> Result<Self, MoneyError> {
        TaxRate::from_basis_points(bp)
    }
}
impl From<TaxRate> for u32 {
    fn from(r: TaxRate) -> u32 {
        r.0
    }
}

/// Whether menu prices already contain tax (common in the EU) or tax is added on top (US).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    Inclusive,
    Exclusive,
}

/// `num / den` rounded half away from zero, in i128 so no product overflows.
fn div_round_half_away(num: i128, den: i128) -> i128 {
    debug_assert!(den > 0);
    let q = num / den;
    let r = num % den;
    if 2 * r.abs() >= den {
        q + num.signum()
    } else {
        q
    }
}

/// The tax contained in (inclusive) or added to (exclusive) `amount`, rounded per the module rule.
pub fn tax_on(amount: Money, rate: TaxRate, mode: TaxMode) -> Money {
    let a = i128::from(amount.minor);
    let bp = i128::from(rate.0);
    let tax = match mode {
        TaxMode::Exclusive => div_round_half_away(a * bp, 10_000),
        TaxMode::Inclusive => div_round_half_away(a * bp, 10_000 + bp),
    };
    // |tax| <= |amount| for rates up to 100 %, so this always fits.
    Money::new(tax as i64, amount.currency)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(m: i64) -> Money {
        Money::new(m, Currency::parse("USD").unwrap())
    }

    #[test]
    fn exclusive_tax_rounds_half_away_from_zero() {
        let r = TaxRate::from_basis_points(1000).unwrap();
        assert_eq!(tax_on(usd(105), r, TaxMode::Exclusive).minor(), 11); // 10.5 -> 11
        assert_eq!(tax_on(usd(104), r, TaxMode::Exclusive).minor(), 10);
        assert_eq!(tax_on(usd(-105), r, TaxMode::Exclusive).minor(), -11);
    }

    #[test]
    fn inclusive_tax_is_the_part_of_the_price() {
        let r = TaxRate::from_basis_points(2000).unwrap(); // 20 % VAT
        assert_eq!(tax_on(usd(1200), r, TaxMode::Inclusive).minor(), 200);
    }

    #[test]
    fn display_uses_minor_digits() {
        assert_eq!(usd(1234).to_string(), "12.34 USD");
        assert_eq!(usd(-5).to_string(), "-0.05 USD");
        let jpy = Money::new(500, Currency::parse("JPY").unwrap());
        assert_eq!(jpy.to_string(), "500 JPY");
    }

    #[test]
    fn rejects_bad_currency_and_rate() {
        assert!(Currency::parse("usd").is_err());
        assert!(TaxRate::from_basis_points(10_001).is_err());
        assert!(
            usd(1)
                .checked_add(Money::new(1, Currency::parse("EUR").unwrap()))
                .is_err()
        );
    }
}
