//! Quickstart: placeholder until the planner lands.
fn main() {
    println!("provision quickstart");
}
