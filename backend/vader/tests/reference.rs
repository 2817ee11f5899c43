//! Compares the scorer with the reference Python package on every line of
//! `tests/corpus.txt`: `tests/reference.py` scores the corpus with vaderSentiment 3.3.2 and
//! prints one JSON object per line; every score must be bit-identical (the sign of a
//! rounded zero included) to ours.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use vader::{Scores, SentimentIntensityAnalyzer};

const INSTALL_HINT: &str = "pip install vaderSentiment==3.3.2";

fn corpus_lines(corpus: &str) -> Vec<&str> {
    // Split on "\n" only, exactly as reference.py does.
    corpus
        .strip_suffix('\n')
        .unwrap_or(corpus)
        .split('\n')
        .collect()
}

fn reference_output(corpus_path: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(corpus_path)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run python3 ({error}); the reference needs python3 and `{INSTALL_HINT}`")
        });
    assert!(
        output.status.success(),
        "the reference script failed ({}); is the reference installed? `{INSTALL_HINT}`\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("reference output is UTF-8 JSON")
}

fn reference_scores(line: &Value) -> Option<Scores> {
    let field = |name: &str| line.get(name)?.as_f64();
    Some(Scores {
        neg: field("neg")?,
        neu: field("neu")?,
        pos: field("pos")?,
        compound: field("compound")?,
    })
}

fn identical(ours: &Scores, theirs: &Scores) -> bool {
    let bits = |s: &Scores| [s.neg, s.neu, s.pos, s.compound].map(f64::to_bits);
    bits(ours) == bits(theirs)
}

#[test]
fn every_corpus_line_matches_vader_sentiment_3_3_2() {
    let corpus_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus.txt");
    let corpus = std::fs::read_to_string(&corpus_path).expect("tests/corpus.txt is readable UTF-8");
    let lines = corpus_lines(&corpus);
    let output = reference_output(&corpus_path);
    let reference: Vec<Value> = output
        .lines()
        .map(|json| serde_json::from_str(json).expect("reference prints one JSON object per line"))
        .collect();
    assert_eq!(
        reference.len(),
        lines.len(),
        "reference scored a different number of lines"
    );

    let analyzer = SentimentIntensityAnalyzer::new();
    let mut mismatches = Vec::new();
    for (number, (text, expected)) in lines.iter().zip(&reference).enumerate() {
        assert_eq!(
            expected["text"].as_str(),
            Some(*text),
            "line {} misaligned",
            number + 1
        );
        let theirs = reference_scores(expected).expect("reference line has the four scores");
        let ours = analyzer.polarity_scores(text);
        if !identical(&ours, &theirs) {
            mismatches.push(format!(
                "line {}: {text:?}\n  ours:      {ours:?}\n  reference: {theirs:?}",
                number + 1
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} corpus lines differ from vaderSentiment 3.3.2:\n{}",
        mismatches.len(),
        lines.len(),
        mismatches.join("\n")
    );
    assert!(
        lines.len() >= 300,
        "the corpus should stay varied and large"
    );
}
