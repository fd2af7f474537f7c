// The sampler: the next token from one row of logits, written to tokens[0] (where the next
// decode step's embedding reads it), to out[0] (what the CPU reads back) and appended to the
// history ring. The definition is the module documentation of crates/webmoe/src/sampler, whose
// `sample_cpu` (after `with_token_mask` and `with_logit_bias`) is this kernel's reference:
//   0. token mask (when use_mask): logits[i] = −∞ for each id whose bit in `mask` is clear;
//      logit bias: logits[id] += bias for each of the n_bias (id, bias) pairs;
//   1. penalties: each distinct id among the last `last_n` history ids, seen c times there, has
//      its logit l replaced, in place, by (l · inv_penalty when l > 0, else l · penalty)
//      − c · frequency − presence;
//   2. greedy: the lowest id of the largest logit;
//   3. keep the logits ≥ a threshold t = max(t_k, t_p, t_min), ties included:
//        t_k   = the k-th largest logit,
//        t_p   = the largest t ≥ t_k with Σ_{l ≥ t} exp(l − max) ≥ top_p · Σ_{l ≥ t_k} exp(l − max),
//        t_min = max + ln(min_p);
//   4. w_i = exp((l_i − max) · inv_temperature) over the kept ids; u = hash(seed, step) ∈ [0, 1);
//      the choice is the first id in index order whose running sum of w exceeds u · Σ w;
//   5. with want_logprobs: the log-probability of the choice and of the top_logprobs most likely
//      ids (largest logit first, lowest id first on ties) under softmax of the logits after
//      steps 0–1 at temperature 1: l − (max + ln Σ exp(l − max)).
//
// No sorting: t_k and t_p are found by bisection over the order-preserving u32 key of the f32
// logits (at most 32 probes each, every probe one counting or summing pass over the row), so
// both are exact logit values. The draw scans contiguous chunks, one per invocation, so the
// running sum follows index order.
//
// Reads step.sample_step (the draw index) and step.n_history (ids the history has received so
// far, prompt included; the ring holds the last min(n_history, capacity) of them, the id of
// receive index r at r % capacity).
//
// out: [0] the choice, [1] its log-probability (f32 bits), [2] how many top entries follow,
// then (id, log-probability bits) pairs; only [0] is written without want_logprobs.
//
// Grid: (1, 1, 1); one workgroup of 256 invocations.

struct Params {
    n_vocab: u32,
    capacity: u32,          // history ring length, ≥ 1
    last_n: u32,            // penalty window; 0 = no penalty
    top_k: u32,             // 0 = off
    penalty: f32,           // factor of logits ≤ 0
    inv_penalty: f32,       // factor of logits > 0
    top_p: f32,             // ≥ 1 = off
    log_min_p: f32,         // ln(min_p), read when use_min_p != 0
    inv_temperature: f32,   // 1/T capped at the largest f32
    greedy: u32,            // 1 when T = 0
    use_min_p: u32,
    seed_lo: u32,
    seed_hi: u32,
    frequency: f32,         // subtracted once per occurrence in the window
    presence: f32,          // subtracted once from every id in the window
    n_bias: u32,            // (id, bias) pairs in `bias`
    want_logprobs: u32,
    top_logprobs: u32,      // ≤ (arrayLength(out) − 3) / 2
    use_mask: u32,          // 1: only ids whose bit is set in `mask` may be chosen
    masked_logit: f32,      // −∞ (from the CPU: WGSL has no infinite constants)
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read_write> logits: array<f32>;   // (n_vocab), penalised in place
@group(0) @binding(3) var<storage, read_write> history: array<u32>;  // (capacity) ring of ids
@group(0) @binding(4) var<storage, read_write> tokens: array<u32>;   // tokens[0] ← the choice
@group(0) @binding(5) var<storage, read> bias: array<u32>;           // (capacity, 2): id, f32 bits of the bias
@group(0) @binding(6) var<storage, read_write> out: array<u32>;      // see above
@group(0) @binding(7) var<storage, read> mask: array<u32>;           // (n_vocab / 32 rounded up): bit i % 32 of word i / 32 allows id i

const WG: u32 = 256u;
const OP_SUM: u32 = 0u;
const OP_MIN: u32 = 1u;
const OP_MAX: u32 = 2u;
const MEASURE_COUNT: u32 = 0u;
const MEASURE_MASS: u32 = 1u;
const NONE: u32 = 0xFFFFFFFFu;

var<workgroup> red_u: array<u32, WG>;
var<workgroup> red_f: array<f32, WG>;

// ---- the random stream (crates/webmoe/src/sampler/random.rs, word for word) ----

fn pcg_hash(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn random_uniform(seed_lo: u32, seed_hi: u32, draw: u32) -> f32 {
    let bits = pcg_hash(pcg_hash(pcg_hash(seed_lo) ^ seed_hi) ^ draw);
    return f32(bits >> 8u) * (1.0 / 16777216.0);
}

// ---- order-preserving keys: a < b as floats ⇔ key(a) < key(b); −0 and +0 share a key ----

fn key(x: f32) -> u32 {
    var b = bitcast<u32>(x);
    if (b == 0x80000000u) {
        b = 0u;
    }
    if ((b & 0x80000000u) != 0u) {
        return ~b;
    }
    return b | 0x80000000u;
}

fn from_key(k: u32) -> f32 {
    if ((k & 0x80000000u) != 0u) {
        return bitcast<f32>(k & 0x7FFFFFFFu);
    }
    return bitcast<f32>(~k);
}

// ---- workgroup reductions; the results are uniform, so they may steer barriers ----

fn combine(a: u32, b: u32, op: u32) -> u32 {
    if (op == OP_SUM) {
        return a + b;
    }
    if (op == OP_MIN) {
        return min(a, b);
    }
    return max(a, b);
}

fn reduce_u32(lid: u32, x: u32, op: u32) -> u32 {
    workgroupBarrier();  // earlier readers of red_u are done
    red_u[lid] = x;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            red_u[lid] = combine(red_u[lid], red_u[lid + s], op);
        }
        workgroupBarrier();
    }
    return workgroupUniformLoad(&red_u[0]);
}

