//! DynamoDB's decimal number type.
//!
//! A [`Number`] holds what DynamoDB's `N` type holds: a decimal with at most 38 significant
//! digits whose magnitude is zero or lies in `1E-130 ..= 9.9999999999999999999999999999999999999E+125`
//! (and the same range negated). Arithmetic is exact decimal arithmetic; there is no floating
//! point anywhere on the path from text to storage and back.
//!
//! # Representation
//!
//! A number is `(-1)^negative × mantissa × 10^exponent` with the mantissa an integer below
//! `10^38` that has no trailing zero digits (zero is `mantissa = 0, exponent = 0`, never
//! negative). This form is canonical: two numbers are numerically equal exactly when their
//! fields are equal, so `1`, `1.0`, `1.00E0` and `0.1E1` are the same value, hash the same and
//! print the same.
//!
//! # Text form
//!
//! [`Number::parse`] (and [`FromStr`]) accept what DynamoDB accepts: an optional sign (`+` or
//! `-`), decimal digits with an optional `.` (at least one digit in all; `.5` and `5.` are
//! fine), and an optional exponent `e`/`E` with an optional sign. Leading and trailing zeros
//! do not count as significant digits. Whitespace, `NaN`, `Infinity` and hexadecimal are
//! rejected.
//!
//! [`Display`](fmt::Display) prints the canonical **plain** form, like Java's
//! `BigDecimal::stripTrailingZeros().toPlainString()`, which is what DynamoDB returns: no
//! exponent, no leading zeros except a single `0` before the point of a fraction, no trailing
//! zeros after the point, no trailing point, `-` only for negative values, `0` for zero.
//! Examples: `1.50` → `1.5`, `1E+3` → `1000`, `-1e-3` → `-0.001`, `-0` → `0`. The longest
//! possible output is 133 characters (`-0.000…0001` at `1E-130`).
//!
//! # Arithmetic
//!
//! [`Number::checked_add`] and [`Number::checked_sub`] compute the exact result. DynamoDB does
//! not round: when the exact result of `ADD`/`+`/`-` needs more than 38 significant digits
//! (for example `1E+50 + 1`) the update fails, with the (odd but real) message
//! `Number overflow. Attempting to store a number with magnitude larger than supported range`.
//! We do the same ([`NumberError::InexactResult`]). Results outside the magnitude range are
//! [`NumberError::Overflow`] or [`NumberError::Underflow`].

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Most significant decimal digits a [`Number`] may have.
pub const MAX_SIGNIFICANT_DIGITS: usize = 38;
/// Largest decimal exponent of the leading digit (`9.99…E+125`).
pub const MAX_EXPONENT: i32 = 125;
/// Smallest decimal exponent of the leading digit (`1E-130`).
pub const MIN_EXPONENT: i32 = -130;

/// Powers of ten that fit in a `u128`: `POW10[i] = 10^i` for `i` in `0..=38`.
const POW10: [u128; 39] = {
    let mut t = [1u128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Why a text or a computation is not a valid DynamoDB number.
///
/// The messages follow DynamoDB's `ValidationException` wording so that a server built on
/// Strata can pass them through unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberError {
    /// The text is not a decimal number (empty, spaces, `NaN`, `Infinity`, stray characters).
    #[error("The parameter cannot be converted to a numeric value: {input}")]
    Invalid {
        /// The offending text, cut by [`crate::echo::shown`].
        input: String,
    },
    /// More than 38 significant digits in the text.
    #[error(
        "Attempting to store more than 38 significant digits in a Number (the value has {digits})"
    )]
    TooManyDigits {
        /// Significant digits the value has.
        digits: usize,
    },
    /// Magnitude above `9.9999999999999999999999999999999999999E+125`.
    #[error(
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    )]
    Overflow,
    /// Non-zero magnitude below `1E-130`.
    #[error(
        "Number underflow. Attempting to store a number with magnitude smaller than supported range"
    )]
    Underflow,
    /// The exact result of an addition or subtraction needs more than 38 significant digits.
    /// DynamoDB reports this with its overflow message; the digit count is ours.
    #[error(
        "Number overflow. Attempting to store a number with magnitude larger than supported range (the exact result needs {digits} significant digits, at most 38 are supported)"
    )]
    InexactResult {
        /// Significant digits the exact result would need.
        digits: usize,
    },
    /// A floating-point value that is NaN or infinite.
    #[error("The parameter cannot be converted to a numeric value: {value}")]
    NotFinite {
        /// The value, as Rust prints it (`NaN`, `inf`, `-inf`).
        value: String,
    },
}

