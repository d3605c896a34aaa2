//! Proving that a webhook came from the HR system it claims to come from.
//!
//! `offboard serve` takes `POST /hooks/hr/NAME` from HR systems, and a termination it
//! accepts may revoke a person's access (at once, for a rule with `auto-apply`). So nothing
//! in a request is believed until its signature is checked: the URL is not a secret, and a
//! forged "Ada has left" must cost the forger the shared secret, not the price of a `curl`.
//! [`verify`] runs before the body is parsed (see `super::event`), over the body's exact
//! bytes as they arrived: re-serialised JSON would not match, so the handler must keep the
//! raw body.
//!
//! # The three schemes
//!
//! **generic**, offboard's own, for HR systems and scripts that can sign however they are
//! told: `X-Offboard-Signature: sha256=<hex>` (the `sha256=` prefix is optional) where
//! `<hex>` is HMAC-SHA256 of `{timestamp}.{body}`, and `X-Offboard-Timestamp: <timestamp>`,
//! in Unix seconds or RFC 3339. Both header names can be changed in the policy
//! (`trigger NAME scheme="generic" signature-header=... timestamp-header=...`). The
//! timestamp comes first and is ended by a `.`, which no timestamp contains, so no other
//! (timestamp, body) pair yields the same signed bytes.
//!
//! **bamboohr**: BambooHR signs each webhook with the webhook's private key, HMAC-SHA256,
//! and sends `X-BambooHR-Timestamp` (when the request was sent) and `X-BambooHR-Signature`
//! (the HMAC in hex), computed from "the raw request body, the timestamp from the
//! X-BambooHR-Timestamp header, and your stored private key"
//! (<https://documentation.bamboohr.com/docs/webhooks>, Security). The signed message is
//! the body immediately followed by the timestamp, with no separator: Nango's BambooHR
//! integration documents "the signature covers the request body followed by
//! X-BambooHR-Timestamp" and rejects timestamps older than 5 minutes
//! (<https://nango.dev/docs/api-integrations/bamboohr/webhooks>), and every public verifier
//! we read (botpress, Prismatic) hashes `body + timestamp`. BambooHR does not
//! document the timestamp's format; the public verifiers and their tests use Unix seconds,
//! and RFC 3339 is accepted as well.
//!
//! **hibob**: HiBob (Bob) sends `Bob-Signature`, documented on every webhook event as a
//! "Base64-encoded signature sent with each webhook request"
//! (<https://apidocs.hibob.com/reference/post_webhook_employee-left>, Headers); it is
//! HMAC-SHA512 of the raw body with the webhook's secret, in standard base64 (the `bobhr`
//! client: <https://www.rubydoc.info/gems/bobhr/Bob/Webhooks>, `calculate_signature`).
//! Bob signs no timestamp.
//!
//! # Why each check exists
//!
//! - **The signature, over the raw body**: only a holder of the secret can produce it, and
//!   any change to the body (one byte) breaks it. It is compared in constant time
//!   ([`Mac::verify_slice`]), so response timing does not reveal how much of a guess was
//!   right.
//! - **The signature before the timestamp**: a request that is not authentic learns only
//!   [`Rejection::BadSignature`]. [`Rejection::Stale`] and [`Rejection::BadTimestamp`] are
//!   only ever said of authentic requests, where they mean a replay, a long delay or a
//!   wrong clock: things an operator can act on.
//! - **The timestamp window, [`WINDOW`], both ways**: a signed request captured on the way
//!   (a proxy log, a misrouted copy) stays valid forever unless its signing time is bounded.
//!   Past the window it is [`Rejection::Stale`]; a time further than the window *ahead* is
//!   refused too, since a sender whose clock runs ahead (or a request signed in advance)
//!   would otherwise stretch the window. Within the window a replay still verifies; the
//!   caller catches it by the event's id (`super::event::HrEvent::event_id`), which it
//!   records and refuses to act on twice.
//! - **HiBob has no timestamp**, so nothing bounds a replay in time: replay protection
//!   there rests entirely on the caller's event-id check. A Bob payload carries no event id
//!   either, so its id is a digest of the signed body, and a replay (or one of Bob's
//!   retries) of the same delivery has the same id. The payload's own `triggeredAt` is *not*
//!   checked, by [`verify`] or by the event parser: lifecycle events such as `employee.left`
//!   fire at midnight on the effective date and Bob retries a failed delivery for up to 3
//!   days (<https://apidocs.hibob.com/reference/webhook-events-v2>, Retry policy), so a
//!   genuine delivery can be days old, and the field has no documented offset.
//! - **Missing versus bad**: a missing header ([`Rejection::MissingSignature`],
//!   [`Rejection::MissingTimestamp`]) usually means the HR system is not configured to
//!   sign, or a proxy strips the header; a bad one means the wrong secret or an altered
//!   body. Saying which saves the operator a guess.
//!
//! No message here contains the secret or the expected signature (nor the one received):
//! a rejection is logged and may be shown to the sender, and either would help a forger.

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::{Sha256, Sha512};

