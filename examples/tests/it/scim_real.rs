//! The quickstart's `expenses` system is the real SCIM adapter when
//! `PROVISION_SCIM_URL` is set (scim2-server on loopback, or any SCIM 2.0
//! application; `PROVISION_SCIM_TOKEN` its bearer token), and the sandbox otherwise.

#![allow(clippy::unwrap_used)]

use crate::gitlab_real::wire;

#[test]
fn the_scim_system_is_real_when_its_url_is_set() {
    assert_eq!(wire(&[]).unwrap(), Vec::<String>::new());
    let real = wire(&[
        ("PROVISION_SCIM_URL", "http://127.0.0.1:8089/v2"),
        ("PROVISION_SCIM_TOKEN", "scim-quickstart-secret"),
    ])
    .unwrap();
    assert_eq!(
        real,
        vec!["expenses SCIM at http://127.0.0.1:8089/v2/".to_owned()]
    );
    let e = wire(&[("PROVISION_SCIM_URL", "http://127.0.0.1:8089/v2")]).unwrap_err();
    assert!(e.contains("token") && e.contains("expenses"), "{e}");
}