/// A DynamoDB number: an exact decimal with at most 38 significant digits.
///
/// Equality, ordering and hashing are numeric (`1.0 == 1`).
///
/// ```
/// use strata_item::Number;
///
/// let a: Number = "1.50".parse()?;
/// let b = Number::parse("0.25E1")?;
/// assert_eq!(a.to_string(), "1.5");
/// assert_eq!(a.checked_add(&b)?.to_string(), "4");
/// assert!(a < b);
/// assert_eq!(Number::from(10), Number::parse("1E1")?);
/// // DynamoDB never rounds: 1E+50 + 1 needs 51 significant digits.
/// assert!(Number::parse("1E50")?.checked_add(&Number::from(1)).is_err());
/// # Ok::<(), strata_item::NumberError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    /// High 64 bits of the mantissa (kept as two `u64` so the type is 8-byte aligned and
    /// [`crate::AttributeValue`] stays small).
    hi: u64,
    /// Low 64 bits of the mantissa.
    lo: u64,
    /// Decimal exponent of the last mantissa digit.
    exp: i16,
    /// Sign; never set for zero.
    neg: bool,
}

#[inline]
pub(crate) fn digit_count(m: u128) -> u32 {
    if m == 0 {
        1
    } else if let Ok(v) = u64::try_from(m) {
        v.ilog10() + 1
    } else {
        m.ilog10() + 1
    }
}

/// Removes trailing zero digits from a non-zero mantissa, adding them to `exp`. Uses 64-bit
/// division when the value fits (128-bit division is a slow library call).
#[inline]
fn strip_trailing_zeros(mut m: u128, exp: &mut i64) -> u128 {
    if let Ok(mut v) = u64::try_from(m) {
        while v.is_multiple_of(10) {
            v /= 10;
            *exp += 1;
        }
        return u128::from(v);
    }
    while m.is_multiple_of(10) {
        m /= 10;
        *exp += 1;
    }
    m
}

/// Writes the decimal digits (values `0..=9`, most significant first) of a mantissa below
/// `10^38` into the end of `buf` and returns them. Zero gives no digits.
#[inline]
pub(crate) fn mantissa_digits(m: u128, buf: &mut [u8; 40]) -> &[u8] {
    fn put(buf: &mut [u8; 40], i: &mut usize, mut v: u64, pad: usize) {
        let start = *i;
        while v > 0 {
            *i -= 1;
            buf[*i] = (v % 10) as u8;
            v /= 10;
        }
        while start - *i < pad {
            *i -= 1;
            buf[*i] = 0;
        }
    }
    let mut i = buf.len();
    match u64::try_from(m) {
        Ok(v) => put(buf, &mut i, v, 0),
        Err(_) => {
            const TEN19: u128 = 10_000_000_000_000_000_000;
            put(buf, &mut i, (m % TEN19) as u64, 19);
            // m < 10^38, so m / 10^19 < 10^19 fits in a u64.
            put(buf, &mut i, (m / TEN19) as u64, 0);
        }
    }
    &buf[i..]
}

impl Number {
    /// The number zero.
    pub const ZERO: Number = Number {
        hi: 0,
        lo: 0,
        exp: 0,
        neg: false,
    };