fn sum_f32(lid: u32, x: f32) -> f32 {
    workgroupBarrier();  // earlier readers of red_f are done
    red_f[lid] = x;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            red_f[lid] += red_f[lid + s];
        }
        workgroupBarrier();
    }
    return workgroupUniformLoad(&red_f[0]);
}

// ---- 0. token mask, logit bias ----

fn apply_mask(lid: u32) {
    for (var i = lid; i < p.n_vocab; i += WG) {
        if (((mask[i / 32u] >> (i % 32u)) & 1u) == 0u) {
            logits[i] = p.masked_logit;
        }
    }
}

fn apply_bias(lid: u32) {
    for (var j = lid; j < p.n_bias; j += WG) {
        let id = bias[2u * j];
        if (id < p.n_vocab) {
            logits[id] += bitcast<f32>(bias[2u * j + 1u]);
        }
    }
}

// ---- 1. penalties ----

fn apply_penalty(lid: u32) {
    let count = step.n_history;
    let window = min(p.last_n, min(count, p.capacity));
    let first = count - window;  // receive index of the oldest id in the window
    for (var j = lid; j < window; j += WG) {
        let id = history[(first + j) % p.capacity];
        // Only the first occurrence in the window penalises, so repeats count once.
        var repeated = false;
        for (var e = 0u; e < j; e++) {
            if (history[(first + e) % p.capacity] == id) {
                repeated = true;
                break;
            }
        }
        if (!repeated && id < p.n_vocab) {
            var count = 1u;
            for (var e = j + 1u; e < window; e++) {
                count += u32(history[(first + e) % p.capacity] == id);
            }
            let l = logits[id];
            logits[id] = select(l * p.penalty, l * p.inv_penalty, l > 0.0) - f32(count) * p.frequency - p.presence;
        }
    }
}

// ---- 3. thresholds ----

// Σ over logits with key ≥ t of 1 (MEASURE_COUNT, exact in f32 below 2^24) or exp(l − max).
fn measure_at_least(lid: u32, t: u32, measure: u32, max_value: f32) -> f32 {
    var s = 0.0;
    for (var i = lid; i < p.n_vocab; i += WG) {
        let l = logits[i];
        if (key(l) >= t) {
            if (measure == MEASURE_COUNT) {
                s += 1.0;
            } else {
                s += exp(l - max_value);
            }
        }
    }
    return sum_f32(lid, s);
}

// The largest key t in [lo, hi] with measure_at_least(t) ≥ needed, given that lo qualifies.
// The measure only falls as t grows, so bisection finds it exactly.
fn largest_key_reaching(lid: u32, lo_in: u32, hi_in: u32, measure: u32, needed: f32, max_value: f32) -> u32 {
    var lo = lo_in;
    var hi = hi_in;
    while (lo < hi) {
        let mid = hi - (hi - lo) / 2u;  // in (lo, hi]
        if (measure_at_least(lid, mid, measure, max_value) >= needed) {
            lo = mid;
        } else {
            hi = mid - 1u;
        }
    }
    return lo;
}

// ---- 4. the draw ----

fn weight(l: f32, max_value: f32) -> f32 {
    return exp((l - max_value) * p.inv_temperature);
}

fn finish(id: u32) {
    tokens[0] = id;
    out[0] = id;
    history[step.n_history % p.capacity] = id;
}

