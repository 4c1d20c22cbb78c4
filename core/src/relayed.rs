//! The identity a Citus coordinator relays to the other nodes (used by
//! `src/identity.rs`): a user id and the role it is relayed for, signed with
//! HMAC-SHA256 and the cluster's key, as the text of a setting.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// A relayed identity: `v1:<user id>:<signature in hex>:<role>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relayed {
    pub user_id: i64,
    signature: Vec<u8>,
    pub role: String,
}

impl Relayed {
    fn message(user_id: i64, role: &str) -> Vec<u8> {
        format!("pg_sharing relayed identity v1\0{user_id}\0{role}").into_bytes()
    }

    fn mac(key: &[u8]) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length")
    }

    pub fn sign(key: &[u8], user_id: i64, role: &str) -> Relayed {
        let mut mac = Self::mac(key);
        mac.update(&Self::message(user_id, role));
        Relayed {
            user_id,
            signature: mac.finalize().into_bytes().to_vec(),
            role: role.to_owned(),
        }
    }

    pub fn verifies(&self, key: &[u8]) -> bool {
        let mut mac = Self::mac(key);
        mac.update(&Self::message(self.user_id, &self.role));
        mac.verify_slice(&self.signature).is_ok()
    }

    pub fn encode(&self) -> String {
        let hex: String = self.signature.iter().map(|b| format!("{b:02x}")).collect();
        format!("v1:{}:{hex}:{}", self.user_id, self.role)
    }

    pub fn decode(text: &str) -> Option<Relayed> {
        let mut parts = text.splitn(4, ':');
        if parts.next()? != "v1" {
            return None;
        }
        let user_id = parts.next()?.parse().ok()?;
        let hex = parts.next()?;
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let signature = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let role = parts.next()?.to_owned();
        (!role.is_empty()).then_some(Relayed {
            user_id,
            signature,
            role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signed_identity_survives_its_text_and_verifies() {
        let token = Relayed::sign(KEY, 42, "crm_app").encode();
        assert!(token.starts_with("v1:42:"));
        assert!(token.ends_with(":crm_app"));
        let back = Relayed::decode(&token).expect("decodes");
        assert_eq!(back, Relayed::sign(KEY, 42, "crm_app"));
        assert!(back.verifies(KEY));
    }

    #[test]
    fn another_key_user_or_role_does_not_verify() {
        let token = Relayed::sign(KEY, 42, "crm_app").encode();
        assert!(!Relayed::decode(&token)
            .unwrap()
            .verifies(b"another key of 32 bytes, or so.."));
        let other_user = token.replacen("v1:42:", "v1:43:", 1);
        assert!(!Relayed::decode(&other_user).unwrap().verifies(KEY));
        let other_role = token.replace(":crm_app", ":rep_east");
        assert!(!Relayed::decode(&other_role).unwrap().verifies(KEY));
    }

    #[test]
    fn roles_may_hold_colons() {
        let token = Relayed::sign(KEY, 7, "odd:role").encode();
        let back = Relayed::decode(&token).unwrap();
        assert_eq!(back.role, "odd:role");
        assert!(back.verifies(KEY));
    }

    #[test]
    fn malformed_text_is_no_identity() {
        let sig = "ab".repeat(32);
        for text in [
            "".to_owned(),
            "u:1".to_owned(),
            format!("v2:1:{sig}:r"),
            format!("v1:x:{sig}:r"),
            format!("v1:1:{}:r", "ab".repeat(31)),
            format!("v1:1:{}:r", "zz".repeat(32)),
            format!("v1:1:{sig}:"),
            format!("v1:1:{sig}"),
        ] {
            assert_eq!(Relayed::decode(&text), None, "{text}");
        }
    }
}