    /// Parses DynamoDB's text form of a number (see the [module docs](self) for the grammar).
    ///
    /// # Errors
    /// [`NumberError::Invalid`] for text that is not a number, [`NumberError::TooManyDigits`]
    /// for more than 38 significant digits, [`NumberError::Overflow`] /
    /// [`NumberError::Underflow`] for magnitudes outside DynamoDB's range.
    pub fn parse(s: &str) -> Result<Number, NumberError> {
        let b = s.as_bytes();
        let invalid = || NumberError::Invalid {
            input: crate::echo::owned(s),
        };
        let mut i = 0;
        let mut neg = false;
        if let Some(&c) = b.first()
            && (c == b'-' || c == b'+')
        {
            neg = c == b'-';
            i = 1;
        }
        let int_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let int_end = i;
        let (frac_start, frac_end) = if i < b.len() && b[i] == b'.' {
            i += 1;
            let fs = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            (fs, i)
        } else {
            (i, i)
        };
        if int_end == int_start && frac_end == frac_start {
            return Err(invalid());
        }
        let mut exp_text: i64 = 0;
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            let mut exp_neg = false;
            if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
                exp_neg = b[i] == b'-';
                i += 1;
            }
            let es = i;
            while i < b.len() && b[i].is_ascii_digit() {
                // Saturate: anything beyond a billion is out of range either way.
                exp_text = (exp_text * 10 + i64::from(b[i] - b'0')).min(1_000_000_000);
                i += 1;
            }
            if i == es {
                return Err(invalid());
            }
            if exp_neg {
                exp_text = -exp_text;
            }
        }
        if i != b.len() {
            return Err(invalid());
        }

        // All digits, integer part then fraction, as one sequence.
        let digits = b[int_start..int_end]
            .iter()
            .chain(b[frac_start..frac_end].iter());
        let n = (int_end - int_start) + (frac_end - frac_start);
        let mut first = None;
        let mut last = 0usize;
        for (pos, &d) in digits.clone().enumerate() {
            if d != b'0' {
                if first.is_none() {
                    first = Some(pos);
                }
                last = pos;
            }
        }
        let Some(first) = first else {
            return Ok(Number::ZERO);
        };
        let sig = last - first + 1;
        if sig > MAX_SIGNIFICANT_DIGITS {
            return Err(NumberError::TooManyDigits { digits: sig });
        }
        let mut mant: u128 = 0;
        for &d in digits.skip(first).take(sig) {
            mant = mant * 10 + u128::from(d - b'0');
        }
        let frac_len = (frac_end - frac_start) as i64;
        // Exponent of the last significant digit.
        let exp = exp_text - frac_len + (n - 1 - last) as i64;
        Number::from_normalized(neg, mant, exp)
    }

    /// Builds a number from a mantissa that has no trailing zeros and at most 38 digits,
    /// checking the exponent range.
    fn from_normalized(neg: bool, mant: u128, exp: i64) -> Result<Number, NumberError> {
        if mant == 0 {
            return Ok(Number::ZERO);
        }
        Number::from_normalized_digits(neg, mant, exp, digit_count(mant))
    }

    /// As `from_normalized` for a non-zero mantissa with no trailing zero digits whose
    /// digit count the caller has already computed (the item decoder, which checks both).
    #[inline]
    pub(crate) fn from_normalized_digits(
        neg: bool,
        mant: u128,
        exp: i64,
        digits: u32,
    ) -> Result<Number, NumberError> {
        debug_assert!(mant != 0 && digits == digit_count(mant));
        let adjusted = exp + i64::from(digits) - 1;
        if adjusted > i64::from(MAX_EXPONENT) {
            return Err(NumberError::Overflow);
        }
        if adjusted < i64::from(MIN_EXPONENT) {
            return Err(NumberError::Underflow);
        }
        // In range, so exp fits easily in i16 (-167..=125).
        Ok(Number {
            hi: (mant >> 64) as u64,
            lo: mant as u64,
            exp: exp as i16,
            neg,
        })
    }

    /// Builds a number from `(-1)^negative × mantissa × 10^exponent`. The mantissa may have
    /// trailing zeros; they are stripped.
    ///
    /// # Errors
    /// [`NumberError::TooManyDigits`] when the mantissa has more than 38 significant digits,
    /// [`NumberError::Overflow`] / [`NumberError::Underflow`] when out of range.
    ///
    /// ```
    /// use strata_item::Number;
    /// assert_eq!(Number::from_parts(true, 1500, -3)?.to_string(), "-1.5");
    /// # Ok::<(), strata_item::NumberError>(())
    /// ```
    pub fn from_parts(
        negative: bool,
        mantissa: u128,
        exponent: i32,
    ) -> Result<Number, NumberError> {
        Number::from_wide(negative, mantissa, i64::from(exponent), false)
    }

    /// Strips trailing zeros, checks digit count and range. `arith` selects the error for too
    /// many digits (an arithmetic result reports [`NumberError::InexactResult`]).
    fn from_wide(
        neg: bool,
        mut mant: u128,
        mut exp: i64,
        arith: bool,
    ) -> Result<Number, NumberError> {
        if mant == 0 {
            return Ok(Number::ZERO);
        }
        mant = strip_trailing_zeros(mant, &mut exp);
        let digits = digit_count(mant) as usize;
        if digits > MAX_SIGNIFICANT_DIGITS {
            // A magnitude beyond the range is reported as such even when it also has too
            // many digits (the same rule as the wide path of `checked_add`).
            if exp + digits as i64 - 1 > i64::from(MAX_EXPONENT) {
                return Err(NumberError::Overflow);
            }
            return Err(if arith {
                NumberError::InexactResult { digits }
            } else {
                NumberError::TooManyDigits { digits }
            });
        }
        Number::from_normalized(neg, mant, exp)
    }

    /// The mantissa: the significant digits as an integer (no trailing zeros; `0` for zero).
    #[inline]
    pub fn mantissa(&self) -> u128 {
        (u128::from(self.hi) << 64) | u128::from(self.lo)
    }

    /// The decimal exponent of the last significant digit: `self = ±mantissa × 10^exponent`.
    #[inline]
    pub fn exponent(&self) -> i32 {
        i32::from(self.exp)
    }

    /// The decimal exponent of the leading digit (scientific notation's exponent), in
    /// `-130..=125` for non-zero numbers; `0` for zero.
    #[inline]
    pub fn leading_exponent(&self) -> i32 {
        self.exponent() + self.significant_digits() as i32 - 1
    }

    /// Whether this is zero.
    #[inline]
    pub fn is_zero(&self) -> bool {
        self.hi == 0 && self.lo == 0
    }

    /// Whether this is below zero.
    #[inline]
    pub fn is_negative(&self) -> bool {
        self.neg
    }

    /// Significant decimal digits (leading and trailing zeros do not count); `1` for zero.
    #[inline]
    pub fn significant_digits(&self) -> usize {
        digit_count(self.mantissa()) as usize
    }

    /// The absolute value.
    pub fn abs(&self) -> Number {
        Number {
            neg: false,
            ..*self
        }
    }

    /// The nearest `f64` (correctly rounded).
    pub fn to_f64(&self) -> f64 {
        if self.is_zero() {
            return 0.0;
        }
        let text = format!("{}e{}", self.mantissa(), self.exp);
        let v: f64 = text.parse().unwrap_or(f64::NAN);
        if self.neg { -v } else { v }
    }

    /// The value as an `i64` when it is an integer in `i64`'s range.
    pub fn to_i64(&self) -> Option<i64> {
        if self.exp < 0 {
            return None;
        }
        let e = usize::try_from(self.exp).ok()?;
        let scaled = self.mantissa().checked_mul(*POW10.get(e)?)?;
        let v = i128::try_from(scaled).ok()?;
        i64::try_from(if self.neg { -v } else { v }).ok()
    }

    /// Exact sum. See the [module docs](self) for DynamoDB's rules.
    ///
    /// # Errors
    /// [`NumberError::InexactResult`] when the exact sum needs more than 38 significant
    /// digits, [`NumberError::Overflow`] / [`NumberError::Underflow`] when out of range.
    pub fn checked_add(&self, o: &Number) -> Result<Number, NumberError> {
        if self.is_zero() {
            return Ok(*o);
        }
        if o.is_zero() {
            return Ok(*self);
        }
        let (ea, eb) = (i64::from(self.exp), i64::from(o.exp));
        let e = ea.min(eb);
        let (ma, mb) = (self.mantissa(), o.mantissa());
        let span_a = i64::from(digit_count(ma)) + (ea - e);
        let span_b = i64::from(digit_count(mb)) + (eb - e);
        if span_a <= MAX_SIGNIFICANT_DIGITS as i64 && span_b <= MAX_SIGNIFICANT_DIGITS as i64 {
            // Both aligned operands are below 10^38, so the sum is below 2·10^38 < 2^128.
            let a = ma * POW10[(ea - e) as usize];
            let b = mb * POW10[(eb - e) as usize];
            let (neg, m) = if self.neg == o.neg {
                (self.neg, a + b)
            } else if a >= b {
                (self.neg, a - b)
            } else {
                (o.neg, b - a)
            };
            return Number::from_wide(neg, m, e, true);
        }
        self.add_wide(o, e)
    }

    /// Slow path of [`Number::checked_add`] for operands whose aligned digits span more than
    /// 38 positions: schoolbook arithmetic on decimal digit vectors. The span is bounded by
    /// the exponent range (at most 125 + 167 + 2 digits).
    fn add_wide(&self, o: &Number, e: i64) -> Result<Number, NumberError> {
        fn digits_le(m: u128, shift: usize, len: usize) -> Vec<u8> {
            let mut v = vec![0u8; len];
            let mut m = m;
            let mut i = shift;
            while m > 0 {
                v[i] = (m % 10) as u8;
                m /= 10;
                i += 1;
            }
            v
        }
        let sa = (i64::from(self.exp) - e) as usize;
        let sb = (i64::from(o.exp) - e) as usize;
        let len = (sa + digit_count(self.mantissa()) as usize)
            .max(sb + digit_count(o.mantissa()) as usize)
            + 1;
        let a = digits_le(self.mantissa(), sa, len);
        let b = digits_le(o.mantissa(), sb, len);
        let mut out = vec![0u8; len];
        let neg;
        if self.neg == o.neg {
            neg = self.neg;
            let mut carry = 0u8;
            for i in 0..len {
                let s = a[i] + b[i] + carry;
                out[i] = s % 10;
                carry = s / 10;
            }
        } else {
            // Subtract the smaller magnitude from the larger.
            let a_ge_b = a.iter().rev().cmp(b.iter().rev()) != Ordering::Less;
            let (x, y) = if a_ge_b { (&a, &b) } else { (&b, &a) };
            neg = if a_ge_b { self.neg } else { o.neg };
            let mut borrow = 0i8;
            for i in 0..len {
                let mut d = x[i] as i8 - y[i] as i8 - borrow;
                borrow = 0;
                if d < 0 {
                    d += 10;
                    borrow = 1;
                }
                out[i] = d as u8;
            }
        }
        let Some(lo) = out.iter().position(|&d| d != 0) else {
            return Ok(Number::ZERO);
        };
        let hi = out.iter().rposition(|&d| d != 0).unwrap_or(lo);
        let digits = hi - lo + 1;
        if digits > MAX_SIGNIFICANT_DIGITS {
            // Report range errors first when the magnitude is out of range anyway.
            let leading = e + hi as i64;
            if leading > i64::from(MAX_EXPONENT) {
                return Err(NumberError::Overflow);
            }
            return Err(NumberError::InexactResult { digits });
        }
        let mut m: u128 = 0;
        for &d in out[lo..=hi].iter().rev() {
            m = m * 10 + u128::from(d);
        }
        Number::from_normalized(neg, m, e + lo as i64)
    }

    /// Exact difference `self - o`. Same rules and errors as [`Number::checked_add`].
    ///
    /// # Errors
    /// As [`Number::checked_add`].
    pub fn checked_sub(&self, o: &Number) -> Result<Number, NumberError> {
        self.checked_add(&-*o)
    }

    /// Compares magnitudes, ignoring signs.
    fn cmp_magnitude(&self, o: &Number) -> Ordering {
        match (self.is_zero(), o.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        let (da, db) = (digit_count(self.mantissa()), digit_count(o.mantissa()));
        let la = i32::from(self.exp) + da as i32;
        let lb = i32::from(o.exp) + db as i32;
        la.cmp(&lb).then_with(|| {
            let n = da.max(db);
            let a = self.mantissa() * POW10[(n - da) as usize];
            let b = o.mantissa() * POW10[(n - db) as usize];
            a.cmp(&b)
        })
    }

    /// Writes the plain decimal form (see the [module docs](self)).
    fn write_plain(&self, out: &mut impl fmt::Write) -> fmt::Result {
        if self.is_zero() {
            return out.write_char('0');
        }
        if self.neg {
            out.write_char('-')?;
        }
        let mut buf = [0u8; 40];
        let n = mantissa_digits(self.mantissa(), &mut buf).len();
        let start = buf.len() - n;
        for d in &mut buf[start..] {
            *d += b'0';
        }
        // Digits are ASCII by construction.
        let ds = std::str::from_utf8(&buf[start..]).map_err(|_| fmt::Error)?;
        let exp = i32::from(self.exp);
        if exp >= 0 {
            out.write_str(ds)?;
            for _ in 0..exp {
                out.write_char('0')?;
            }
            return Ok(());
        }
        let point = ds.len() as i32 + exp;
        if point > 0 {
            let (a, b) = ds.split_at(point as usize);
            out.write_str(a)?;
            out.write_char('.')?;
            out.write_str(b)
        } else {
            out.write_str("0.")?;
            for _ in 0..(-point) {
                out.write_char('0')?;
            }
            out.write_str(ds)
        }
    }
}

