//! Login passwords checked against Argon2 PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`),
//! as `arca serve --htpasswd` reads them. The parameters come from the string itself; the
//! comparison inside `argon2` is constant-time.

use argon2::password_hash::PasswordVerifier;

/// Does `password` match `phc`? `Err` with the parser's reason when `phc` is not an Argon2
/// PHC string at all (a configuration error, not a wrong password).
pub fn verify_password_hash(password: &[u8], phc: &str) -> Result<bool, String> {
    if !phc.starts_with("$argon2") {
        return Err("not an Argon2 PHC string ($argon2id$v=19$m=…)".into());
    }
    match argon2::Argon2::default().verify_password(password, phc) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher;

    #[test]
    fn the_right_password_matches_and_a_wrong_one_or_a_bad_hash_does_not() {
        let params = argon2::Params::new(256, 1, 1, None).unwrap();
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let phc = a.hash_password(b"s3cret").unwrap().to_string();
        assert_eq!(verify_password_hash(b"s3cret", &phc), Ok(true));
        assert_eq!(verify_password_hash(b"s3cret!", &phc), Ok(false));
        assert!(verify_password_hash(b"s3cret", "$1$plain-md5").is_err());
        assert!(verify_password_hash(b"s3cret", "$argon2id$v=19$garbage").is_err());
    }
}
