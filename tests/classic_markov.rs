//! Markov chains of order k: every exact computation checked against full enumeration of
//! the paths, the reverse chain against the forward one, sampling against the fitted
//! probabilities by a chi-square test at a fixed seed, and sparse storage at order 5 over
//! 100 symbols.

use argen::classic::markov::{MarkovChain, MarkovError};
use rand::RngExt;

/// A chain of order `k` over 3 symbols fitted (α = 0.5) to a seeded, biased random sequence,
/// so that its transition probabilities are irregular and all positive.
fn chain(k: usize) -> MarkovChain {
    let mut rng = argen::rng::seeded(42);
    let mut seq = vec![0u32; 300];
    for t in 1..seq.len() {
        let u: f64 = rng.random();
        // Sticky and biased: repeat the last symbol half the time.
        seq[t] = if u < 0.5 {
            seq[t - 1]
        } else if u < 0.8 {
            (seq[t - 1] + 1) % 3
        } else {
            (seq[t - 1] + 2) % 3
        };
    }
    MarkovChain::fit(&seq, 3, k, 0.5).unwrap()
}

/// Every sequence of length n over `v` symbols.
fn all_sequences(v: u32, n: usize) -> Vec<Vec<u32>> {
    let mut out = vec![vec![]];
    for _ in 0..n {
        out = out
            .into_iter()
            .flat_map(|s| {
                (0..v).map(move |x| {
                    let mut s = s.clone();
                    s.push(x);
                    s
                })
            })
            .collect();
    }
    out
}

/// Probability of `path` continuing `past`, as a product of one-step probabilities.
fn path_prob(chain: &MarkovChain, past: &[u32], path: &[u32]) -> f64 {
    let mut seq = past.to_vec();
    let mut p = 1.0;
    for &s in path {
        p *= chain.prob(chain.context_code(&seq), s);
        seq.push(s);
    }
    p
}

#[test]
fn all_sequences_of_length_6_over_3_symbols_sum_to_one() {
    for k in [0, 1, 2] {
        let chain = chain(k);
        let pi = chain.stationary().unwrap();
        assert!((pi.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let total: f64 = all_sequences(3, 6)
            .iter()
            .map(|s| chain.joint_log_prob(s, &pi).unwrap().exp())
            .sum();
        assert!((total - 1.0).abs() < 1e-12, "order {k}: total {total}");
        // π is stationary: the distribution of the next context is π again.
        let states = chain.num_states() as usize;
        let mut next = vec![0.0; states];
        for c in 0..states {
            for s in 0..3u32 {
                next[chain.advance(c as u64, s) as usize] += pi[c] * chain.prob(c as u64, s);
            }
        }
        for (a, b) in next.iter().zip(&pi) {
            assert!((a - b).abs() < 1e-12, "order {k}: {next:?} vs {pi:?}");
        }
    }
}

#[test]
fn n_step_marginal_equals_the_sum_over_all_paths() {
    let chain = chain(2);
    let past = [2, 0];
    for n in 1..=5 {
        let got = chain.n_step(&past, n).unwrap();
        let mut want = [0.0; 3];
        for path in all_sequences(3, n) {
            want[path[n - 1] as usize] += path_prob(&chain, &past, &path);
        }
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-13, "n = {n}: {got:?} vs {want:?}");
        }
    }
}

#[test]
fn viterbi_continuation_is_the_best_of_all_enumerated_continuations() {
    for k in [1, 2] {
        let chain = chain(k);
        let past = [1, 1];
        for n in 1..=6 {
            let (path, lp) = chain.most_likely_continuation(&past, n).unwrap();
            let (best, best_p) = all_sequences(3, n)
                .into_iter()
                .map(|p| {
                    let q = path_prob(&chain, &past, &p);
                    (p, q)
                })
                .fold(
                    (vec![], -1.0),
                    |(bp, bq), (p, q)| {
                        if q > bq { (p, q) } else { (bp, bq) }
                    },
                );
            assert!(
                (lp - best_p.ln()).abs() < 1e-12,
                "order {k}, n = {n}: {lp} vs {}",
                best_p.ln()
            );
            assert_eq!(path, best, "order {k}, n = {n}");
        }
    }
}

#[test]
fn probability_of_a_symbol_within_n_steps_equals_enumeration() {
    let chain = chain(2);
    let past = [0, 0];
    for target in 0..3 {
        for n in 1..=5 {
            let got = chain.prob_within(&past, target, n).unwrap();
            let want: f64 = all_sequences(3, n)
                .iter()
                .filter(|p| p.contains(&target))
                .map(|p| path_prob(&chain, &past, p))
                .sum();
            assert!((got - want).abs() < 1e-13, "target {target}, n {n}");
        }
    }
}

