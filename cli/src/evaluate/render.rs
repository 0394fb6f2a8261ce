//! `liveness evaluate` output: the summaries as JSON (for machines and diffs), or as two
//! tables, one column per model set: the PAD-only figures, then the full pipeline's outcomes.

use super::metrics::Summary;
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
}

pub fn render(summaries: &[Summary], format: Format) -> String {
    #[derive(Serialize)]
    struct Output<'a> {
        model_sets: &'a [Summary],
    }
    match format {
        Format::Json => {
            let output = Output {
                model_sets: summaries,
            };
            serde_json::to_string_pretty(&output).expect("a summary serialises") + "\n"
        }
        Format::Table => [pad(summaries), pipeline(summaries)]
            .map(|grid| table(&grid))
            .join("\n"),
        Format::Markdown => [pad(summaries), pipeline(summaries)]
            .map(|grid| markdown(&grid))
            .join("\n"),
    }
}

/// A header and rows of cells; the first column names the row, then one column per set.
type Grid = (Vec<String>, Vec<Vec<String>>);

/// 0.07 * 100 is 7.000000000000001: round to what a percentage label needs.
pub(super) fn hundredths(rate: f64) -> f64 {
    (rate * 1e4).round() / 100.0
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or("n/a".to_string(), |r| format!("{:.2}%", r * 100.0))
}

/// Thresholds are already on a 6-decimal grid: Display prints 0.6, not 0.600000.
fn number(value: Option<f64>) -> String {
    value.map_or("n/a".to_string(), |v| v.to_string())
}

fn with_threshold(rate: Option<f64>, threshold: Option<f64>) -> String {
    match threshold {
        Some(t) => format!("{} ({t})", percent(rate)),
        None => percent(rate),
    }
}

fn header(title: &str, summaries: &[Summary]) -> Vec<String> {
    let sets = summaries.iter().map(|s| s.model_set.clone());
    std::iter::once(title.to_string()).chain(sets).collect()
}

/// Attack types of every set, so that sets evaluated on different data still line up.
fn attack_types(summaries: &[Summary]) -> BTreeSet<String> {
    let types = summaries.iter().flat_map(|s| s.samples.attacks.keys());
    types.cloned().collect()
}

/// `row(name, cell)` appends a row: its name, then `cell` of every set.
fn row_builder<'a>(
    summaries: &'a [Summary],
    rows: &'a mut Vec<Vec<String>>,
) -> impl FnMut(String, &dyn Fn(&Summary) -> String) + 'a {
    move |name, cell| {
        rows.push(
            std::iter::once(name)
                .chain(summaries.iter().map(cell))
                .collect(),
        )
    }
}

fn pad(summaries: &[Summary]) -> Grid {
    let mut rows = Vec::new();
    let mut row = row_builder(summaries, &mut rows);
    row("threshold".into(), &|s| s.threshold.to_string());
    row("faces found (bona fide / attacks)".into(), &|s| {
        let attacks: usize = s.faces_found.attacks.values().sum();
        format!("{} / {attacks}", s.faces_found.bona_fide)
    });
    for kind in attack_types(summaries) {
        row(format!("APCER {kind}"), &|s| {
            percent(s.pad.apcer.get(&kind).copied().flatten())
        });
    }
    row("APCER max".into(), &|s| percent(s.pad.apcer_max));
    row("BPCER".into(), &|s| percent(s.pad.bpcer));
    row("ACER".into(), &|s| percent(s.pad.acer));
    row("EER, worst attack type (threshold)".into(), &|s| {
        with_threshold(s.pad.eer.rate, s.pad.eer.threshold)
    });
    row("EER, attacks pooled (threshold)".into(), &|s| {
        with_threshold(s.pad.eer_pooled.rate, s.pad.eer_pooled.threshold)
    });
    let targets = summaries.first().map(|s| s.pad.bpcer_at_apcer.len());
    for i in 0..targets.unwrap_or(0) {
        let target = summaries[0].pad.bpcer_at_apcer[i].apcer_target;
        row(
            format!("BPCER @ APCER {}% (threshold)", hundredths(target)),
            &|s| {
                let at = s.pad.bpcer_at_apcer.get(i);
                with_threshold(at.and_then(|a| a.bpcer), at.and_then(|a| a.threshold))
            },
        );
    }
    if summaries.iter().any(|s| s.pad.recommended.is_some()) {
        let rec = |s: &Summary| s.pad.recommended.clone();
        row("BPCER target".into(), &|s| {
            percent(rec(s).map(|r| r.bpcer_target))
        });
        row("recommended threshold".into(), &|s| {
            number(rec(s).and_then(|r| r.threshold))
        });
        row("BPCER at recommended".into(), &|s| {
            percent(rec(s).and_then(|r| r.bpcer))
        });
        row("APCER max at recommended".into(), &|s| {
            percent(rec(s).and_then(|r| r.apcer_max))
        });
    }
    drop(row);
    (header("PAD only (images with a face)", summaries), rows)
}