use crate::policy::TriggerScheme;

type HmacSha256 = Hmac<Sha256>;
type HmacSha512 = Hmac<Sha512>;

/// The generic scheme's signature header, unless the policy names another.
pub const GENERIC_SIGNATURE: &str = "X-Offboard-Signature";
/// The generic scheme's timestamp header, unless the policy names another.
pub const GENERIC_TIMESTAMP: &str = "X-Offboard-Timestamp";
/// BambooHR's signature header (<https://documentation.bamboohr.com/docs/webhooks>).
pub const BAMBOOHR_SIGNATURE: &str = "X-BambooHR-Signature";
/// BambooHR's timestamp header (<https://documentation.bamboohr.com/docs/webhooks>).
pub const BAMBOOHR_TIMESTAMP: &str = "X-BambooHR-Timestamp";
/// HiBob's signature header (<https://apidocs.hibob.com/reference/post_webhook_employee-left>).
pub const HIBOB_SIGNATURE: &str = "Bob-Signature";

/// How far a signed timestamp may be from this server's clock, either way.
pub const WINDOW: SignedDuration = SignedDuration::from_mins(5);

/// The longest digit string read as Unix seconds (jiff's last second, 9999-12-31, has 12
/// digits); a longer one, such as milliseconds, is a [`Rejection::BadTimestamp`].
const MAX_UNIX_DIGITS: usize = 12;

/// How much of a bad timestamp a rejection repeats.
const MAX_SHOWN: usize = 64;

/// How a webhook's sender proves itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// HMAC-SHA256 over `{timestamp}.{body}`, hex (optionally prefixed `sha256=`), in
    /// configurable headers.
    Generic {
        signature_header: String,
        timestamp_header: String,
    },
    /// HMAC-SHA256 over the body followed by `X-BambooHR-Timestamp`, hex, in
    /// `X-BambooHR-Signature`.
    BambooHr,
    /// HMAC-SHA512 over the body, base64, in `Bob-Signature`; no timestamp.
    HiBob,
}

impl Scheme {
    /// A scheme by its policy name (`generic`, `bamboohr`, `hibob`; any case). The header
    /// names apply to `generic` only (defaults [`GENERIC_SIGNATURE`] and
    /// [`GENERIC_TIMESTAMP`]); given for a vendor scheme, whose headers are fixed, or when
    /// not valid header names, or both the same, the answer is `None`, as it is for an
    /// unknown name.
    pub fn parse(
        name: &str,
        signature_header: Option<&str>,
        timestamp_header: Option<&str>,
    ) -> Option<Scheme> {
        let fixed = signature_header.is_none() && timestamp_header.is_none();
        match name.trim().to_ascii_lowercase().as_str() {
            "generic" => {
                let signature_header = header_name(signature_header.unwrap_or(GENERIC_SIGNATURE))?;
                let timestamp_header = header_name(timestamp_header.unwrap_or(GENERIC_TIMESTAMP))?;
                if signature_header.eq_ignore_ascii_case(&timestamp_header) {
                    return None;
                }
                Some(Scheme::Generic {
                    signature_header,
                    timestamp_header,
                })
            }
            "bamboohr" if fixed => Some(Scheme::BambooHr),
            "hibob" if fixed => Some(Scheme::HiBob),
            _ => None,
        }
    }

