//! The ROCA fingerprint (CVE-2017-15361): RSA moduli made by a flawed Infineon key generator
//! (TPMs, smart cards, Yubikey 4 before 4.3.5, 2012-2017) can be factored in hours to days.
//!
//! Such primes have the form `k * M + (65537^a mod M)` with `M` a product of small primes, so
//! for every small prime `p` the modulus `n mod p` lies in the multiplicative subgroup that
//! 65537 generates modulo `p`. The published detector (Nemec et al., CCS 2017) tests exactly
//! that for the primes below; a random modulus passes every test with negligible probability.
//!
//! This is key validation arithmetic on small integers, not cryptography: nothing secret is
//! computed and nothing is verified here.

/// The small primes of the published fingerprint test.
const PRIMES: [u32; 38] = [
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
];

/// The generator of the flawed primes.
const GENERATOR: u32 = 65537;

/// `n mod p` for a big-endian unsigned integer.
fn rem(n: &[u8], p: u32) -> u32 {
    n.iter().fold(0, |r, &b| (r * 256 + u32::from(b)) % p)
}

/// True when `r` is a power of 65537 modulo `p` (p prime, so the powers cycle back to 1).
fn in_subgroup(r: u32, p: u32) -> bool {
    let g = GENERATOR % p;
    let mut x = 1;
    loop {
        if x == r {
            return true;
        }
        x = x * g % p;
        if x == 1 {
            return false;
        }
    }
}

/// True when the RSA modulus `n` (big-endian bytes) has the ROCA fingerprint.
pub(crate) fn has_fingerprint(n: &[u8]) -> bool {
    PRIMES.iter().all(|&p| in_subgroup(rem(n, p), p))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The subgroup masks of the published detector, for the first primes: bit `r` is set
    /// when `r` is a power of 65537 mod `p`.
    #[test]
    fn subgroups_match_the_published_masks() {
        let published: [(u32, u128); 6] = [
            (3, 6),
            (5, 30),
            (7, 126),
            (11, 1026),
            (13, 5658),
            (17, 107286),
        ];
        for (p, mask) in published {
            let ours: u128 = (0..p)
                .filter(|&r| in_subgroup(r, p))
                .map(|r| 1u128 << r)
                .sum();
            assert_eq!(ours, mask, "p = {p}");
        }
    }

    fn big_endian(mut words: Vec<u32>) -> Vec<u8> {
        words.reverse();
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    /// 65537^k as a big integer has the fingerprint by construction.
    #[test]
    fn powers_of_the_generator_have_it() {
        // 65537^k in base 2^32 limbs, little-endian.
        let mut n: Vec<u32> = vec![1];
        for _ in 0..40 {
            let mut carry = 0u64;
            for limb in n.iter_mut() {
                let v = u64::from(*limb) * u64::from(GENERATOR) + carry;
                *limb = v as u32;
                carry = v >> 32;
            }
            if carry > 0 {
                n.push(carry as u32);
            }
        }
        assert!(has_fingerprint(&big_endian(n.clone())));
        // 65537^40 + 1 is outside the subgroup mod 11, 37 and 61: one prime is enough.
        n[0] = n[0].wrapping_add(1);
        assert!(!has_fingerprint(&big_endian(n)));
    }

    #[test]
    fn a_multiple_of_a_small_prime_never_has_it() {
        // 0 is in no multiplicative group.
        assert!(!has_fingerprint(&[3 * 5 * 7]));
        assert!(!has_fingerprint(&[]));
    }

    /// The ROCA-vulnerable modulus of Wycheproof's `jws_rsa_roca_key` groups
    /// (json_web_key_test.json tcId 7, json_web_crypto_test.json tcId 46).
    const ROCA_N: &str = concat!(
        "AanFpofbj7KjD4Lf-N2hVMKR7yewSyXhhbirIMTGpfYEhZ_lnt5UoK98DnKIgArXGTu3MaW_HhFw16HG",
        "aTDUHqPrId7fe4r11CqRw09yBFuW79V8sYIwHdzCaWflUI6auImYbVfoN9_nD5n8N8SY9DwXw7mwZM9w",
        "REPXoDPgOoIWl6q_MPsp7n0zs3Z5ZaiQWOOzl1S9OhwAfSiiOwz6efnXEaxuTEtPd7BjSx7NaFka8Dx9",
        "U7YqXy2RFj1O9PjyaDGuRh7YXsX3iMUSP_wSyHQg_c_qHRtKUsNSGCT7OZg0hzm2KphtjnayKJvC64vA",
        "bROBR4Ubg6Bxg9IQVZ-QYyE",
    );

    #[test]
    fn the_wycheproof_roca_key_has_it() {
        let n = crate::b64::decode(ROCA_N).unwrap();
        assert!(has_fingerprint(&n));
        // One bit away, it is an ordinary number again.
        let mut other = n.clone();
        *other.last_mut().unwrap() ^= 2;
        assert!(!has_fingerprint(&other));
    }

    #[test]
    fn the_jwk_parser_refuses_roca_keys() {
        let jwk = serde_json::json!({"kty": "RSA", "kid": "roca", "n": ROCA_N, "e": "AQAB"});
        let err = crate::jwk::Jwk::from_value(&jwk).unwrap_err().to_string();
        assert!(
            err.contains("ROCA") && err.contains("CVE-2017-15361"),
            "{err}"
        );
        let set = crate::JwkSet::from_value(&serde_json::json!({"keys": [jwk]})).unwrap();
        assert!(set.is_empty());
        assert_eq!(set.skipped()[0].kid.as_deref(), Some("roca"));
    }

    #[test]
    fn fresh_keys_do_not_have_it() {
        for _ in 0..4 {
            let key = crate::SigningKey::generate(crate::Algorithm::RS256, "k").unwrap();
            let n = crate::b64::decode(key.public_jwk()["n"].as_str().unwrap()).unwrap();
            assert!(!has_fingerprint(&n));
        }
    }
}
