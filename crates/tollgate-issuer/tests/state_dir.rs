//! `state_dir`: keys survive a restart; a mismatched or damaged directory is refused with
//! a clear reason.

mod common;

use common::{bounded, validator_for};
use tollgate::Algorithm;
use tollgate_issuer::{state, DevIssuer, IssuerError, IssuerOptions};

fn opts(dir: &std::path::Path, alg: Algorithm) -> IssuerOptions {
    IssuerOptions {
        alg,
        state_dir: Some(dir.to_path_buf()),
        ..IssuerOptions::default()
    }
}

#[tokio::test]
async fn keys_survive_a_restart() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let first = DevIssuer::start(opts(dir.path(), Algorithm::ES256))
            .await
            .unwrap();
        let old_kid = first.current_kid();
        let old_token = first.token();
        let new_kid = first.rotate();
        let secret = first.hs256_secret();
        first.shutdown().await;

        let stored = state::read_state(dir.path()).unwrap().unwrap();
        assert_eq!(stored.current, new_kid);
        assert_eq!(stored.keys.len(), 2);
        #[cfg(unix)]
        for key in &stored.keys {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(&key.file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{}", key.file);
        }

        let second = DevIssuer::start(opts(dir.path(), Algorithm::ES256))
            .await
            .unwrap();
        assert_eq!(second.current_kid(), new_kid);
        assert_eq!(second.hs256_secret(), secret);
        let v = validator_for(&second).await;
        assert_eq!(v.keys().kids().len(), 2);
        assert!(v.keys().contains_kid(&old_kid));
        // The new server has another port, so another iss: check keys only.
        let claims = tollgate::jws::decode(&old_token, 16384).unwrap();
        assert_eq!(claims.header.kid.as_deref(), Some(old_kid.as_str()));
        let keys_only = tollgate::LocalValidator::new(v.keys().clone(), tollgate::Policy::new());
        assert!(keys_only.validate(&old_token).is_ok());
        assert!(v.validate(&second.token()).is_ok());

        // `tollgate mint --state` reads the current key.
        let (key, hmac, stored) = state::load_current_key(dir.path()).unwrap();
        assert_eq!(key.kid(), Some(new_kid.as_str()));
        assert_eq!(key.alg(), Algorithm::ES256);
        assert_eq!(hmac, secret);
        assert_eq!(stored.issuer.as_deref(), Some(second.url().as_str()));
        second.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn another_algorithm_on_the_same_directory_is_refused() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        DevIssuer::start(opts(dir.path(), Algorithm::EdDSA))
            .await
            .unwrap()
            .shutdown()
            .await;
        let err = DevIssuer::start(opts(dir.path(), Algorithm::RS256))
            .await
            .unwrap_err();
        assert!(matches!(err, IssuerError::State { .. }), "{err:?}");
        assert!(err.to_string().contains("--alg EdDSA"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn a_damaged_directory_is_refused() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(state::STATE_FILE), "{not json").unwrap();
        let err = DevIssuer::start(opts(dir.path(), Algorithm::RS256))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("remove the directory"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = state::load_current_key(empty.path()).unwrap_err();
        assert!(err.to_string().contains("tollgate issuer --state"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn hmac_is_refused_for_the_published_keys() {
    let err = DevIssuer::start(IssuerOptions {
        alg: Algorithm::HS256,
        ..IssuerOptions::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("never put in a JWKS"), "{err}");
}

#[tokio::test]
async fn a_busy_port_is_a_bind_error() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = DevIssuer::start(IssuerOptions {
        listen: busy.local_addr().unwrap(),
        ..IssuerOptions::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, IssuerError::Bind { .. }), "{err:?}");
    assert!(err.to_string().contains("--listen"), "{err}");
}
