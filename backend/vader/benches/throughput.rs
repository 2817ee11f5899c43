//! Single-thread throughput of `polarity_scores` over the reference corpus, printed as
//! analyses per second for the lead's report. Bounded in iterations and time; asserts
//! nothing about speed. Run with `cargo bench -p vader --bench throughput`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use vader::SentimentIntensityAnalyzer;

const CORPUS: &str = include_str!("../tests/corpus.txt");
const MAX_ROUNDS: usize = 2_000;
const TIME_BUDGET: Duration = Duration::from_secs(5);

fn main() {
    let started = Instant::now();
    let analyzer = SentimentIntensityAnalyzer::new();
    println!("construction: {:?}", started.elapsed());

    let texts: Vec<&str> = CORPUS.lines().collect();
    let bytes: usize = texts.iter().map(|text| text.len()).sum();
    let started = Instant::now();
    let mut analyses = 0_usize;
    for _ in 0..MAX_ROUNDS {
        for text in &texts {
            black_box(analyzer.polarity_scores(black_box(text)));
        }
        analyses += texts.len();
        if started.elapsed() >= TIME_BUDGET {
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{analyses} analyses of {} corpus texts (mean {} bytes) in {elapsed:.2} s: {:.0} analyses/s on one core",
        texts.len(),
        bytes / texts.len(),
        analyses as f64 / elapsed
    );
}