    /// The policy name of the scheme.
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Generic { .. } => "generic",
            Scheme::BambooHr => "bamboohr",
            Scheme::HiBob => "hibob",
        }
    }
}

impl From<&TriggerScheme> for Scheme {
    fn from(scheme: &TriggerScheme) -> Self {
        match scheme {
            TriggerScheme::Generic {
                signature_header,
                timestamp_header,
            } => Scheme::Generic {
                signature_header: signature_header.clone(),
                timestamp_header: timestamp_header.clone(),
            },
            TriggerScheme::BambooHr => Scheme::BambooHr,
            TriggerScheme::HiBob => Scheme::HiBob,
        }
    }
}

/// A header name as given (trimmed), if HTTP accepts it.
fn header_name(name: &str) -> Option<String> {
    let name = name.trim();
    axum::http::HeaderName::from_bytes(name.as_bytes()).ok()?;
    Some(name.to_string())
}

/// What a valid signature established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The sender's timestamp, when the scheme signs one
    pub sent_at: Option<Timestamp>,
}

/// Why a request was refused. No message contains the secret or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The signature header is absent (or empty): the sender does not sign, or a proxy
    /// dropped the header.
    #[error("no `{0}` header: the request is not signed")]
    MissingSignature(String),
    /// The signature does not match: the wrong secret, an altered body, or a forgery.
    #[error("the signature does not match the body (a wrong secret, or the body was altered)")]
    BadSignature,
    /// The timestamp header is absent (or empty).
    #[error("no `{0}` header: the request does not say when it was signed")]
    MissingTimestamp(String),
    /// The (authentic) timestamp is neither Unix seconds nor RFC 3339; holds the value as
    /// received, shortened.
    #[error("the signing time {0:?} is neither Unix seconds nor an RFC 3339 timestamp")]
    BadTimestamp(String),
    /// The (authentic) timestamp is more than [`WINDOW`] from `now`, either way.
    #[error(
        "signed at {sent_at}, more than 5 minutes from this server's clock ({now}): a replay, a delayed delivery, or a wrong clock"
    )]
    Stale { sent_at: Timestamp, now: Timestamp },
}

/// Checks that `body` and `headers` were signed with `secret` under `scheme`, and, where the
/// scheme signs a timestamp, that it is within [`WINDOW`] of `now`.
///
/// The signature is checked first; the timestamp is read and judged only once the request
/// is known to be authentic. `body` must be the bytes exactly as received.
pub fn verify(
    scheme: &Scheme,
    secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now: Timestamp,
) -> Result<Verified, Rejection> {
    match scheme {
        Scheme::Generic {
            signature_header,
            timestamp_header,
        } => {
            let signature = header(headers, signature_header)
                .ok_or_else(|| Rejection::MissingSignature(signature_header.clone()))?;
            let sent = header(headers, timestamp_header)
                .ok_or_else(|| Rejection::MissingTimestamp(timestamp_header.clone()))?;
            let signature = signature.strip_prefix(b"sha256=").unwrap_or(signature);
            let tag = hex_decode(signature).ok_or(Rejection::BadSignature)?;
            let mac: HmacSha256 =
                keyed(secret, &[sent, b".".as_slice(), body]).ok_or(Rejection::BadSignature)?;
            mac.verify_slice(&tag)
                .map_err(|_| Rejection::BadSignature)?;
            fresh(sent, now)
        }
        Scheme::BambooHr => {
            let signature = header(headers, BAMBOOHR_SIGNATURE)
                .ok_or_else(|| Rejection::MissingSignature(BAMBOOHR_SIGNATURE.to_string()))?;
            let sent = header(headers, BAMBOOHR_TIMESTAMP)
                .ok_or_else(|| Rejection::MissingTimestamp(BAMBOOHR_TIMESTAMP.to_string()))?;
            let tag = hex_decode(signature).ok_or(Rejection::BadSignature)?;
            let mac: HmacSha256 = keyed(secret, &[body, sent]).ok_or(Rejection::BadSignature)?;
            mac.verify_slice(&tag)
                .map_err(|_| Rejection::BadSignature)?;
            fresh(sent, now)
        }
        Scheme::HiBob => {
            let signature = header(headers, HIBOB_SIGNATURE)
                .ok_or_else(|| Rejection::MissingSignature(HIBOB_SIGNATURE.to_string()))?;
            let tag = STANDARD
                .decode(signature)
                .map_err(|_| Rejection::BadSignature)?;
            let mac: HmacSha512 = keyed(secret, &[body]).ok_or(Rejection::BadSignature)?;
            mac.verify_slice(&tag)
                .map_err(|_| Rejection::BadSignature)?;
            Ok(Verified { sent_at: None })
        }
    }
}

