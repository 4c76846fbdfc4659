//! Markov chains of order k over a finite alphabet of V symbols 0..V-1:
//!
//! p(x_t | x_<t) = p(x_t | x_{t-k}, ..., x_{t-1}),
//!
//! fitted by counting with additive smoothing α:
//!
//! p(s | c) = (n(c, s) + α) / (n(c) + α V),
//!
//! n(c, s) the number of times context c (the k previous symbols) is followed by s and
//! n(c) = Σ_s n(c, s). A context never seen in training gets the uniform distribution 1/V
//! (the limit of the formula as its counts vanish), so only α = 0 can give a seen context a
//! zero probability.
//!
//! Storage is sparse: a hash map from the context, encoded as the integer
//! c = Σ_{i=1..k} x_{t-i} V^{i-1} (the newest symbol is the least significant digit, see
//! [`MarkovChain::context_code`]), to the list of symbols that followed it with their
//! counts. Order 5 over 100 symbols on a text of millions of characters takes memory in
//! proportion to the number of distinct (k+1)-grams of the text, not to V^(k+1).
//!
//! The dynamic programmes (n-step marginals, stationary distribution, most likely
//! continuation, hitting probabilities, reverse chain) work on the full state space of the
//! V^k contexts, so they need V^(k+1) to stay below [`DENSE_LIMIT`].

use rand::RngExt;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// The largest V^(k+1) (states times symbols) that the dynamic programmes accept.
pub const DENSE_LIMIT: u64 = 1 << 26;

/// The counts that follow one context.
#[derive(Debug, Clone, Default, PartialEq)]
struct Successors {
    /// n(c).
    total: u64,
    /// (s, n(c, s)) for every s seen after c, sorted by s.
    next: Vec<(u32, u32)>,
}

/// A Markov chain of order k fitted by counting; see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "ChainRepr", try_from = "ChainRepr")]
pub struct MarkovChain {
    order: usize,
    alphabet_size: usize,
    smoothing: f64,
    /// V^k: the number of contexts.
    states: u64,
    contexts: FxHashMap<u64, Successors>,
}

/// The stored form of a chain: its settings and, per seen context (sorted by code), the
/// context's code and the (symbol, count) pairs that followed it.
#[derive(Serialize, Deserialize)]
struct ChainRepr {
    order: usize,
    alphabet_size: usize,
    smoothing: f64,
    contexts: Vec<(u64, Vec<(u32, u32)>)>,
}

impl From<MarkovChain> for ChainRepr {
    fn from(chain: MarkovChain) -> ChainRepr {
        let mut contexts: Vec<(u64, Vec<(u32, u32)>)> = chain
            .contexts
            .into_iter()
            .map(|(c, s)| (c, s.next))
            .collect();
        contexts.sort_unstable_by_key(|(c, _)| *c);
        ChainRepr {
            order: chain.order,
            alphabet_size: chain.alphabet_size,
            smoothing: chain.smoothing,
            contexts,
        }
    }
}

impl TryFrom<ChainRepr> for MarkovChain {
    type Error = MarkovError;

    fn try_from(r: ChainRepr) -> Result<MarkovChain, MarkovError> {
        let mut chain = MarkovChain::empty(r.alphabet_size, r.order, r.smoothing)?;
        for (code, mut next) in r.contexts {
            if code >= chain.states || next.iter().any(|&(s, _)| s as usize >= r.alphabet_size) {
                return Err(MarkovError::Corrupt);
            }
            next.sort_unstable();
            let total = next.iter().map(|&(_, n)| n as u64).sum();
            chain.contexts.insert(code, Successors { total, next });
        }
        Ok(chain)
    }
}

