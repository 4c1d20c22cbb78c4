//! Record keys as text: the canonical form PostgreSQL prints for a key of
//! a supported type (bigint, integer, uuid, text), decided here without
//! casting inside the server, so that it needs no subtransaction and works
//! in parallel workers.
//!
//! Shares are filed under this form, so comparing ids as text, as the share
//! cleanup and the explanations do, agrees with comparing them as keys.

/// The canonical text of `input` as a value of `key_type` (as
/// `format_type` names it), or None when it is no value of that type (so
/// no record's id) or the type is not a supported key type.
pub fn canonical(key_type: &str, input: &str) -> Option<String> {
    match key_type {
        "text" => Some(input.to_owned()),
        "bigint" => integer(input, i64::MIN as i128, i64::MAX as i128),
        "integer" => integer(input, i32::MIN as i128, i32::MAX as i128),
        "uuid" => uuid(input),
        _ => None,
    }
}

/// PostgreSQL's `isspace` in the C locale.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
}

/// As int8in / int4in read it: spaces around, an optional sign, at least
/// one decimal digit, nothing else, within range.
fn integer(input: &str, min: i128, max: i128) -> Option<String> {
    let s = input.trim_matches(is_space);
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: i128 = 0;
    for b in digits.bytes() {
        value = value * 10 + i128::from(b - b'0');
        if value > max + 1 {
            return None;
        }
    }
    let value = if negative { -value } else { value };
    (min..=max).contains(&value).then(|| value.to_string())
}

/// As uuid_in reads it: 32 hex digits, optionally in braces, with a
/// single hyphen allowed after any group of four digits but the last.
fn uuid(input: &str) -> Option<String> {
    let mut s = input.as_bytes();
    let braces = s.first() == Some(&b'{');
    if braces {
        s = &s[1..];
    }
    let mut hex = Vec::with_capacity(32);
    let mut i = 0;
    while hex.len() < 32 {
        let (a, b) = (*s.get(i)?, *s.get(i + 1)?);
        if !a.is_ascii_hexdigit() || !b.is_ascii_hexdigit() {
            return None;
        }
        hex.push(a.to_ascii_lowercase());
        hex.push(b.to_ascii_lowercase());
        i += 2;
        if s.get(i) == Some(&b'-') && hex.len() % 4 == 0 && hex.len() < 32 {
            i += 1;
        }
    }
    if braces {
        if s.get(i) != Some(&b'}') {
            return None;
        }
        i += 1;
    }
    if i != s.len() {
        return None;
    }
    let h = String::from_utf8(hex).ok()?;
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn integers_as_postgresql_reads_them() {
        assert_eq!(canonical("bigint", " 01 ").as_deref(), Some("1"));
        assert_eq!(canonical("bigint", "+7").as_deref(), Some("7"));
        assert_eq!(canonical("bigint", "-0").as_deref(), Some("0"));
        assert_eq!(canonical("bigint", "\t-42\n").as_deref(), Some("-42"));
        assert_eq!(
            canonical("bigint", "-9223372036854775808").as_deref(),
            Some("-9223372036854775808")
        );
        assert_eq!(canonical("bigint", "9223372036854775808"), None);
        assert_eq!(
            canonical("bigint", "99999999999999999999999999999999999999999"),
            None
        );
        assert_eq!(
            canonical("integer", "2147483647").as_deref(),
            Some("2147483647")
        );
        assert_eq!(canonical("integer", "2147483648"), None);
        assert_eq!(
            canonical("integer", "-2147483648").as_deref(),
            Some("-2147483648")
        );
        for bad in [
            "", " ", "-", "+", "1.0", "1e3", "0x10", "1 2", "١", "--1", "1_000",
        ] {
            assert_eq!(canonical("bigint", bad), None, "{bad:?}");
        }
    }

    #[test]
    fn uuids_as_postgresql_reads_them() {
        let c = Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        for ok in [
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
            "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
        ] {
            assert_eq!(canonical("uuid", ok).as_deref(), c, "{ok:?}");
        }
        for bad in [
            "",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
            "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        ] {
            assert_eq!(canonical("uuid", bad), None, "{bad:?}");
        }
    }

    #[test]
    fn text_is_itself_and_other_types_are_no_keys() {
        assert_eq!(canonical("text", " A b ").as_deref(), Some(" A b "));
        assert_eq!(canonical("numeric", "1"), None);
    }
}