/// For tests and docs: the signature headers a sender would attach (the timestamp in Unix
/// seconds; `sent_at` is unused by HiBob, which signs none).
pub fn sign(
    scheme: &Scheme,
    secret: &[u8],
    body: &[u8],
    sent_at: Timestamp,
) -> Vec<(String, String)> {
    let sent = sent_at.as_second().to_string();
    match scheme {
        Scheme::Generic {
            signature_header,
            timestamp_header,
        } => {
            let Some(mac) = keyed::<HmacSha256>(secret, &[sent.as_bytes(), b".".as_slice(), body])
            else {
                return Vec::new();
            };
            let signature = format!("sha256={}", hex(mac.finalize().into_bytes().as_slice()));
            vec![
                (timestamp_header.clone(), sent),
                (signature_header.clone(), signature),
            ]
        }
        Scheme::BambooHr => {
            let Some(mac) = keyed::<HmacSha256>(secret, &[body, sent.as_bytes()]) else {
                return Vec::new();
            };
            let signature = hex(mac.finalize().into_bytes().as_slice());
            vec![
                (BAMBOOHR_TIMESTAMP.to_string(), sent),
                (BAMBOOHR_SIGNATURE.to_string(), signature),
            ]
        }
        Scheme::HiBob => {
            let Some(mac) = keyed::<HmacSha512>(secret, &[body]) else {
                return Vec::new();
            };
            let signature = STANDARD.encode(mac.finalize().into_bytes().as_slice());
            vec![(HIBOB_SIGNATURE.to_string(), signature)]
        }
    }
}

/// An HMAC keyed with `secret`, fed `parts` in order. HMAC takes keys of any length
/// (RFC 2104 hashes a long one), so this is always `Some`.
fn keyed<M: Mac + KeyInit>(secret: &[u8], parts: &[&[u8]]) -> Option<M> {
    let mut mac = <M as KeyInit>::new_from_slice(secret).ok()?;
    for part in parts {
        mac.update(part);
    }
    Some(mac)
}

/// A header's value without surrounding whitespace; `None` when absent or empty. (Header
/// names match in any case.)
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a [u8]> {
    let value = headers.get(name)?.as_bytes().trim_ascii();
    (!value.is_empty()).then_some(value)
}

/// An authentic timestamp, judged against `now`.
fn fresh(raw: &[u8], now: Timestamp) -> Result<Verified, Rejection> {
    let sent_at = parse_timestamp(raw).ok_or_else(|| Rejection::BadTimestamp(shown(raw)))?;
    if now.duration_since(sent_at).abs() > WINDOW {
        return Err(Rejection::Stale { sent_at, now });
    }
    Ok(Verified {
        sent_at: Some(sent_at),
    })
}

/// Unix seconds (digits only) or an RFC 3339 timestamp (with `Z` or an offset).
fn parse_timestamp(raw: &[u8]) -> Option<Timestamp> {
    let text = std::str::from_utf8(raw).ok()?.trim();
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        if text.len() > MAX_UNIX_DIGITS {
            return None;
        }
        return Timestamp::from_second(text.parse().ok()?).ok();
    }
    text.parse::<Timestamp>().ok()
}