/// Why a chain could not be fitted or queried.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MarkovError {
    /// The alphabet is empty.
    #[error("the alphabet is empty")]
    EmptyAlphabet,
    /// V^(k+1) does not fit in 64 bits.
    #[error("order {order} over {alphabet_size} symbols is too large: V^(k+1) must fit in 64 bits")]
    TooLarge {
        /// k.
        order: usize,
        /// V.
        alphabet_size: usize,
    },
    /// The smoothing is negative or not finite.
    #[error("the smoothing must be a finite number >= 0, got {0}")]
    BadSmoothing(f64),
    /// The sequence has no transition to count.
    #[error("the sequence has {len} symbols, too few for order {order}: it needs at least {}", order + 1)]
    TooShort {
        /// Its length.
        len: usize,
        /// k.
        order: usize,
    },
    /// A symbol is outside the alphabet.
    #[error("symbol {symbol} at position {position} is outside the alphabet 0..{alphabet_size}")]
    BadSymbol {
        /// The symbol.
        symbol: u32,
        /// Its position.
        position: usize,
        /// V.
        alphabet_size: usize,
    },
    /// The state space is too large for a dynamic programme.
    #[error(
        "{states} contexts x {alphabet_size} symbols is too many for an exact computation \
         over all contexts (limit {DENSE_LIMIT}); use a lower order"
    )]
    DenseTooLarge {
        /// V^k.
        states: u64,
        /// V.
        alphabet_size: usize,
    },
    /// A context of the wrong length.
    #[error("the context has {got} symbols; this chain of order {order} needs at least {order}")]
    ShortContext {
        /// Its length.
        got: usize,
        /// k.
        order: usize,
    },
    /// The power iteration for the stationary distribution did not settle.
    #[error("the stationary distribution did not converge in {0} iterations")]
    NoConvergence(usize),
    /// A context has stationary probability 0, so the reverse chain is undefined there.
    #[error("the context has stationary probability 0: the reverse chain is undefined there")]
    ZeroStationary,
    /// The stored chain is inconsistent.
    #[error("the stored chain is inconsistent (a context or symbol out of range)")]
    Corrupt,
}

impl MarkovChain {
    fn empty(alphabet_size: usize, order: usize, smoothing: f64) -> Result<Self, MarkovError> {
        if alphabet_size == 0 {
            return Err(MarkovError::EmptyAlphabet);
        }
        if !(smoothing >= 0.0 && smoothing.is_finite()) {
            return Err(MarkovError::BadSmoothing(smoothing));
        }
        let too_large = MarkovError::TooLarge {
            order,
            alphabet_size,
        };
        let v = alphabet_size as u64;
        let k = u32::try_from(order).map_err(|_| too_large.clone())?;
        v.checked_pow(k + 1).ok_or(too_large.clone())?;
        Ok(MarkovChain {
            order,
            alphabet_size,
            smoothing,
            states: v.pow(k),
            contexts: FxHashMap::default(),
        })
    }

    /// Fits a chain of order `order` to `symbols` (each below `alphabet_size`) by counting
    /// every transition (x_{t-k..t-1} → x_t), t = k..n-1, with additive smoothing.
    pub fn fit(
        symbols: &[u32],
        alphabet_size: usize,
        order: usize,
        smoothing: f64,
    ) -> Result<Self, MarkovError> {
        let mut chain = Self::empty(alphabet_size, order, smoothing)?;
        if symbols.len() <= order {
            return Err(MarkovError::TooShort {
                len: symbols.len(),
                order,
            });
        }
        if let Some((position, &symbol)) = symbols
            .iter()
            .enumerate()
            .find(|(_, s)| **s as usize >= alphabet_size)
        {
            return Err(MarkovError::BadSymbol {
                symbol,
                position,
                alphabet_size,
            });
        }
        let v = alphabet_size as u64;
        // Count the (k+1)-grams keyed by context · V + symbol, the context rolling along.
        let mut grams: FxHashMap<u64, u32> = FxHashMap::default();
        let mut context = chain.context_code(&symbols[..order]);
        for &s in &symbols[order..] {
            *grams.entry(context * v + s as u64).or_insert(0) += 1;
            context = chain.advance(context, s);
        }
        // Group them by context.
        for (key, count) in grams {
            let entry = chain.contexts.entry(key / v).or_default();
            entry.total += count as u64;
            entry.next.push(((key % v) as u32, count));
        }
        for successors in chain.contexts.values_mut() {
            successors.next.sort_unstable();
        }
        Ok(chain)
    }

    /// The order k.
    pub fn order(&self) -> usize {
        self.order
    }

    /// The alphabet size V.
    pub fn alphabet_size(&self) -> usize {
        self.alphabet_size
    }

