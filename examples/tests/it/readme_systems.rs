//! The README's table of real systems and the quickstart's opening hint name the same
//! systems (the hint is built from `REAL_SYSTEM_VARIABLES`).

use provision_examples::systems::REAL_SYSTEM_VARIABLES;

#[test]
fn the_readme_table_of_real_systems_lists_what_the_quickstart_can_use() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let section = readme
        .split("\n### Real ")
        .nth(1)
        .expect("a `### Real ...` section in README.md");
    let heading = section.lines().next().unwrap_or_default();
    let table: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with("| system |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(1).map(str::trim))
        .collect();
    let names: Vec<&str> = REAL_SYSTEM_VARIABLES.iter().map(|(n, _)| *n).collect();
    assert_eq!(table, names, "the README's table of real systems");
    for (name, variables) in REAL_SYSTEM_VARIABLES {
        assert!(
            heading.contains(name),
            "{name} is not in the heading: {heading}"
        );
        let prefix = variables.trim_end_matches('*');
        assert!(
            section.contains(&format!("`{prefix}")),
            "the README's table names no {variables} variable"
        );
    }
}
