//! `/ui`: the live view page. One self-contained HTML file (`ui.html`, embedded in the binary)
//! that follows `/logs`, `/metrics` and `/traces` with `EventSource` and shows what arrives;
//! nothing is loaded from anywhere else.
//!
//! Its `Content-Security-Policy` allows the page's own inline script and style (by their
//! SHA-256, computed once from the embedded file, so they cannot drift apart), connections
//! to the page's own origin, and nothing else: no other script, style, image, frame, form
//! target or framing by another site.

use super::body::ApiBody;
use super::handlers::{get_only, ok_text};
use super::ApiState;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// The page, as served.
pub const PAGE: &str = include_str!("ui.html");

/// The page's `Content-Security-Policy`, made once.
static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    let policy = content_security_policy(PAGE);
    HeaderValue::from_str(&policy).expect("the policy is ASCII")
});

/// The policy for `page`: its one inline `<script>` and one `<style>` by hash, `connect-src
/// 'self'` for the streams, and `'none'` for everything else.
pub fn content_security_policy(page: &str) -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'",
        inline_hash(page, "<script>", "</script>"),
        inline_hash(page, "<style>", "</style>"),
    )
}

/// `'sha256-…'` of the text between `open` and the next `close` in `page` (empty if absent).
fn inline_hash(page: &str, open: &str, close: &str) -> String {
    let text = page
        .find(open)
        .map(|at| &page[at + open.len()..])
        .and_then(|rest| rest.find(close).map(|end| &rest[..end]))
        .unwrap_or("");
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// `/ui`: the page on GET and HEAD (`text/html`, never cached, with its policy), a preflight
/// answer on OPTIONS, 405 otherwise.
pub fn page(req: &HttpRequest, state: &ApiState) -> HttpResponse<ApiBody> {
    get_only(req, state, || {
        let mut response = ok_text(PAGE, HeaderValue::from_static("text/html; charset=utf-8"));
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::CONTENT_SECURITY_POLICY, CSP.clone());
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        // A token in the page's query must not travel in a Referer.
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        response
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_self_contained() {
        // One inline script and one style, which the policy names by hash; no inline event
        // handlers or style attributes (the policy would block them); nothing from elsewhere.
        assert_eq!(PAGE.matches("<script").count(), 1);
        assert_eq!(PAGE.matches("<style").count(), 1);
        for forbidden in [
            " onclick=",
            " onload=",
            " style=",
            " src=",
            " href=",
            "http://",
            "https://",
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!PAGE.contains(forbidden), "the page contains {forbidden:?}");
        }
        assert!(PAGE.is_ascii(), "the hashes are over ASCII text");
    }

    #[test]
    fn the_policy_hashes_the_inline_blocks() {
        let page = "<style>a{}</style><script>x()</script>";
        let policy = content_security_policy(page);
        let hash = |text: &str| {
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
        };
        assert!(policy.contains(&format!("script-src 'sha256-{}';", hash("x()"))));
        assert!(policy.contains(&format!("style-src 'sha256-{}';", hash("a{}"))));
        assert!(policy.starts_with("default-src 'none';"));
        assert!(!policy.contains("unsafe"));
    }
}