    /// The additive smoothing α.
    pub fn smoothing(&self) -> f64 {
        self.smoothing
    }

    /// The number of contexts seen in training.
    pub fn seen_contexts(&self) -> usize {
        self.contexts.len()
    }

    /// The number of distinct (context, symbol) pairs seen in training.
    pub fn seen_transitions(&self) -> usize {
        self.contexts.values().map(|s| s.next.len()).sum()
    }

    /// The number V^k of contexts.
    pub fn num_states(&self) -> u64 {
        self.states
    }

    /// The code of the context made of the last k symbols of `past` (oldest first):
    /// c = Σ_{j=0..k-1} x_{t-k+j} V^{k-1-j}, so the newest symbol is the least significant
    /// digit. `past` must hold at least k symbols.
    pub fn context_code(&self, past: &[u32]) -> u64 {
        let v = self.alphabet_size as u64;
        past[past.len() - self.order..]
            .iter()
            .fold(0u64, |c, &s| c * v + s as u64)
    }

    /// The symbols of a context code, oldest first.
    pub fn context_symbols(&self, mut code: u64) -> Vec<u32> {
        let v = self.alphabet_size as u64;
        let mut out = vec![0; self.order];
        for slot in out.iter_mut().rev() {
            *slot = (code % v) as u32;
            code /= v;
        }
        out
    }

    /// The context that follows context `code` when symbol `s` comes next.
    pub fn advance(&self, code: u64, s: u32) -> u64 {
        if self.order == 0 {
            0
        } else {
            (code * self.alphabet_size as u64 + s as u64) % self.states
        }
    }

    fn context_of(&self, past: &[u32]) -> Result<u64, MarkovError> {
        if past.len() < self.order {
            return Err(MarkovError::ShortContext {
                got: past.len(),
                order: self.order,
            });
        }
        if let Some(&s) = past.iter().find(|s| **s as usize >= self.alphabet_size) {
            return Err(MarkovError::BadSymbol {
                symbol: s,
                position: past.iter().position(|x| *x == s).unwrap_or(0),
                alphabet_size: self.alphabet_size,
            });
        }
        Ok(self.context_code(past))
    }

    /// p(s | c) for the context with code `code`.
    pub fn prob(&self, code: u64, s: u32) -> f64 {
        let v = self.alphabet_size as f64;
        match self.contexts.get(&code) {
            None => 1.0 / v,
            Some(succ) => {
                let n = match succ.next.binary_search_by_key(&s, |&(sym, _)| sym) {
                    Ok(i) => succ.next[i].1 as f64,
                    Err(_) => 0.0,
                };
                (n + self.smoothing) / (succ.total as f64 + self.smoothing * v)
            }
        }
    }

    /// The whole distribution p(· | c), written into `out` (length V).
    pub fn next_distribution_into(&self, code: u64, out: &mut [f64]) {
        let v = self.alphabet_size as f64;
        match self.contexts.get(&code) {
            None => out.fill(1.0 / v),
            Some(succ) => {
                let denom = succ.total as f64 + self.smoothing * v;
                out.fill(self.smoothing / denom);
                for &(s, n) in &succ.next {
                    out[s as usize] += n as f64 / denom;
                }
            }
        }
    }

    /// The distribution p(· | c) as a new vector.
    pub fn next_distribution(&self, code: u64) -> Vec<f64> {
        let mut out = vec![0.0; self.alphabet_size];
        self.next_distribution_into(code, &mut out);
        out
    }

    /// The exact conditional log-likelihood Σ_t ln p(x_t | x_{t-k..t-1}) over
    /// t = max(from, k)..n-1 (each symbol given the k before it); returns (sum, number of
    /// terms). With α = 0 an unseen transition gives -∞.
    pub fn log_likelihood(
        &self,
        symbols: &[u32],
        from: usize,
    ) -> Result<(f64, usize), MarkovError> {
        let start = from.max(self.order);
        if symbols.len() <= start {
            return Ok((0.0, 0));
        }
        let mut code = self.context_of(&symbols[..start])?;
        let mut sum = 0.0;
        for (i, &s) in symbols[start..].iter().enumerate() {
            if s as usize >= self.alphabet_size {
                return Err(MarkovError::BadSymbol {
                    symbol: s,
                    position: start + i,
                    alphabet_size: self.alphabet_size,
                });
            }
            sum += self.prob(code, s).ln();
            code = self.advance(code, s);
        }
        Ok((sum, symbols.len() - start))
    }

