//! Text progress bars for the command line.

/// Cells in a bar.
const WIDTH: u64 = 30;

/// `[#####-----]`: `done` of `total` as a bar (full when `total` is 0).
pub fn bar(done: u64, total: u64) -> String {
    let filled = (done.min(total) * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH);
    format!(
        "[{}{}]",
        "#".repeat(filled as usize),
        "-".repeat((WIDTH - filled) as usize)
    )
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn a_bar_fills_in_proportion() {
        assert_eq!(bar(0, 10), format!("[{}]", "-".repeat(30)));
        assert_eq!(
            bar(5, 10),
            format!("[{}{}]", "#".repeat(15), "-".repeat(15))
        );
        assert_eq!(bar(7, 0), format!("[{}]", "#".repeat(30)));
        assert_eq!(bar(20, 10), format!("[{}]", "#".repeat(30)));
    }
}