fn pipeline(summaries: &[Summary]) -> Grid {
    let mut rows = Vec::new();
    let mut row = row_builder(summaries, &mut rows);
    let labels = std::iter::once(None).chain(attack_types(summaries).into_iter().map(Some));
    for label in labels {
        let outcomes = |s: &Summary| match &label {
            None => Some(s.pipeline.outcomes.bona_fide.clone()),
            Some(kind) => s.pipeline.outcomes.attacks.get(kind).cloned(),
        };
        let keys: BTreeSet<String> = (summaries.iter())
            .flat_map(|s| outcomes(s).into_iter().flat_map(|m| m.into_keys()))
            .collect();
        // Valid first, then the codes in order: the row a reader looks for first.
        let keys = (keys
            .contains("valid")
            .then(|| "valid".to_string())
            .into_iter())
        .chain(keys.iter().filter(|k| *k != "valid").cloned());
        let name = label.as_deref().unwrap_or("bona fide");
        for key in keys {
            row(format!("{name}: {key}"), &|s| {
                let count = outcomes(s).and_then(|m| m.get(&key).copied());
                count.unwrap_or(0).to_string()
            });
        }
    }
    for kind in attack_types(summaries) {
        row(format!("APCER {kind}"), &|s| {
            percent(s.pipeline.apcer.get(&kind).copied().flatten())
        });
    }
    row("APCER max".into(), &|s| percent(s.pipeline.apcer_max));
    row("BPCER".into(), &|s| percent(s.pipeline.bpcer));
    drop(row);
    (header("full pipeline (all images)", summaries), rows)
}

fn table((header, rows): &Grid) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    for row in rows {
        table.add_row(row);
    }
    for column in table.column_iter_mut().skip(1) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    format!("{table}\n")
}

fn markdown((header, rows): &Grid) -> String {
    // A pipe inside a cell would end it early.
    let line = |cells: &[String]| {
        let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let rule: Vec<String> = (0..header.len())
        .map(|i| if i == 0 { "---" } else { "---:" }.to_string())
        .collect();
    let mut out = line(header) + &line(&rule);
    for row in rows {
        out += &line(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::metrics::{summarize, tests::hand_run, tests::run};

    fn summaries() -> Vec<Summary> {
        let empty = run(0.7, "bona_fide - 704, print - 708");
        let empty = Summary {
            model_set: "empty".into(),
            ..summarize(&empty, Some(0.25))
        };
        vec![summarize(&hand_run(), Some(0.25)), empty]
    }

    #[test]
    fn json_round_trips_and_is_stable() {
        let text = render(&summaries(), Format::Json);
        assert!(text.ends_with("}\n"));
        assert_eq!(text, render(&summaries(), Format::Json));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let sets = value["model_sets"].as_array().unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0]["pad"]["eer"]["rate"], 0.291667);
        assert_eq!(sets[0]["pipeline"]["outcomes"]["bona_fide"]["702"], 1);
        assert!(sets[1]["pad"]["bpcer"].is_null());
    }

    #[test]
    fn table_has_a_column_per_set() {
        let text = render(&summaries(), Format::Table);
        let row = |name: &str| {
            let line = text.lines().find(|l| l.contains(name));
            let line = line.unwrap_or_else(|| panic!("no row {name:?} in\n{text}"));
            line.split('┆')
                .map(|c| c.trim_matches(['│', ' ']).to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(row("PAD only")[1..], ["hand", "empty"]);
        assert_eq!(row("APCER print")[1..], ["33.33%", "n/a"]);
        assert_eq!(
            row("EER, worst attack type (threshold)")[1..],
            ["29.17% (0.6)", "n/a"]
        );
        assert_eq!(
            row("EER, attacks pooled (threshold)")[1..],
            ["22.50% (0.6)", "n/a"]
        );
        assert_eq!(row("BPCER @ APCER 5%")[1..], ["50.00% (0.8)", "n/a"]);
        assert_eq!(row("recommended threshold")[1..], ["0.6", "n/a"]);
        assert_eq!(row("faces found")[1..], ["4 / 5", "0 / 0"]);
        assert_eq!(row("print: 708")[1..], ["1", "1"]);
        assert_eq!(row("bona fide: valid")[1..], ["3", "0"]);
        assert!(text.contains("full pipeline (all images)"));
    }

    #[test]
    fn markdown_tables_paste_into_docs() {
        let text = render(&summaries(), Format::Markdown);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "| PAD only (images with a face) | hand | empty |");
        assert_eq!(lines[1], "| --- | ---: | ---: |");
        for row in [
            "| APCER replay | 50.00% | n/a |",
            "| ACER | 37.50% | n/a |",
            "| BPCER @ APCER 1% (threshold) | 50.00% (0.8) | n/a |",
            "| bona fide: 702 | 1 | 0 |",
            "| replay: 715 | 2 | 0 |",
            "| APCER max | 25.00% | 0.00% |",
            "| BPCER | 40.00% | 100.00% |",
        ] {
            assert!(lines.contains(&row), "no {row:?} in\n{text}");
        }
        // Two tables, separated by a blank line, every other line a table row.
        assert_eq!(lines.iter().filter(|l| l.is_empty()).count(), 1);
        assert!(lines.iter().all(|l| l.is_empty() || l.starts_with('|')));
    }
}
