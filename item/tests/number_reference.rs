//! Number parsing, ordering and arithmetic against `bigdecimal` as the reference.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::str::FromStr;

use bigdecimal::BigDecimal;
use proptest::prelude::*;
use strata_item::{Number, NumberError};

fn big(n: &Number) -> BigDecimal {
    BigDecimal::from_str(&n.to_string()).unwrap()
}

/// (significant digits, leading exponent) of a non-zero exact value.
fn shape(x: &BigDecimal) -> (i64, i64) {
    let (int, scale) = x.normalized().as_bigint_and_exponent();
    let digits = int.to_string().trim_start_matches('-').len() as i64;
    (digits, digits - 1 - scale)
}

/// What DynamoDB (and so `checked_add`) must answer for an exact result.
fn expected(exact: &BigDecimal) -> Result<BigDecimal, NumberError> {
    if bigdecimal::Zero::is_zero(exact) {
        return Ok(exact.clone());
    }
    let (digits, leading) = shape(exact);
    if leading > 125 {
        return Err(NumberError::Overflow);
    }
    if digits > 38 {
        return Err(NumberError::InexactResult {
            digits: digits as usize,
        });
    }
    if leading < -130 {
        return Err(NumberError::Underflow);
    }
    Ok(exact.clone())
}

fn check(
    got: Result<Number, NumberError>,
    want: Result<BigDecimal, NumberError>,
) -> Result<(), TestCaseError> {
    match (got, want) {
        (Ok(g), Ok(w)) => prop_assert_eq!(big(&g), w),
        (Err(g), Err(w)) => prop_assert_eq!(g, w),
        (g, w) => prop_assert!(false, "got {:?}, want {:?}", g, w),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn add_and_sub_match_bigdecimal(a in common::number(), b in common::number()) {
        let (x, y) = (big(&a), big(&b));
        check(a.checked_add(&b), expected(&(&x + &y)))?;
        check(a.checked_sub(&b), expected(&(&x - &y)))?;
    }

    #[test]
    fn order_matches_bigdecimal(a in common::number(), b in common::number()) {
        prop_assert_eq!(a.cmp(&b), big(&a).cmp(&big(&b)));
        prop_assert_eq!(a == b, big(&a) == big(&b));
    }

    #[test]
    fn display_round_trips(a in common::number()) {
        let text = a.to_string();
        prop_assert_eq!(Number::parse(&text).unwrap(), a);
        prop_assert!(!text.contains('e') && !text.contains('E'));
        prop_assert_eq!(big(&a), BigDecimal::from_str(&text).unwrap());
        // f64 conversion is the correctly rounded value.
        let f: f64 = text.parse().unwrap();
        prop_assert_eq!(a.to_f64(), f);
    }

    #[test]
    fn parse_agrees_with_bigdecimal(int in "[0-9]{0,45}", frac in "[0-9]{0,45}", exp in -200i64..200, neg: bool) {
        prop_assume!(!(int.is_empty() && frac.is_empty()));
        let text = format!("{}{}.{}e{}", if neg { "-" } else { "" }, int, frac, exp);
        let exact = BigDecimal::from_str(&text).unwrap();
        let got = Number::parse(&text);
        if bigdecimal::Zero::is_zero(&exact) {
            prop_assert_eq!(got.unwrap(), Number::ZERO);
        } else {
            let (digits, leading) = shape(&exact);
            match got {
                Ok(n) => {
                    prop_assert!(digits <= 38 && (-130..=125).contains(&leading));
                    prop_assert_eq!(big(&n), exact);
                }
                Err(NumberError::TooManyDigits { digits: d }) => prop_assert_eq!(d as i64, digits),
                Err(NumberError::Overflow) => prop_assert!(digits <= 38 && leading > 125),
                Err(NumberError::Underflow) => prop_assert!(digits <= 38 && leading < -130),
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }
}
