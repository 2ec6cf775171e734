//! The names of the tables that hold a feature or view version's values: the
//! version's own (`name@vN`), a frozen snapshot (`name@vN#frozen`) and a lane's
//! private copy of a view (`name@vN#laneID`). Online-store tables and
//! state-key prefixes (see [`crate::state_keys`]) use these names.

/// A feature or view version's table: `name@vN`.
pub fn feature_table(name: &str, version: u32) -> String {
    format!("{name}@v{version}")
}

/// The online table holding a frozen version's snapshot.
pub fn frozen_table(table: &str) -> String {
    format!("{table}#frozen")
}

/// The table of lane `lane`'s private copy of view table `view`, while another
/// lane holds the view itself.
pub fn private_view_table(view: &str, lane: u64) -> String {
    format!("{view}#lane{lane}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert_eq!(feature_table("spend_7d", 2), "spend_7d@v2");
        assert_eq!(frozen_table("spend_7d@v2"), "spend_7d@v2#frozen");
        assert_eq!(private_view_table("sales@v1", 3), "sales@v1#lane3");
    }
}