impl Default for Number {
    fn default() -> Self {
        Number::ZERO
    }
}

impl std::ops::Neg for Number {
    type Output = Number;
    fn neg(self) -> Number {
        if self.is_zero() {
            self
        } else {
            Number {
                neg: !self.neg,
                ..self
            }
        }
    }
}

impl Ord for Number {
    fn cmp(&self, o: &Number) -> Ordering {
        match (self.neg, o.neg) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(o),
            (true, true) => o.cmp_magnitude(self),
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, o: &Number) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.width().is_some() {
            let mut s = String::new();
            self.write_plain(&mut s)?;
            f.pad(&s)
        } else {
            self.write_plain(f)
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

impl FromStr for Number {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Number, NumberError> {
        Number::parse(s)
    }
}

macro_rules! from_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(v: $t) -> Number {
                Number::from_int(false, v as u128)
            }
        }
    )*};
}
macro_rules! from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(v: $t) -> Number {
                Number::from_int(v < 0, (v as i128).unsigned_abs())
            }
        }
    )*};
}
from_unsigned!(u8, u16, u32, u64, usize);
from_signed!(i8, i16, i32, i64, isize);

impl Number {
    /// Integers of at most 64 bits have at most 20 digits and are always in range.
    fn from_int(neg: bool, m: u128) -> Number {
        if m == 0 {
            return Number::ZERO;
        }
        let mut exp = 0i64;
        let m = strip_trailing_zeros(m, &mut exp);
        Number {
            hi: (m >> 64) as u64,
            lo: m as u64,
            exp: exp as i16,
            neg,
        }
    }
}