    /// exp(-ℓ / N) with ℓ, N from [`MarkovChain::log_likelihood`].
    pub fn perplexity(&self, symbols: &[u32], from: usize) -> Result<f64, MarkovError> {
        let (ll, n) = self.log_likelihood(symbols, from)?;
        Ok((-ll / n.max(1) as f64).exp())
    }

    /// The joint log-probability ln π(x_1..x_k) + Σ_{t>k} ln p(x_t | x_{t-k..t-1}) of a
    /// whole sequence started in the distribution `initial` over contexts (the stationary
    /// distribution, say). The sequence must hold at least k symbols.
    pub fn joint_log_prob(&self, symbols: &[u32], initial: &[f64]) -> Result<f64, MarkovError> {
        let code = self.context_of(&symbols[..self.order.min(symbols.len())])?;
        let (ll, _) = self.log_likelihood(symbols, self.order)?;
        Ok(initial[code as usize].ln() + ll)
    }

    fn check_dense(&self) -> Result<usize, MarkovError> {
        let too_large = MarkovError::DenseTooLarge {
            states: self.states,
            alphabet_size: self.alphabet_size,
        };
        match self.states.checked_mul(self.alphabet_size as u64) {
            Some(n) if n <= DENSE_LIMIT => Ok(self.states as usize),
            _ => Err(too_large),
        }
    }

    /// One step of the chain on a distribution over contexts: out(c') = Σ_{c, s: c→c'} d(c) p(s|c),
    /// skipping symbols where `skip(s)`. Also returns the distribution of the emitted symbol.
    fn step(&self, dist: &[f64], skip: Option<u32>) -> (Vec<f64>, Vec<f64>) {
        let mut out = vec![0.0; dist.len()];
        let mut symbol = vec![0.0; self.alphabet_size];
        let mut p = vec![0.0; self.alphabet_size];
        for (c, &d) in dist.iter().enumerate() {
            if d == 0.0 {
                continue;
            }
            self.next_distribution_into(c as u64, &mut p);
            for (s, &ps) in p.iter().enumerate() {
                if skip == Some(s as u32) {
                    continue;
                }
                let mass = d * ps;
                out[self.advance(c as u64, s as u32) as usize] += mass;
                symbol[s] += mass;
            }
        }
        (out, symbol)
    }

    /// The exact distribution of x_{t+n} (n ≥ 1) given the present context (the last k
    /// symbols of `past`): the n-step transition, computed by propagating the distribution
    /// over contexts n - 1 steps (Chapman-Kolmogorov) and then taking one more step.
    pub fn n_step(&self, past: &[u32], n: usize) -> Result<Vec<f64>, MarkovError> {
        let states = self.check_dense()?;
        let start = self.context_of(past)?;
        let mut dist = vec![0.0; states];
        dist[start as usize] = 1.0;
        let mut symbol = vec![0.0; self.alphabet_size];
        for _ in 0..n {
            (dist, symbol) = self.step(&dist, None);
        }
        Ok(symbol)
    }

    /// The probability that symbol `target` appears at least once among x_{t+1..t+n}, given
    /// the present context: 1 - (mass of the paths that avoid it), propagated step by step.
    pub fn prob_within(&self, past: &[u32], target: u32, n: usize) -> Result<f64, MarkovError> {
        let states = self.check_dense()?;
        let start = self.context_of(past)?;
        let mut dist = vec![0.0; states];
        dist[start as usize] = 1.0;
        for _ in 0..n {
            dist = self.step(&dist, Some(target)).0;
        }
        Ok(1.0 - dist.iter().sum::<f64>())
    }

