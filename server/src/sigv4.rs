//! Real SigV4 verification (`strata serve --auth FILE`): the canonical request, the
//! string to sign, the signing key, a clock skew of at most 15 minutes, as AWS
//! computes them. Pure functions of the request's parts, the known keys and the time.

use std::collections::HashMap;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::auth::SigV4Header;
use crate::error::ApiError;

/// Most a request's `X-Amz-Date` may differ from the server's clock.
pub const MAX_SKEW_SECONDS: i64 = 15 * 60;

/// One access key: its secret, and the namespace its tables live in, if any.
#[derive(Clone)]
struct Key {
    secret: String,
    namespace: Option<String>,
}

/// Access key ids, their secret keys and namespaces.
#[derive(Clone, Default)]
pub struct Credentials {
    keys: HashMap<String, Key>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.debug_struct("Credentials")
            .field("access_keys", &self.keys.len())
            .finish()
    }
}

/// Why an auth file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFileError {
    /// The file could not be read.
    #[error("cannot read auth file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not `ACCESS_KEY_ID SECRET_ACCESS_KEY [NAMESPACE]`.
    #[error("auth file line {line}: expected `ACCESS_KEY_ID SECRET_ACCESS_KEY [NAMESPACE]`")]
    Syntax {
        /// 1-based line number.
        line: usize,
    },
    /// A namespace with characters other than `a-z A-Z 0-9 _ -`, or longer than 64.
    #[error("auth file line {line}: namespace must be 1 to 64 of a-z, A-Z, 0-9, '_', '-'")]
    Namespace {
        /// 1-based line number.
        line: usize,
    },
    /// An access key id appears twice.
    #[error("auth file line {line}: access key {key} is listed twice")]
    Duplicate {
        /// 1-based line number.
        line: usize,
        /// The key id.
        key: String,
    },
    /// No keys at all.
    #[error("auth file has no keys")]
    Empty,
}

impl Credentials {
    /// Reads an auth file: one `ACCESS_KEY_ID SECRET_ACCESS_KEY [NAMESPACE]` per line
    /// (whitespace-separated); blank lines and lines starting with `#` are skipped. A
    /// key with a namespace sees only the tables of its namespace (see
    /// [`crate::namespace`]); a key without one sees every table.
    ///
    /// ```
    /// use strata_server::sigv4::Credentials;
    /// let c = Credentials::parse("# team keys\nAKID1 secret1 team1\n\nADMIN secret2\n")?;
    /// assert_eq!(c.len(), 2);
    /// # Ok::<(), strata_server::sigv4::AuthFileError>(())
    /// ```
    ///
    /// # Errors
    /// [`AuthFileError`] naming the line.
    pub fn parse(text: &str) -> Result<Credentials, AuthFileError> {
        let mut keys = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(id), Some(secret), namespace, None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(AuthFileError::Syntax { line: i + 1 });
            };
            if namespace.is_some_and(|ns| !crate::namespace::valid_namespace(ns)) {
                return Err(AuthFileError::Namespace { line: i + 1 });
            }
            let key = Key {
                secret: secret.to_owned(),
                namespace: namespace.map(str::to_owned),
            };
            if keys.insert(id.to_owned(), key).is_some() {
                return Err(AuthFileError::Duplicate {
                    line: i + 1,
                    key: id.to_owned(),
                });
            }
        }
        if keys.is_empty() {
            return Err(AuthFileError::Empty);
        }
        Ok(Credentials { keys })
    }

    /// Reads the auth file at `path`.
    ///
    /// # Errors
    /// [`AuthFileError`].
    pub fn load(path: &Path) -> Result<Credentials, AuthFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthFileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Credentials::parse(&text)
    }

    /// Number of access keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The parts of a request a signature covers.
#[derive(Debug)]
pub struct SignedParts<'a> {
    /// `POST`.
    pub method: &'a str,
    /// The path as sent (`/`).
    pub path: &'a str,
    /// The query string as sent (empty for DynamoDB).
    pub query: &'a str,
    /// Every header: lower-case name and value.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: &'a [u8],
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing into a String never fails.
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The canonical request of SigV4.
pub fn canonical_request(parts: &SignedParts<'_>, signed_headers: &str) -> String {
    let mut query: Vec<&str> = parts.query.split('&').filter(|q| !q.is_empty()).collect();
    query.sort_unstable();
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let values: Vec<String> = parts
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
    }
    let payload = parts
        .headers
        .iter()
        .find(|(n, _)| n == "x-amz-content-sha256")
        .map_or_else(|| sha256_hex(parts.body), |(_, v)| v.clone());
    let path = if parts.path.is_empty() {
        "/"
    } else {
        parts.path
    };
    format!(
        "{}\n{path}\n{}\n{canonical_headers}\n{signed_headers}\n{payload}",
        parts.method,
        query.join("&")
    )
}

/// Seconds since the Unix epoch of an ISO 8601 basic timestamp (`20240101T120000Z`).
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se)
}