impl TryFrom<i128> for Number {
    type Error = NumberError;
    fn try_from(v: i128) -> Result<Number, NumberError> {
        Number::from_parts(v < 0, v.unsigned_abs(), 0)
    }
}

impl TryFrom<u128> for Number {
    type Error = NumberError;
    fn try_from(v: u128) -> Result<Number, NumberError> {
        Number::from_parts(false, v, 0)
    }
}

impl TryFrom<f64> for Number {
    type Error = NumberError;
    /// Converts through the shortest decimal text that round-trips to the same `f64`
    /// (so `0.1` becomes exactly `0.1`, not `0.1000000000000000055…`).
    fn try_from(v: f64) -> Result<Number, NumberError> {
        if !v.is_finite() {
            return Err(NumberError::NotFinite {
                value: v.to_string(),
            });
        }
        if v == 0.0 {
            return Ok(Number::ZERO);
        }
        Number::parse(&format!("{v:e}"))
    }
}

impl TryFrom<f32> for Number {
    type Error = NumberError;
    fn try_from(v: f32) -> Result<Number, NumberError> {
        if !v.is_finite() {
            return Err(NumberError::NotFinite {
                value: v.to_string(),
            });
        }
        if v == 0.0 {
            return Ok(Number::ZERO);
        }
        Number::parse(&format!("{v:e}"))
    }
}