    /// The stationary distribution π over the V^k contexts (π P = π), by power iteration on
    /// the lazy chain (I + P)/2, which has the same stationary distributions and is
    /// aperiodic; started from uniform, stopped when the L1 change is below 1e-15. With
    /// α > 0 the chain is irreducible and π is unique.
    pub fn stationary(&self) -> Result<Vec<f64>, MarkovError> {
        let states = self.check_dense()?;
        let mut pi = vec![1.0 / states as f64; states];
        const MAX_ITER: usize = 200_000;
        for _ in 0..MAX_ITER {
            let (next, _) = self.step(&pi, None);
            let mut change = 0.0;
            let mut total = 0.0;
            for (p, q) in pi.iter_mut().zip(&next) {
                let new = 0.5 * (*p + q);
                change += (new - *p).abs();
                *p = new;
                total += new;
            }
            pi.iter_mut().for_each(|p| *p /= total);
            if change < 1e-15 {
                return Ok(pi);
            }
        }
        Err(MarkovError::NoConvergence(MAX_ITER))
    }

    /// The most likely continuation x_{t+1..t+n} given the present context, by dynamic
    /// programming over contexts (Viterbi): δ_j(c') = max_{c, s: c→c'} δ_{j-1}(c) + ln p(s|c).
    /// Returns the symbols and their log-probability. Ties go to the smaller symbol at the
    /// earliest step.
    pub fn most_likely_continuation(
        &self,
        past: &[u32],
        n: usize,
    ) -> Result<(Vec<u32>, f64), MarkovError> {
        let states = self.check_dense()?;
        let start = self.context_of(past)?;
        let mut score = vec![f64::NEG_INFINITY; states];
        score[start as usize] = 0.0;
        // back[j][c'] = (previous context, symbol) of the best path into c' at step j.
        let mut back: Vec<Vec<(u64, u32)>> = Vec::with_capacity(n);
        let mut p = vec![0.0; self.alphabet_size];
        for _ in 0..n {
            let mut next = vec![f64::NEG_INFINITY; states];
            let mut from = vec![(u64::MAX, 0u32); states];
            for (c, &sc) in score.iter().enumerate() {
                if sc == f64::NEG_INFINITY {
                    continue;
                }
                self.next_distribution_into(c as u64, &mut p);
                for (s, &ps) in p.iter().enumerate() {
                    if ps <= 0.0 {
                        continue;
                    }
                    let cand = sc + ps.ln();
                    let to = self.advance(c as u64, s as u32) as usize;
                    if cand > next[to] {
                        next[to] = cand;
                        from[to] = (c as u64, s as u32);
                    }
                }
            }
            score = next;
            back.push(from);
        }
        let (mut state, best) =
            score
                .iter()
                .enumerate()
                .fold((0usize, f64::NEG_INFINITY), |(bi, bv), (i, &v)| {
                    if v > bv { (i, v) } else { (bi, bv) }
                });
        let mut path = vec![0u32; n];
        for j in (0..n).rev() {
            let (prev, s) = back[j][state];
            path[j] = s;
            state = prev as usize;
        }
        Ok((path, best))
    }

    /// The reverse chain: the same stationary process read backwards in time.
    pub fn reverse(&self) -> Result<ReverseChain<'_>, MarkovError> {
        Ok(ReverseChain {
            chain: self,
            stationary: self.stationary()?,
        })
    }

    /// Draws `n` symbols that continue `past` (at least k symbols), each from p(· | c)
    /// sharpened by `temperature` T: q(s) ∝ p(s | c)^(1/T); T = 0 takes the most likely
    /// symbol (the smallest on ties). The draws come from [`crate::rng::seeded`]`(seed)`.
    pub fn sample(
        &self,
        past: &[u32],
        n: usize,
        seed: u64,
        temperature: f64,
    ) -> Result<Vec<u32>, MarkovError> {
        let mut code = self.context_of(past)?;
        let mut rng = crate::rng::seeded(seed);
        let mut p = vec![0.0; self.alphabet_size];
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            self.next_distribution_into(code, &mut p);
            let s = draw(&mut p, temperature, &mut rng);
            out.push(s);
            code = self.advance(code, s);
        }
        Ok(out)
    }

    /// A context drawn with probability n(c) / Σ n: the empirical distribution of contexts
    /// in the training sequence (a start for [`MarkovChain::sample`] that needs no
    /// computation over all V^k contexts).
    pub fn draw_context(&self, seed: u64) -> Vec<u32> {
        let mut seen: Vec<(u64, u64)> = self.contexts.iter().map(|(c, s)| (*c, s.total)).collect();
        seen.sort_unstable();
        let total: u64 = seen.iter().map(|(_, n)| n).sum();
        let mut rng = crate::rng::seeded(seed ^ 0x5eed_c0de);
        let mut u = (rng.random::<f64>() * total as f64) as u64;
        for (code, n) in &seen {
            if u < *n {
                return self.context_symbols(*code);
            }
            u -= n;
        }
        self.context_symbols(seen.last().map(|(c, _)| *c).unwrap_or(0))
    }
}