/// Verifies a request's signature against `creds` at time `now` (Unix seconds), and
/// gives the namespace of the key that signed it.
///
/// # Errors
/// `UnrecognizedClientException` for an unknown access key;
/// `InvalidSignatureException` for a wrong signature, a scope that does not match the
/// date, or a date more than 15 minutes off; `IncompleteSignatureException` without a
/// date header.
pub fn verify(
    creds: &Credentials,
    header: &SigV4Header<'_>,
    parts: &SignedParts<'_>,
    now: i64,
) -> Result<crate::namespace::Namespace, ApiError> {
    let Some(key) = creds.keys.get(header.access_key) else {
        return Err(ApiError::unrecognized_client());
    };
    let secret = &key.secret;
    let date = parts
        .headers
        .iter()
        .find(|(n, _)| n == "x-amz-date")
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| {
            ApiError::incomplete_signature(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            )
        })?;
    let when = parse_amz_date(date).ok_or_else(|| {
        ApiError::incomplete_signature(format!(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", got {}",
            strata_item::echo::shown(date)
        ))
    })?;
    if (now - when).abs() > MAX_SKEW_SECONDS {
        return Err(ApiError::invalid_signature(format!(
            "Signature expired or not yet valid: {date} is more than 15 minutes from the server's time"
        )));
    }
    let mut scope = header.scope.split('/');
    let (Some(day), Some(region), Some(service)) = (scope.next(), scope.next(), scope.next())
    else {
        return Err(ApiError::incomplete_signature(
            "Credential scope is incomplete",
        ));
    };
    if !date.starts_with(day) {
        return Err(ApiError::invalid_signature(format!(
            "Credential should be scoped to a valid date: {day} does not match {date}"
        )));
    }
    if !header.signed_headers.split(';').any(|h| h == "host") {
        return Err(ApiError::invalid_signature(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    let canonical = canonical_request(parts, header.signed_headers);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{}\n{}",
        header.scope,
        sha256_hex(canonical.as_bytes())
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), day.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let expected = hex(&hmac(&k_signing, string_to_sign.as_bytes()));
    // Constant time in the signature's length.
    let given = header.signature.to_ascii_lowercase();
    let same = expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(ApiError::invalid_signature(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ));
    }
    Ok(key.namespace.as_deref().map_or_else(
        crate::namespace::Namespace::none,
        crate::namespace::Namespace::of,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example (the `get-vanilla` case of the SigV4 test suite):
    /// GET / with Host and X-Amz-Date, key AKIDEXAMPLE.
    #[test]
    fn matches_the_aws_test_suite_vanilla_case() {
        let creds =
            Credentials::parse("AKIDEXAMPLE wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY").unwrap();
        let parts = SignedParts {
            method: "GET",
            path: "/",
            query: "",
            headers: vec![
                ("host".into(), "example.amazonaws.com".into()),
                ("x-amz-date".into(), "20150830T123600Z".into()),
            ],
            body: b"",
        };
        let h = SigV4Header {
            access_key: "AKIDEXAMPLE",
            scope: "20150830/us-east-1/service/aws4_request",
            signed_headers: "host;x-amz-date",
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        };
        let now = parse_amz_date("20150830T123600Z").unwrap();
        verify(&creds, &h, &parts, now).unwrap();
        // A different secret, body, or time is refused.
        let other = Credentials::parse("AKIDEXAMPLE other").unwrap();
        assert_eq!(
            verify(&other, &h, &parts, now).unwrap_err().name(),
            "InvalidSignatureException"
        );
        let tampered = SignedParts {
            body: b"x",
            ..SignedParts {
                method: "GET",
                path: "/",
                query: "",
                headers: parts.headers.clone(),
                body: b"",
            }
        };
        assert!(verify(&creds, &h, &tampered, now).is_err());
        assert_eq!(
            verify(&creds, &h, &parts, now + 16 * 60)
                .unwrap_err()
                .name(),
            "InvalidSignatureException"
        );
        assert!(verify(&creds, &h, &parts, now + 14 * 60).is_ok());
        let unknown = Credentials::parse("SOMEONE secret").unwrap();
        assert_eq!(
            verify(&unknown, &h, &parts, now).unwrap_err().name(),
            "UnrecognizedClientException"
        );
    }

    #[test]
    fn amz_dates() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date("20000301T000000Z"), Some(951_868_800));
        assert_eq!(parse_amz_date("20240229T235959Z"), Some(1_709_251_199));
        for bad in [
            "2024-01-01",
            "20241301T000000Z",
            "20240101T250000Z",
            "20240101T000000",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn auth_files() {
        assert!(matches!(
            Credentials::parse("a b c d"),
            Err(AuthFileError::Syntax { line: 1 })
        ));
        assert!(matches!(
            Credentials::parse("a b"),
            Ok(c) if c.len() == 1
        ));
        assert!(matches!(
            Credentials::parse("a b team.1"),
            Err(AuthFileError::Namespace { line: 1 })
        ));
        assert!(matches!(
            Credentials::parse("a b\na c"),
            Err(AuthFileError::Duplicate { line: 2, .. })
        ));
        assert!(matches!(
            Credentials::parse("# only\n"),
            Err(AuthFileError::Empty)
        ));
        let shown = format!("{:?}", Credentials::parse("a s3cr3t").unwrap());
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