/// A received value, shortened, for a message.
fn shown(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out: String = text.chars().take(MAX_SHOWN).collect();
    if text.chars().count() > MAX_SHOWN {
        out.push('…');
    }
    out
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Hex in either case; `None` for an odd length or any other character.
fn hex_decode(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks_exact(2)
        .map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect()
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};

    const SECRET: &[u8] = b"whsec-test-0123456789";
    const BODY: &[u8] = br#"{"employees":[{"id":"123","action":"Updated"}]}"#;

    /// RFC 4231, test case 2.
    const KAT_KEY: &[u8] = b"Jefe";
    const KAT_DATA: &[u8] = b"what do ya want for nothing?";
    const KAT_SHA256: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    const KAT_SHA512: &str = "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";

    fn now() -> Timestamp {
        "2026-03-01T12:00:00Z".parse().unwrap()
    }

    fn generic() -> Scheme {
        Scheme::parse("generic", None, None).unwrap()
    }

    fn all() -> [Scheme; 3] {
        [generic(), Scheme::BambooHr, Scheme::HiBob]
    }

    fn headers<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                HeaderName::from_bytes(k.as_ref().as_bytes()).unwrap(),
                HeaderValue::from_str(v.as_ref()).unwrap(),
            );
        }
        map
    }

    fn signed(scheme: &Scheme, secret: &[u8], body: &[u8], at: Timestamp) -> HeaderMap {
        headers(&sign(scheme, secret, body, at))
    }

    fn at(offset: SignedDuration) -> Timestamp {
        now().checked_add(offset).unwrap()
    }

    #[test]
    fn a_good_signature_passes_for_each_scheme() {
        for scheme in all() {
            let h = signed(&scheme, SECRET, BODY, now());
            let verified = verify(&scheme, SECRET, &h, BODY, now())
                .unwrap_or_else(|e| panic!("{}: {e}", scheme.name()));
            let expected = match scheme {
                Scheme::HiBob => None,
                _ => Some(now()),
            };
            assert_eq!(verified.sent_at, expected, "{}", scheme.name());
        }
    }

    #[test]
    fn a_one_byte_change_to_the_body_fails() {
        let mut altered = BODY.to_vec();
        altered[20] ^= 0x01;
        for scheme in all() {
            let h = signed(&scheme, SECRET, BODY, now());
            assert_eq!(
                verify(&scheme, SECRET, &h, &altered, now()),
                Err(Rejection::BadSignature),
                "{}",
                scheme.name()
            );
        }
    }

    #[test]
    fn the_wrong_secret_fails() {
        for scheme in all() {
            let h = signed(&scheme, b"another secret", BODY, now());
            assert_eq!(
                verify(&scheme, SECRET, &h, BODY, now()),
                Err(Rejection::BadSignature),
                "{}",
                scheme.name()
            );
        }
    }

    #[test]
    fn a_missing_signature_header_fails() {
        for scheme in all() {
            let mut h = signed(&scheme, SECRET, BODY, now());
            let name = match &scheme {
                Scheme::Generic {
                    signature_header, ..
                } => signature_header.clone(),
                Scheme::BambooHr => BAMBOOHR_SIGNATURE.to_string(),
                Scheme::HiBob => HIBOB_SIGNATURE.to_string(),
            };
            h.remove(name.as_str());
            assert_eq!(
                verify(&scheme, SECRET, &h, BODY, now()),
                Err(Rejection::MissingSignature(name)),
                "{}",
                scheme.name()
            );
        }
        // Present but empty counts as missing.
        let h = headers(&[(HIBOB_SIGNATURE, "")]);
        assert_eq!(
            verify(&Scheme::HiBob, SECRET, &h, BODY, now()),
            Err(Rejection::MissingSignature(HIBOB_SIGNATURE.to_string()))
        );
    }

    #[test]
    fn a_missing_timestamp_header_fails() {
        let mut h = signed(&Scheme::BambooHr, SECRET, BODY, now());
        h.remove(BAMBOOHR_TIMESTAMP);
        assert_eq!(
            verify(&Scheme::BambooHr, SECRET, &h, BODY, now()),
            Err(Rejection::MissingTimestamp(BAMBOOHR_TIMESTAMP.to_string()))
        );
        let mut h = signed(&generic(), SECRET, BODY, now());
        h.remove(GENERIC_TIMESTAMP);
        assert_eq!(
            verify(&generic(), SECRET, &h, BODY, now()),
            Err(Rejection::MissingTimestamp(GENERIC_TIMESTAMP.to_string()))
        );
    }

    #[test]
    fn stale_and_future_timestamps_fail_and_the_window_holds() {
        for scheme in [generic(), Scheme::BambooHr] {
            for minutes in [-6, 6, -60 * 24, 60 * 24 * 365] {
                let sent_at = at(SignedDuration::from_mins(minutes));
                let h = signed(&scheme, SECRET, BODY, sent_at);
                assert_eq!(
                    verify(&scheme, SECRET, &h, BODY, now()),
                    Err(Rejection::Stale {
                        sent_at,
                        now: now()
                    }),
                    "{} at {minutes} min",
                    scheme.name()
                );
            }
            for minutes in [-5, -4, 4, 5] {
                let sent_at = at(SignedDuration::from_mins(minutes));
                let h = signed(&scheme, SECRET, BODY, sent_at);
                assert_eq!(
                    verify(&scheme, SECRET, &h, BODY, now()),
                    Ok(Verified {
                        sent_at: Some(sent_at)
                    }),
                    "{} at {minutes} min",
                    scheme.name()
                );
            }
        }
    }

    /// Signs by hand with any timestamp text (`sign` always writes Unix seconds).
    fn generic_headers(secret: &[u8], sent: &str, body: &[u8]) -> HeaderMap {
        let mac: HmacSha256 = keyed(secret, &[sent.as_bytes(), b".".as_slice(), body]).unwrap();
        let signature = hex(mac.finalize().into_bytes().as_slice());
        headers(&[
            (GENERIC_TIMESTAMP, sent),
            (GENERIC_SIGNATURE, signature.as_str()),
        ])
    }

    #[test]
    fn rfc3339_timestamps_are_accepted_and_others_are_bad() {
        let h = generic_headers(SECRET, "2026-03-01T12:03:00+00:00", BODY);
        assert_eq!(
            verify(&generic(), SECRET, &h, BODY, now()),
            Ok(Verified {
                sent_at: Some(at(SignedDuration::from_mins(3)))
            })
        );
        for bad in [
            "yesterday",
            "2026-03-01T12:00:00",
            "1772366400000",
            "-1772366400",
        ] {
            let h = generic_headers(SECRET, bad, BODY);
            assert_eq!(
                verify(&generic(), SECRET, &h, BODY, now()),
                Err(Rejection::BadTimestamp(bad.to_string())),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_bad_timestamp_on_a_forged_request_is_only_a_bad_signature() {
        let mut h = generic_headers(SECRET, "yesterday", BODY);
        h.insert(
            HeaderName::from_static("x-offboard-signature"),
            HeaderValue::from_static("00"),
        );
        assert_eq!(
            verify(&generic(), SECRET, &h, BODY, now()),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn the_generic_prefix_is_optional_and_hex_may_be_uppercase() {
        let sent = now().as_second().to_string();
        let bare = generic_headers(SECRET, &sent, BODY);
        assert!(verify(&generic(), SECRET, &bare, BODY, now()).is_ok());
        let signature = bare
            .get(GENERIC_SIGNATURE)
            .unwrap()
            .to_str()
            .unwrap()
            .to_ascii_uppercase();
        let prefixed = headers(&[
            (GENERIC_TIMESTAMP, sent),
            (GENERIC_SIGNATURE, format!("sha256={signature}")),
        ]);
        assert!(verify(&generic(), SECRET, &prefixed, BODY, now()).is_ok());
    }

    #[test]
    fn custom_generic_headers_are_used() {
        let scheme = Scheme::parse("generic", Some("X-Hr-Sig"), Some("X-Hr-Time")).unwrap();
        let h = signed(&scheme, SECRET, BODY, now());
        assert!(h.contains_key("x-hr-sig") && h.contains_key("x-hr-time"));
        assert!(verify(&scheme, SECRET, &h, BODY, now()).is_ok());
    }

    #[test]
    fn rfc4231_known_answers() {
        let mac: HmacSha256 = keyed(KAT_KEY, &[KAT_DATA]).unwrap();
        assert_eq!(hex(mac.finalize().into_bytes().as_slice()), KAT_SHA256);
        let mac: HmacSha512 = keyed(KAT_KEY, &[KAT_DATA]).unwrap();
        assert_eq!(hex(mac.finalize().into_bytes().as_slice()), KAT_SHA512);
        assert_eq!(
            hex_decode(KAT_SHA256.as_bytes())
                .map(|b| hex(&b))
                .as_deref(),
            Some(KAT_SHA256)
        );
    }

    #[test]
    fn hibob_signature_is_base64_of_hmac_sha512_of_the_body() {
        // What `sign` writes decodes to the independently known HMAC-SHA512.
        let out = sign(&Scheme::HiBob, KAT_KEY, KAT_DATA, now());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, HIBOB_SIGNATURE);
        assert_eq!(hex(&STANDARD.decode(&out[0].1).unwrap()), KAT_SHA512);
        // And `verify` accepts the known answer, base64-encoded here.
        let known = STANDARD.encode(hex_decode(KAT_SHA512.as_bytes()).unwrap());
        let h = headers(&[(HIBOB_SIGNATURE, known.as_str())]);
        assert_eq!(
            verify(&Scheme::HiBob, KAT_KEY, &h, KAT_DATA, now()),
            Ok(Verified { sent_at: None })
        );
    }

    #[test]
    fn bamboohr_signs_the_body_followed_by_the_timestamp() {
        // "what do ya want for nothing" + "?" is RFC 4231's data: the known HMAC-SHA256
        // passes the signature check with "?" as the timestamp, which proves the order and
        // the absence of a separator, and only then fails as a timestamp.
        let h = headers(&[(BAMBOOHR_SIGNATURE, KAT_SHA256), (BAMBOOHR_TIMESTAMP, "?")]);
        assert_eq!(
            verify(
                &Scheme::BambooHr,
                KAT_KEY,
                &h,
                b"what do ya want for nothing",
                now()
            ),
            Err(Rejection::BadTimestamp("?".to_string()))
        );
    }

    #[test]
    fn rejections_never_show_the_secret_or_a_signature() {
        for scheme in all() {
            let good = sign(&scheme, SECRET, BODY, now());
            let h = headers(&good);
            let err = verify(&scheme, SECRET, &h, b"{}", now()).unwrap_err();
            let text = err.to_string();
            assert!(!text.contains(std::str::from_utf8(SECRET).unwrap()));
            for (_, value) in &good {
                if value.len() > 12 {
                    assert!(!text.contains(value.as_str()), "{text}");
                }
            }
        }
    }

    #[test]
    fn scheme_names_parse_and_round_trip() {
        for scheme in all() {
            assert_eq!(
                Scheme::parse(scheme.name(), None, None).as_ref(),
                Some(&scheme)
            );
        }
        assert_eq!(
            Scheme::parse(" BambooHR ", None, None),
            Some(Scheme::BambooHr)
        );
        assert_eq!(
            generic(),
            Scheme::Generic {
                signature_header: GENERIC_SIGNATURE.to_string(),
                timestamp_header: GENERIC_TIMESTAMP.to_string(),
            }
        );
        assert_eq!(Scheme::parse("workday", None, None), None);
        assert_eq!(Scheme::parse("hibob", Some("X-Sig"), None), None);
        assert_eq!(Scheme::parse("generic", Some("bad header"), None), None);
        assert_eq!(Scheme::parse("generic", Some("X-A"), Some("x-a")), None);
        assert_eq!(Scheme::from(&TriggerScheme::HiBob), Scheme::HiBob);
    }

    #[test]
    fn hex_decoding_refuses_odd_lengths_and_non_hex() {
        assert_eq!(hex_decode(b"0a0B"), Some(vec![0x0a, 0x0b]));
        assert_eq!(hex_decode(b"abc"), None);
        assert_eq!(hex_decode(b"zz"), None);
        assert_eq!(hex_decode(b""), Some(Vec::new()));
    }
}
