//! The bearer token of an HTTP listener (`http_auth_token`): a request is let through when it
//! carries the token as `Authorization: Bearer <token>`, or, for clients that cannot set
//! headers (a browser's `EventSource`, an `<img>`), as the `vivo_token` cookie or the
//! `access_token` query parameter (RFC 6750 §2.3). Compared in constant time; the token is
//! never logged or echoed.

use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpRequest;

use crate::config::Secret;

/// The cookie that may carry the token.
pub const COOKIE: &str = "vivo_token";

/// The query parameter that may carry the token.
pub const QUERY_PARAMETER: &str = "access_token";

/// What a 401 answer carries in `WWW-Authenticate` (RFC 6750 §3).
pub const CHALLENGE: HeaderValue = HeaderValue::from_static("Bearer realm=\"vivo-exporter\"");

/// Whether `req` carries `token` in one of the places this module reads.
pub fn authorized(req: &HttpRequest, token: &Secret) -> bool {
    let headers = req.headers();
    let bearer = headers
        .get_all(header::AUTHORIZATION)
        .filter_map(|v| bearer_token(v.as_bytes()))
        .any(|offered| token.matches(offered));
    bearer
        || headers
            .get_all(header::COOKIE)
            .flat_map(|v| cookie_values(v.as_bytes(), COOKIE))
            .any(|offered| token.matches(offered))
        || form_urlencoded::parse(req.query_string().as_bytes())
            .filter(|(key, _)| key == QUERY_PARAMETER)
            .any(|(_, offered)| token.matches(offered.as_bytes()))
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive).
pub fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let scheme = value.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    Some(value[7..].trim_ascii())
}

/// The values of the cookies named `name` in one `Cookie` header.
fn cookie_values<'a>(header: &'a [u8], name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    header.split(|&b| b == b';').filter_map(move |pair| {
        let pair = pair.trim_ascii();
        let (key, value) = pair.split_at(pair.iter().position(|&b| b == b'=')?);
        (key == name.as_bytes()).then(|| value[1..].trim_ascii())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn secret() -> Secret {
        Secret::new("t0ken".to_string())
    }

    #[test]
    fn each_place_the_token_may_be() {
        let ok = |req: TestRequest| authorized(&req.to_http_request(), &secret());
        assert!(ok(
            TestRequest::default().insert_header(("Authorization", "Bearer t0ken"))
        ));
        assert!(ok(
            TestRequest::default().insert_header(("Authorization", "bearer  t0ken "))
        ));
        assert!(ok(
            TestRequest::default().insert_header(("Cookie", "a=1; vivo_token=t0ken"))
        ));
        assert!(ok(TestRequest::with_uri("/logs?from=1&access_token=t0ken")));
        assert!(ok(TestRequest::with_uri("/logs?access_token=t%30ken")));
    }

    #[test]
    fn wrong_or_missing_tokens_are_refused() {
        let ok = |req: TestRequest| authorized(&req.to_http_request(), &secret());
        assert!(!ok(TestRequest::default()));
        assert!(!ok(
            TestRequest::default().insert_header(("Authorization", "Bearer t0ke"))
        ));
        assert!(!ok(
            TestRequest::default().insert_header(("Authorization", "Basic t0ken"))
        ));
        assert!(!ok(
            TestRequest::default().insert_header(("Cookie", "xvivo_token=t0ken"))
        ));
        assert!(!ok(TestRequest::with_uri("/logs?token=t0ken")));
        assert!(!ok(TestRequest::with_uri("/logs?access_token=")));
    }
}