/// Draws an index from the probabilities `p` sharpened by `temperature` (changes `p`).
fn draw(p: &mut [f64], temperature: f64, rng: &mut crate::rng::SeededRng) -> u32 {
    if temperature == 0.0 {
        return p
            .iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &v)| {
                if v > bv { (i, v) } else { (bi, bv) }
            })
            .0 as u32;
    }
    if temperature != 1.0 {
        let max = p.iter().cloned().fold(0.0, f64::max);
        p.iter_mut().for_each(|x| {
            *x = if *x > 0.0 {
                (*x / max).powf(1.0 / temperature)
            } else {
                0.0
            }
        });
    }
    let total: f64 = p.iter().sum();
    let mut u = rng.random::<f64>() * total;
    let mut last = 0;
    for (i, &x) in p.iter().enumerate() {
        if x > 0.0 {
            last = i;
            if u < x {
                return i as u32;
            }
            u -= x;
        }
    }
    last as u32
}

/// The time reversal of a stationary chain of order k: by Bayes' rule with the stationary
/// distribution π over contexts,
///
/// p(x_t = a | x_{t+1..t+k}) = π(a, x_{t+1..t+k-1}) p(x_{t+k} | a, x_{t+1..t+k-1}) / π(x_{t+1..t+k}).
#[derive(Debug, Clone)]
pub struct ReverseChain<'a> {
    chain: &'a MarkovChain,
    /// π over the V^k contexts.
    pub stationary: Vec<f64>,
}

impl ReverseChain<'_> {
    /// p(x_t = a | the k symbols after it), `after` = x_{t+1..t+k} (at least its first k
    /// symbols are used). For k = 0 this is the stationary symbol distribution.
    pub fn prob(&self, after: &[u32], a: u32) -> Result<f64, MarkovError> {
        let chain = self.chain;
        let k = chain.order;
        if k == 0 {
            return Ok(chain.prob(0, a));
        }
        if after.len() < k {
            return Err(MarkovError::ShortContext {
                got: after.len(),
                order: k,
            });
        }
        let next = chain.context_code(&after[..k]);
        let pi_next = self.stationary[next as usize];
        if pi_next <= 0.0 {
            return Err(MarkovError::ZeroStationary);
        }
        let v = chain.alphabet_size as u64;
        // Context (a, x_{t+1..t+k-1}): a becomes the most significant digit.
        let prev = a as u64 * (chain.states / v) + next / v;
        let last = (next % v) as u32;
        Ok(self.stationary[prev as usize] * chain.prob(prev, last) / pi_next)
    }

    /// The whole reverse distribution p(x_t = · | x_{t+1..t+k}).
    pub fn distribution(&self, after: &[u32]) -> Result<Vec<f64>, MarkovError> {
        (0..self.chain.alphabet_size as u32)
            .map(|a| self.prob(after, a))
            .collect()
    }

    /// The joint log-probability of a sequence read backwards: ln π(last k symbols) +
    /// Σ_t ln p(x_t | x_{t+1..t+k}). Equals the forward [`MarkovChain::joint_log_prob`]
    /// started in π.
    pub fn joint_log_prob(&self, symbols: &[u32]) -> Result<f64, MarkovError> {
        let k = self.chain.order;
        let n = symbols.len();
        if n < k {
            return Err(MarkovError::ShortContext { got: n, order: k });
        }
        let mut lp = self.stationary[self.chain.context_code(&symbols[n - k..]) as usize].ln();
        for t in (0..n - k).rev() {
            lp += self.prob(&symbols[t + 1..], symbols[t])?.ln();
        }
        Ok(lp)
    }

    /// Draws the `n` symbols that precede `after` (its first k symbols are used), going
    /// backwards in time; returned in time order, so that the result followed by `after`
    /// reads forwards.
    pub fn sample_backwards(
        &self,
        after: &[u32],
        n: usize,
        seed: u64,
        temperature: f64,
    ) -> Result<Vec<u32>, MarkovError> {
        let k = self.chain.order;
        let mut window: Vec<u32> = after[..k.min(after.len())].to_vec();
        let mut rng = crate::rng::seeded(seed);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let mut p = self.distribution(&window)?;
            let a = draw(&mut p, temperature, &mut rng);
            out.push(a);
            if k > 0 {
                window.pop();
                window.insert(0, a);
            }
        }
        out.reverse();
        Ok(out)
    }
}

