//! Rust side of the Markov benchmark (bench/classic.sh): times building the alphabet,
//! encoding the characters and fitting an order-5 chain (`MarkovChain::fit`) on a text.
//! Prints one JSON line. Usage: `cargo bench --bench markov_fit -- FILE.txt`.

use argen::classic::markov::MarkovChain;
use argen::data::series::SymbolSeries;

fn main() {
    let file = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .unwrap_or_else(|| "/tmp/argen-bench/text5mb.txt".into());
    let text = std::fs::read_to_string(&file)
        .expect("the benchmark text (run bench/make_classic_data.py first)");
    let start = std::time::Instant::now();
    let series = SymbolSeries::from_text("bench", &text);
    let chain = MarkovChain::fit(&series.symbols, series.alphabet.len(), 5, 0.01).expect("fit");
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"seconds\": {seconds}, \"contexts\": {}, \"transitions\": {}, \"symbols\": {}}}",
        chain.seen_contexts(),
        chain.seen_transitions(),
        series.alphabet.len()
    );
}
