//! Webhook deliveries as the Standard Webhooks specification defines them, and the
//! rules a delivery target must meet. Pure: the caller resolves names, reads the clock
//! and sends.
//!
//! - Each endpoint's signing secret is derived from the integrity master (its
//!   `webhooks` key) with the endpoint's id and secret generation, so it is never
//!   stored; rotating it is a new generation. It is shown as `whsec_` and base64.
//! - A delivery is signed as `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
//! - Targets: only public unicast addresses, unless an operator allows private ones;
//!   the caller checks every address a name resolves to and connects to those only.

// `core::net`: the address types alone, without sockets or resolution (no I/O here).
use core::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::integrity::IntegrityKeys;

const SECRET_LABEL: &[u8] = b"vault-webhook-secret/v1";

/// The prefix Standard Webhooks libraries strip from a secret.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

/// One endpoint's signing secret: 32 bytes, zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct WebhookSecret([u8; 32]);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    /// The secret of `endpoint_id` at `generation`.
    pub fn derive(keys: &IntegrityKeys, endpoint_id: &str, generation: u32) -> Self {
        WebhookSecret(keys.webhooks.mac(SECRET_LABEL, |fields| {
            fields
                .field(endpoint_id.as_bytes())
                .field(&generation.to_be_bytes());
        }))
    }

    /// `whsec_…`, what the endpoint's owner configures its receiver with; zeroized on
    /// drop like the secret itself.
    pub fn encoded(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(format!(
            "{WEBHOOK_SECRET_PREFIX}{}",
            STANDARD.encode(self.0)
        ))
    }

    /// The `v1,…` signature of one delivery.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes a key of any length; 32 bytes cannot be refused.
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts every key length"),
        };
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// Whether a delivery may connect to `ip` when private targets are not allowed: a
/// public unicast address. Loopback, private, shared (CGNAT), link-local (the cloud
/// metadata services at 169.254.169.254 and fd00:ec2::254 among them), unique-local,
/// multicast, broadcast, documentation, benchmarking and reserved ranges are not, nor
/// an IPv4 address mapped into IPv6. IPv6 is allowed, not blocked, by range: only
/// global unicast (2000::/3) is public, which leaves out NAT64 (64:ff9b::/96) and every
/// other prefix that reaches IPv4 or the local network, less the parts of 2000::/3
/// that are not the internet either.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let [first, second, ..] = v6.segments();
            let global_unicast = (first & 0xe000) == 0x2000;
            // 2001::/23 IETF protocol assignments (Teredo, ORCHID and the like), which
            // holds 2001:db8::/32 documentation too (one /32 checked on its own, for
            // the day the /23 rule is narrowed).
            let protocol_assignments = first == 0x2001 && second < 0x0200;
            let documentation =
                (first == 0x2001 && second == 0x0db8) || (first == 0x3fff && second < 0x1000);
            // 2002::/16 6to4 carries an IPv4 address a relay may lead to.
            let six_to_four = first == 0x2002;
            global_unicast && !protocol_assignments && !documentation && !six_to_four
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10 shared address space (carrier-grade NAT).
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24 IETF protocol assignments.
        || (a == 192 && b == 0 && c == 0)
        // 198.18.0.0/15 benchmarking.
        || (a == 198 && (b == 18 || b == 19))
        // 240.0.0.0/4 reserved.
        || a >= 240)
}

/// How long to wait before attempt `attempt + 1` after `attempt` failed (1-based):
/// `base` doubling with each attempt up to `max`, then spread by `jitter` (a number in
/// [0, 1) the caller draws) over its upper quarter taken off, so replicas that failed
/// together do not retry together.
pub fn retry_delay(attempt: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let doubled = base.saturating_mul(
        1u32.checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX),
    );
    let capped = doubled.min(max);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    capped.mul_f64(1.0 - jitter / 4.0)
}

#[cfg(test)]
mod tests;
