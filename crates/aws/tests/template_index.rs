//! The search index the template deploys projects what the code reads from it: a filter or an
//! event list on an attribute GSI3 does not hold would silently find nothing in AWS, while the
//! local table (created by `bootstrap::ensure_table`) works.

use oms_aws::bootstrap::GSI3_ATTRIBUTES;

#[test]
fn the_template_and_the_local_table_project_the_same_gsi3_attributes() {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
    )
    .expect("template.yaml");
    let gsi3 = template
        .split("- IndexName: GSI3")
        .nth(1)
        .expect("template.yaml declares GSI3");
    let line = gsi3
        .lines()
        .find(|l| l.trim_start().starts_with("NonKeyAttributes:"))
        .expect("GSI3 projects named attributes");
    let listed: Vec<&str> = line
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .expect("a flow list")
        .0
        .split(',')
        .map(str::trim)
        .collect();
    assert!(gsi3.contains("ProjectionType: INCLUDE"), "{gsi3}");
    assert_eq!(listed, GSI3_ATTRIBUTES);
}