// Chooses among logits with key ≥ threshold and writes the choice (from the one invocation
// whose chunk holds it).
fn draw(lid: u32, threshold: u32, max_value: f32) {
    let chunk = (p.n_vocab + WG - 1u) / WG;
    let begin = min(lid * chunk, p.n_vocab);
    let end = min(begin + chunk, p.n_vocab);
    var local = 0.0;
    for (var i = begin; i < end; i++) {
        let l = logits[i];
        if (key(l) >= threshold) {
            local += weight(l, max_value);
        }
    }
    workgroupBarrier();  // earlier readers of red_f are done
    red_f[lid] = local;
    workgroupBarrier();
    if (lid == 0u) {
        // Sequential inclusive scan: nondecreasing, so exactly one chunk holds the cut.
        for (var t = 1u; t < WG; t++) {
            red_f[t] += red_f[t - 1u];
        }
    }
    workgroupBarrier();
    let total = red_f[WG - 1u];
    // The cut u · Σw, kept below total (u · total can round up to it) so that it lands in a chunk.
    let cut = min(random_uniform(p.seed_lo, p.seed_hi, step.sample_step) * total, bitcast<f32>(bitcast<u32>(total) - 1u));
    let before = select(0.0, red_f[max(lid, 1u) - 1u], lid > 0u);
    if (before <= cut && cut < red_f[lid]) {
        var running = before;
        var chosen = NONE;
        for (var i = begin; i < end; i++) {
            let l = logits[i];
            if (key(l) >= threshold) {
                let w = weight(l, max_value);
                if (w > 0.0) {
                    chosen = i;
                    running += w;
                    if (running > cut) {
                        break;
                    }
                }
            }
        }
        finish(chosen);
    }
}

// ---- 5. log-probabilities ----

// Writes out[1..]: the choice's log-probability, then the top_logprobs largest logits' ids and
// log-probabilities, found one per round as the largest (key, then lowest id) after the previous.
fn write_logprobs(lid: u32, max_key: u32) {
    let max_value = from_key(max_key);
    var local = 0.0;
    for (var i = lid; i < p.n_vocab; i += WG) {
        local += exp(logits[i] - max_value);
    }
    let lse = max_value + log(sum_f32(lid, local));
    storageBarrier();  // the choice in tokens[0] is visible
    if (lid == 0u) {
        out[1] = bitcast<u32>(logits[min(tokens[0], p.n_vocab - 1u)] - lse);
    }
    var prev_key = max_key;
    var prev_id = NONE;  // before every id: the first round takes the lowest id of the max
    var found = 0u;
    for (var r = 0u; r < p.top_logprobs; r++) {
        var best = 0u;  // below the key of every logit
        for (var i = lid; i < p.n_vocab; i += WG) {
            let k = key(logits[i]);
            if ((k < prev_key || (k == prev_key && (prev_id == NONE || i > prev_id))) && k > best) {
                best = k;
            }
        }
        let best_key = reduce_u32(lid, best, OP_MAX);
        if (best_key == 0u) {
            break;  // fewer ids than asked for
        }
        var first = NONE;
        for (var i = lid; i < p.n_vocab; i += WG) {
            if (key(logits[i]) == best_key && (best_key != prev_key || prev_id == NONE || i > prev_id)) {
                first = i;
                break;
            }
        }
        let best_id = reduce_u32(lid, first, OP_MIN);
        if (lid == 0u) {
            out[3u + 2u * r] = best_id;
            out[4u + 2u * r] = bitcast<u32>(from_key(best_key) - lse);
        }
        prev_key = best_key;
        prev_id = best_id;
        found += 1u;
    }
    if (lid == 0u) {
        out[2] = found;
    }
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
    if (p.use_mask != 0u) {
        apply_mask(lid);
        storageBarrier();  // masked logits are visible to the invocations that add biases
    }
    apply_bias(lid);
    storageBarrier();  // biased logits are visible to every invocation
    if (p.last_n > 0u) {
        apply_penalty(lid);
    }
    storageBarrier();  // penalised logits are visible to every invocation

    var local_max = 0u;  // below the key of every logit
    for (var i = lid; i < p.n_vocab; i += WG) {
        local_max = max(local_max, key(logits[i]));
    }
    let max_key = reduce_u32(lid, local_max, OP_MAX);
    let max_value = from_key(max_key);

    if (p.greedy != 0u) {
        var first = NONE;
        for (var i = lid; i < p.n_vocab; i += WG) {
            if (key(logits[i]) == max_key) {
                first = i;
                break;
            }
        }
        let best = reduce_u32(lid, first, OP_MIN);
        if (lid == 0u) {
            finish(best);
        }
        if (p.want_logprobs != 0u) {
            write_logprobs(lid, max_key);
        }
        return;
    }

    var threshold = 0u;  // keep every logit
    if (p.top_k != 0u && p.top_k < p.n_vocab) {
        threshold = largest_key_reaching(lid, 0u, max_key, MEASURE_COUNT, f32(p.top_k), max_value);
    }
    if (p.top_p < 1.0) {
        let kept_mass = measure_at_least(lid, threshold, MEASURE_MASS, max_value);
        threshold = largest_key_reaching(lid, threshold, max_key, MEASURE_MASS, p.top_p * kept_mass, max_value);
    }
    if (p.use_min_p != 0u) {
        threshold = max(threshold, key(max_value + p.log_min_p));
    }
    draw(lid, threshold, max_value);
    if (p.want_logprobs != 0u) {
        write_logprobs(lid, max_key);
    }
}
