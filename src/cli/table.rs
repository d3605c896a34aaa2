//! Plain-text tables for listings (`journal list`, `tasks`): a header row, and every column
//! as wide as its widest cell, so long values (an initiator, an owner) never push the
//! columns after them out of line.

/// Columns are left-aligned unless listed in `right` (numbers); the last column is not
/// padded. Widths count characters, not bytes.
pub fn render(headers: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    // Cells hold journal values (initiators, people, notes): control characters are shown
    // escaped, never sent to the terminal.
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| crate::escape::terminal(c).into_owned())
                .collect()
        })
        .collect();
    let rows = &rows;
    let columns = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, cell) in cells.enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i > 0 {
                out.push_str("  ");
            }
            if right.contains(&i) {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if i + 1 < columns {
                    out.push_str(&" ".repeat(pad));
                }
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(&mut headers.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn columns_stay_aligned_with_long_values() {
        let rows = vec![
            vec!["r1".into(), "a@acme.com".into(), "3".into(), "ok".into()],
            vec![
                "r2".into(),
                "a.very.long.initiator@users.noreply.example.com".into(),
                "12".into(),
                "failed".into(),
            ],
        ];
        let text = render(&["Run", "Initiator", "Changes", "Outcome"], &rows, &[2]);
        let lines: Vec<&str> = text.lines().collect();
        let at = |l: &str| l.find("ok").or(l.find("failed")).or(l.find("Outcome"));
        assert_eq!(at(lines[0]), at(lines[1]));
        assert_eq!(at(lines[1]), at(lines[2]));
        assert!(lines[1].contains("       3  ok"), "{text}");
    }
}