/// Equal-width bins that turn a real series into symbols: bin i covers
/// [lo + i w, lo + (i+1) w), w = (hi - lo) / bins; values outside [lo, hi] go to the end
/// bins.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Binning {
    /// Lower edge of the first bin.
    pub lo: f64,
    /// Upper edge of the last bin.
    pub hi: f64,
    /// Number of bins.
    pub bins: usize,
}

impl Binning {
    /// Bins spanning the range of `values` (a constant series gets a range of width 1).
    pub fn spanning(values: &[f64], bins: usize) -> Binning {
        let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, lo + 0.5)
        };
        Binning { lo, hi, bins }
    }

    /// The bin of a value.
    pub fn symbol(&self, x: f64) -> u32 {
        let w = (self.hi - self.lo) / self.bins as f64;
        ((x - self.lo) / w)
            .floor()
            .clamp(0.0, (self.bins - 1) as f64) as u32
    }

    /// The centre of bin `s`.
    pub fn centre(&self, s: u32) -> f64 {
        let w = (self.hi - self.lo) / self.bins as f64;
        self.lo + (s as f64 + 0.5) * w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_codes_roll() {
        let chain = MarkovChain::fit(&[0, 1, 2, 0, 1], 3, 2, 1.0).unwrap();
        let code = chain.context_code(&[2, 0, 1]);
        assert_eq!(code, 1); // (0, 1) → 0·3 + 1
        assert_eq!(chain.context_symbols(code), vec![0, 1]);
        assert_eq!(chain.advance(code, 2), 5); // (1, 2)
    }

    #[test]
    fn smoothing_formula() {
        // Order 1 on 0 1 0 1 0 0: after 0 → {1: 2, 0: 1}; after 1 → {0: 2}.
        let chain = MarkovChain::fit(&[0, 1, 0, 1, 0, 0], 2, 1, 0.5).unwrap();
        assert!((chain.prob(0, 1) - 2.5 / 4.0).abs() < 1e-15);
        assert!((chain.prob(1, 1) - 0.5 / 3.0).abs() < 1e-15);
        let unsmoothed = MarkovChain::fit(&[0, 1, 0, 1, 0, 0], 2, 1, 0.0).unwrap();
        assert_eq!(unsmoothed.prob(1, 1), 0.0);
        let (ll, _) = unsmoothed.log_likelihood(&[1, 1], 0).unwrap();
        assert_eq!(ll, f64::NEG_INFINITY);
    }

    #[test]
    fn stored_form_round_trips() {
        let chain = MarkovChain::fit(&[0, 1, 2, 2, 1, 0, 2, 1], 3, 2, 0.1).unwrap();
        let json = serde_json::to_string(&chain).unwrap();
        let back: MarkovChain = serde_json::from_str(&json).unwrap();
        assert_eq!(back, chain);
    }

    #[test]
    fn binning() {
        let b = Binning::spanning(&[0.0, 10.0], 5);
        assert_eq!(b.symbol(0.0), 0);
        assert_eq!(b.symbol(3.9), 1);
        assert_eq!(b.symbol(10.0), 4);
        assert_eq!(b.symbol(-3.0), 0);
        assert!((b.centre(2) - 5.0).abs() < 1e-12);
    }
}
