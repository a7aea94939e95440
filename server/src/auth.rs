//! The `Authorization` header. By default, like DynamoDB Local, any well-formed SigV4
//! header is accepted (the signature is not checked) and a missing one is refused.

use crate::error::ApiError;

/// The parts of a SigV4 `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4Header<'a> {
    /// The access key id (first part of `Credential`).
    pub access_key: &'a str,
    /// The rest of the credential scope: `date/region/service/aws4_request`.
    pub scope: &'a str,
    /// `SignedHeaders`, `;`-separated, lower case.
    pub signed_headers: &'a str,
    /// `Signature`, hex.
    pub signature: &'a str,
}

/// Parses `AWS4-HMAC-SHA256 Credential=AK/date/region/service/aws4_request,
/// SignedHeaders=a;b, Signature=hex`.
///
/// # Errors
/// `MissingAuthenticationTokenException` without a header, else
/// `IncompleteSignatureException` saying what is missing.
pub fn parse(header: Option<&str>) -> Result<SigV4Header<'_>, ApiError> {
    let Some(h) = header else {
        return Err(ApiError::missing_auth());
    };
    let Some(rest) = h.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(ApiError::incomplete_signature(format!(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header and must use the AWS4-HMAC-SHA256 algorithm. Authorization={}",
            strata_item::echo::shown(h)
        )));
    };
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let missing = |what: &str| {
        ApiError::incomplete_signature(format!(
            "Authorization header requires '{what}' parameter. Authorization={}",
            strata_item::echo::shown(h)
        ))
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed_headers = signed.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let (access_key, scope) = credential.split_once('/').ok_or_else(|| {
        ApiError::incomplete_signature(format!(
            "Credential should be scoped to a valid region, not a bare access key. Credential={}",
            strata_item::echo::shown(credential)
        ))
    })?;
    if access_key.is_empty() || scope.split('/').count() != 4 || !scope.ends_with("/aws4_request") {
        return Err(ApiError::incomplete_signature(format!(
            "Credential should be scoped with a date, region, service and aws4_request terminator. Credential={}",
            strata_item::echo::shown(credential)
        )));
    }
    if signature.is_empty() || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(missing("Signature"));
    }
    Ok(SigV4Header {
        access_key,
        scope,
        signed_headers,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_sigv4_header() {
        let h = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc123";
        let p = parse(Some(h)).unwrap();
        assert_eq!(p.access_key, "AKID");
        assert_eq!(p.scope, "20240101/us-east-1/dynamodb/aws4_request");
        assert_eq!(p.signed_headers, "host;x-amz-date");
        assert_eq!(p.signature, "abc123");
    }

    #[test]
    fn refuses_missing_and_malformed_headers() {
        assert_eq!(
            parse(None).unwrap_err().name(),
            "MissingAuthenticationTokenException"
        );
        for bad in [
            "Basic abc",
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab",
            "AWS4-HMAC-SHA256 Credential=AKID, SignedHeaders=host, Signature=ab",
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host",
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=zz",
        ] {
            assert_eq!(
                parse(Some(bad)).unwrap_err().name(),
                "IncompleteSignatureException",
                "{bad}"
            );
        }
    }
}