#[test]
fn reverse_chain_joint_equals_forward_joint_from_stationarity() {
    for k in [0, 1, 2] {
        let chain = chain(k);
        let reverse = chain.reverse().unwrap();
        let pi = reverse.stationary.clone();
        for after in all_sequences(3, k) {
            let d = reverse.distribution(&after).unwrap();
            assert!((d.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{d:?}");
        }
        for s in all_sequences(3, 6) {
            let forward = chain.joint_log_prob(&s, &pi).unwrap();
            let backward = reverse.joint_log_prob(&s).unwrap();
            assert!((forward - backward).abs() < 1e-10, "order {k}, {s:?}");
        }
        // Sampling backwards is seeded and has the asked length.
        let a = reverse.sample_backwards(&[0, 1], 20, 5, 1.0).unwrap();
        assert_eq!(a.len(), 20);
        assert_eq!(a, reverse.sample_backwards(&[0, 1], 20, 5, 1.0).unwrap());
    }
}

#[test]
fn sample_frequencies_match_the_transition_probabilities() {
    // Pearson's chi-square over every (context, symbol) cell of an order-2 chain: 9
    // contexts x (3 - 1) free cells = 18 degrees of freedom; the 0.999 quantile is 42.31.
    let chain = chain(2);
    let seq = chain.sample(&[0, 0], 60_000, 7, 1.0).unwrap();
    let mut counts = [[0u64; 3]; 9];
    let mut ctx = vec![0u32, 0];
    for &s in &seq {
        counts[chain.context_code(&ctx) as usize][s as usize] += 1;
        ctx.push(s);
    }
    let mut chi2 = 0.0;
    for (c, row) in counts.iter().enumerate() {
        let n: u64 = row.iter().sum();
        for s in 0..3u32 {
            let expected = n as f64 * chain.prob(c as u64, s);
            chi2 += (row[s as usize] as f64 - expected).powi(2) / expected;
        }
    }
    assert!(chi2 < 42.31, "chi-square {chi2}");
    // The same test rejects samples drawn from a different chain.
    let other = MarkovChain::fit(&[0, 1, 2, 0, 0, 1, 1, 2, 2, 1, 0, 2], 3, 2, 1.0).unwrap();
    let seq = other.sample(&[0, 0], 60_000, 7, 1.0).unwrap();
    let mut counts = [[0u64; 3]; 9];
    let mut ctx = vec![0u32, 0];
    for &s in &seq {
        counts[chain.context_code(&ctx) as usize][s as usize] += 1;
        ctx.push(s);
    }
    let mut chi2 = 0.0;
    for (c, row) in counts.iter().enumerate() {
        let n: u64 = row.iter().sum();
        for s in 0..3u32 {
            let expected = n as f64 * chain.prob(c as u64, s);
            if expected > 0.0 {
                chi2 += (row[s as usize] as f64 - expected).powi(2) / expected;
            }
        }
    }
    assert!(chi2 > 42.31, "chi-square {chi2} should reject");
}

#[test]
fn temperature_zero_is_greedy_and_sampling_is_seeded() {
    let chain = chain(1);
    let greedy = chain.sample(&[2], 10, 0, 0.0).unwrap();
    let mut ctx = 2u32;
    for &s in &greedy {
        let d = chain.next_distribution(ctx as u64);
        let best = (0..3).max_by(|&a, &b| d[a].total_cmp(&d[b])).unwrap();
        assert_eq!(s as usize, best);
        ctx = s;
    }
    assert_eq!(
        chain.sample(&[0], 50, 9, 0.7).unwrap(),
        chain.sample(&[0], 50, 9, 0.7).unwrap()
    );
    assert_ne!(
        chain.sample(&[0], 50, 9, 1.0).unwrap(),
        chain.sample(&[0], 50, 10, 1.0).unwrap()
    );
}

#[test]
fn smoothing_keeps_unseen_transitions_finite_and_zero_smoothing_does_not() {
    let seq = [0, 1, 0, 1, 0, 1, 2];
    let smooth = MarkovChain::fit(&seq, 3, 1, 0.1).unwrap();
    let (ll, n) = smooth.log_likelihood(&[2, 2, 1], 0).unwrap();
    assert!(ll.is_finite() && n == 2);
    let raw = MarkovChain::fit(&seq, 3, 1, 0.0).unwrap();
    assert_eq!(raw.log_likelihood(&[0, 0], 0).unwrap().0, f64::NEG_INFINITY);
    // Perplexity is exp of the mean negative log-likelihood.
    let (ll, n) = smooth.log_likelihood(&seq, 0).unwrap();
    let ppl = smooth.perplexity(&seq, 0).unwrap();
    assert!((ppl - (-ll / n as f64).exp()).abs() < 1e-12);
}

#[test]
fn order_5_over_100_symbols_on_a_million_symbols_is_sparse() {
    // A text-like sequence: words of 2..8 symbols from a seeded stream, separated by 0.
    let mut rng = argen::rng::seeded(1);
    let mut seq = Vec::with_capacity(1_000_000);
    while seq.len() < 1_000_000 {
        let len = 2 + (rng.random::<f64>() * 7.0) as usize;
        for _ in 0..len {
            let u: f64 = rng.random();
            seq.push(1 + (u * u * 99.0) as u32);
        }
        seq.push(0);
    }
    let chain = MarkovChain::fit(&seq, 100, 5, 0.01).unwrap();
    assert_eq!(chain.num_states(), 10_000_000_000);
    assert!(chain.seen_contexts() < seq.len());
    let (ll, n) = chain.log_likelihood(&seq[..10_000], 0).unwrap();
    assert!(ll.is_finite() && n == 10_000 - 5);
    for ctx in [chain.context_code(&seq[..5]), 123_456_789] {
        let total: f64 = (0..100).map(|s| chain.prob(ctx, s)).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }
    assert!(matches!(
        chain.stationary(),
        Err(MarkovError::DenseTooLarge { .. })
    ));
}

#[test]
fn bad_inputs_are_errors() {
    assert!(matches!(
        MarkovChain::fit(&[0, 1], 3, 2, 1.0),
        Err(MarkovError::TooShort { .. })
    ));
    assert!(matches!(
        MarkovChain::fit(&[0, 5, 1], 3, 1, 1.0),
        Err(MarkovError::BadSymbol { .. })
    ));
    assert!(MarkovChain::fit(&[0, 1, 1], 3, 1, -1.0).is_err());
    assert!(MarkovChain::fit(&[0, 1, 1], 3, 100, 1.0).is_err());
    let chain = chain(2);
    assert!(matches!(
        chain.n_step(&[1], 3),
        Err(MarkovError::ShortContext { .. })
    ));
}
