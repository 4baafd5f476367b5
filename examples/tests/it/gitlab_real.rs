//! The quickstart uses the real GitLab adapter when `GITLAB_URL` and `GITLAB_TOKEN`
//! are set (with `GITLAB_GROUP`), and the sandbox otherwise.

#![allow(clippy::unwrap_used)]

use crate::wire;

#[test]
fn gitlab_is_real_when_its_variables_are_set() {
    assert_eq!(wire(&[]).unwrap(), Vec::<String>::new());
    assert_eq!(
        wire(&[("GITLAB_URL", "https://gitlab.com")]).unwrap(),
        Vec::<String>::new()
    );
    let real = wire(&[
        ("GITLAB_URL", "https://gitlab.example.com"),
        ("GITLAB_TOKEN", "glpat-quickstart-secret"),
        ("GITLAB_GROUP", "acme"),
    ])
    .unwrap();
    assert_eq!(
        real,
        vec!["gitlab https://gitlab.example.com/ group acme".to_owned()]
    );
    let e = wire(&[
        ("GITLAB_URL", "https://gitlab.example.com"),
        ("GITLAB_TOKEN", "glpat-quickstart-secret"),
    ])
    .unwrap_err();
    assert!(
        e.contains("GITLAB_GROUP") && !e.contains("glpat-quickstart-secret"),
        "{e}"
    );
}