impl TryFrom<&str> for Number {
    type Error = NumberError;
    fn try_from(s: &str) -> Result<Number, NumberError> {
        Number::parse(s)
    }
}

/// The newtype name under which a [`Number`] serializes: strata's item serializer
/// (`crate::to_item`) stores it as an `N`; other formats see its canonical text.
#[cfg(feature = "serde")]
pub(crate) const SERDE_NAME: &str = "\0strata_item::N";

#[cfg(feature = "serde")]
impl serde::Serialize for Number {
    /// Serialises as the canonical text (a JSON string), like DynamoDB's `{"N": "…"}`;
    /// [`crate::to_item`] makes it an `N`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Text<'a>(&'a Number);
        impl serde::Serialize for Text<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self.0)
            }
        }
        s.serialize_newtype_struct(SERDE_NAME, &Text(self))
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Number {
    /// Reads the canonical text, or a number of the format (an integer exactly, a float
    /// through [`Number::try_from`]); from [`crate::from_item`], an `N`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Number, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, or a number as text")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Number, E> {
                Number::parse(s).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number::from(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number::from(v))
            }
            fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Number, E> {
                Number::try_from(v).map_err(E::custom)
            }
            fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Number, E> {
                Number::try_from(v).map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Number, E> {
                Number::try_from(v).map_err(E::custom)
            }
            fn visit_newtype_struct<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Number, D::Error> {
                d.deserialize_any(V)
            }
        }
        d.deserialize_newtype_struct(SERDE_NAME, V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    #[test]
    fn parse_and_display() {
        let cases = [
            ("0", "0"),
            ("-0", "0"),
            ("+0.000", "0"),
            ("0e1000", "0"),
            ("1", "1"),
            ("+3", "3"),
            ("1.0", "1"),
            ("1.50", "1.5"),
            ("-7.1234", "-7.1234"),
            ("-17e5", "-1700000"),
            (".123", "0.123"),
            ("5.", "5"),
            ("0001.23", "1.23"),
            ("1e+5", "100000"),
            ("1E3", "1000"),
            ("-1e-3", "-0.001"),
            ("123.456e1", "1234.56"),
            ("123.456e-5", "0.00123456"),
            ("1000", "1000"),
            ("0.00100", "0.001"),
            (
                "12345678901234567890123456789012345678",
                "12345678901234567890123456789012345678",
            ),
            (
                "3.1415926535897932384626433832795028841",
                "3.1415926535897932384626433832795028841",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(n(input).to_string(), want, "input {input}");
        }
        // Extremes of the range.
        assert_eq!(n("1e-130").to_string(), format!("0.{}1", "0".repeat(129)));
        assert_eq!(n("1e125").to_string(), format!("1{}", "0".repeat(125)));
        let max = n("9.9999999999999999999999999999999999999E+125");
        assert_eq!(max.significant_digits(), 38);
        assert_eq!(max.leading_exponent(), 125);
        assert_eq!(n("-1e-130").to_string(), format!("-0.{}1", "0".repeat(129)));
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "",
            "NaN",
            "Infinity",
            "-Infinity",
            "-NaN",
            "dog",
            "-dog",
            " 1",
            "1 ",
            ".",
            "-",
            "+",
            "1e",
            "1e+",
            "1.2.3",
            "0x10",
            "1_000",
            "--1",
            "e5",
            "1e5.5",
        ] {
            assert!(
                matches!(Number::parse(bad), Err(NumberError::Invalid { .. })),
                "{bad:?} should be invalid"
            );
        }
        let err = Number::parse("dog").unwrap_err().to_string();
        assert!(err.contains("numeric value: dog"), "{err}");
        for over in [
            "3.14159265358979323846264338327950288419",
            "314159265358979323846264338327950288419e30",
        ] {
            assert_eq!(
                Number::parse(over),
                Err(NumberError::TooManyDigits { digits: 39 })
            );
        }
        for big in ["1e126", "11e125", "-1e126", "1e999999999999999999999"] {
            assert_eq!(Number::parse(big), Err(NumberError::Overflow), "{big}");
        }
        for small in ["1e-131", "0.9e-130", "-1e-131", "1e-99999999999999999999"] {
            assert_eq!(Number::parse(small), Err(NumberError::Underflow), "{small}");
        }
        // Trailing zeros are not significant.
        assert!(Number::parse(&format!("1{}", "0".repeat(100))).is_ok());
        assert!(Number::parse(&format!("0.{}1", "0".repeat(100))).is_ok());
        let long = "9".repeat(200);
        assert!(
            Number::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("38 significant digits")
        );
    }

    #[test]
    fn equality_and_order() {
        assert_eq!(n("1"), n("1.0"));
        assert_eq!(n("1"), n("0.1e1"));
        assert_eq!(n("-0"), n("0"));
        let ordered = [
            "-1e125", "-100", "-99.5", "-1", "-0.5", "-1e-130", "0", "1e-130", "0.001", "0.5", "1",
            "1.5", "9", "10", "10.5", "99", "1e38", "1e125",
        ];
        for w in ordered.windows(2) {
            assert!(n(w[0]) < n(w[1]), "{} < {}", w[0], w[1]);
            assert!(n(w[1]) > n(w[0]));
        }
    }

    #[test]
    fn arithmetic() {
        let cases = [
            ("1", "10000000000000000000000", "10000000000000000000001"),
            ("1.5", "2.5", "4"),
            ("-1", "1", "0"),
            ("0.1", "0.2", "0.3"),
            ("-5", "3", "-2"),
            (
                "99999999999999999999999999999999999999",
                "1",
                "100000000000000000000000000000000000000",
            ),
            ("1e125", "-1e125", "0"),
            ("1e-130", "1e-130", "2e-130"),
        ];
        for (a, b, want) in cases {
            assert_eq!(n(a).checked_add(&n(b)).unwrap(), n(want), "{a} + {b}");
        }
        assert_eq!(
            n("10000000000000000000000").checked_sub(&n("1")).unwrap(),
            n("9999999999999999999999")
        );
        assert!(matches!(
            n("1e50").checked_add(&n("1")),
            Err(NumberError::InexactResult { digits: 51 })
        ));
        assert!(matches!(
            n("1e50").checked_sub(&n("1")),
            Err(NumberError::InexactResult { digits: 50 })
        ));
        assert_eq!(
            n("9e125").checked_add(&n("9e125")),
            Err(NumberError::Overflow)
        );
        assert_eq!(
            n("9e125").checked_sub(&n("-9e125")),
            Err(NumberError::Overflow)
        );
        // Cancellation down to a tiny difference stays exact.
        assert_eq!(
            n("1.0000000000000000000000000000000000001")
                .checked_sub(&n("1"))
                .unwrap(),
            n("1e-37")
        );
        let err = n("1e50").checked_add(&n("1")).unwrap_err().to_string();
        assert!(err.starts_with("Number overflow."), "{err}");
    }

    #[test]
    fn conversions() {
        assert_eq!(Number::from(0), Number::ZERO);
        assert_eq!(Number::from(-1200i64).to_string(), "-1200");
        assert_eq!(Number::from(u64::MAX).to_string(), u64::MAX.to_string());
        assert_eq!(Number::from(i64::MIN).to_string(), i64::MIN.to_string());
        assert_eq!(Number::try_from(0.1f64).unwrap().to_string(), "0.1");
        assert_eq!(Number::try_from(-2.5e-7f64).unwrap(), n("-0.00000025"));
        assert!(Number::try_from(f64::NAN).is_err());
        assert!(Number::try_from(f64::INFINITY).is_err());
        assert_eq!(Number::try_from(1e300f64), Err(NumberError::Overflow));
        assert_eq!(n("1.5").to_f64(), 1.5);
        assert_eq!(n("-1e-130").to_f64(), -1e-130);
        assert_eq!(n("1200").to_i64(), Some(1200));
        assert_eq!(n("1.5").to_i64(), None);
        assert_eq!(n("1e30").to_i64(), None);
        assert_eq!(Number::from_parts(false, 1000, 2).unwrap(), n("1e5"));
        assert!(Number::try_from(u128::MAX).is_err());
    }
}
