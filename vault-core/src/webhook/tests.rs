//! The signing secret, the signature, the target rule and the backoff, each with the
//! cases an attacker or a flaky receiver would bring.

use super::*;

fn keys() -> IntegrityKeys {
    IntegrityKeys::derive(&[9; 32])
}

#[test]
fn secrets_differ_by_endpoint_generation_and_master_and_never_print() {
    let keys = keys();
    let a1 = WebhookSecret::derive(&keys, "whk_a", 1);
    assert_eq!(
        a1.encoded(),
        WebhookSecret::derive(&keys, "whk_a", 1).encoded()
    );
    for other in [
        WebhookSecret::derive(&keys, "whk_b", 1),
        WebhookSecret::derive(&keys, "whk_a", 2),
        WebhookSecret::derive(&IntegrityKeys::derive(&[8; 32]), "whk_a", 1),
    ] {
        assert_ne!(other.encoded(), a1.encoded());
    }
    let encoded = a1.encoded();
    assert!(encoded.starts_with("whsec_"));
    assert_eq!(
        STANDARD.decode(&encoded[6..]).map(|b| b.len()).ok(),
        Some(32)
    );
    assert_eq!(format!("{a1:?}"), "WebhookSecret(..)");
}

/// The construction the specification gives, `{id}.{timestamp}.{body}` under HMAC-SHA256,
/// checked against an independent HMAC here; the contract itself is proven by the
/// reference verifier (PyPI `standardwebhooks`) in vault-api's webhook tests.
#[test]
fn a_signature_covers_the_id_the_timestamp_and_the_body() {
    let secret = WebhookSecret([7; 32]);
    let body = br#"{"test": 2432232314}"#;
    let signature = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[7; 32]).expect("key");
    mac.update(b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}");
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(signature, expected);
    assert_ne!(signature, secret.sign("msg_other", 1614265330, body));
    assert_ne!(
        signature,
        secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body)
    );
    assert_ne!(
        signature,
        secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b"{}")
    );
}

#[test]
fn only_public_unicast_addresses_are_targets() {
    for blocked in [
        "127.0.0.1",
        "127.8.9.10",
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.1",
        "203.0.113.1",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::127.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:10.1.2.3",
        "64:ff9b::7f00:1",
        "64:ff9b:1::a00:1",
        "fc00::1",
        "fd00:ec2::254",
        "fe80::1",
        "febf::1",
        "ff02::1",
        "2001:db8::1",
        "2001::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "100::1",
        "64::1",
        "101::1",
        "fec0::1",
        "2002:7f00:1::1",
        "3fff::1",
        "3fff:fff::1",
        "4000::1",
        "e000::1",
    ] {
        let ip: IpAddr = blocked.parse().expect("an address");
        assert!(!is_public_address(ip), "{blocked} must be refused");
    }
    for allowed in [
        "1.1.1.1",
        "8.8.8.8",
        "100.63.255.255",
        "100.128.0.1",
        "172.15.255.255",
        "172.32.0.1",
        "192.0.1.1",
        "198.17.255.255",
        "198.20.0.1",
        "223.255.255.254",
        "2606:4700:4700::1111",
        "2a00:1450:4001:80b::200e",
        "::ffff:8.8.8.8",
        "2001:200::1",
        "2001:db9::1",
        "2003::1",
        "3ffe::1",
        "3fff:1000::1",
    ] {
        let ip: IpAddr = allowed.parse().expect("an address");
        assert!(is_public_address(ip), "{allowed} must be allowed");
    }
}

#[test]
fn retries_back_off_exponentially_with_jitter_within_the_cap() {
    let base = Duration::from_secs(5);
    let max = Duration::from_secs(3600);
    assert_eq!(retry_delay(1, base, max, 0.0), Duration::from_secs(5));
    assert_eq!(retry_delay(2, base, max, 0.0), Duration::from_secs(10));
    assert_eq!(retry_delay(3, base, max, 0.0), Duration::from_secs(20));
    assert_eq!(retry_delay(0, base, max, 0.0), Duration::from_secs(5));
    assert_eq!(retry_delay(20, base, max, 0.0), max);
    assert_eq!(retry_delay(200, base, max, 0.0), max);
    // Jitter takes up to a quarter off, never adds.
    assert_eq!(retry_delay(1, base, max, 0.5), Duration::from_millis(4375));
    assert_eq!(retry_delay(1, base, max, 0.999_999).as_millis(), 3750);
    assert_eq!(retry_delay(1, base, max, 7.0), Duration::from_millis(3750));
    assert_eq!(retry_delay(1, base, max, -1.0), base);
    assert_eq!(retry_delay(1, base, max, f64::NAN), base);
}
