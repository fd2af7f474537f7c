//! Test access to the reference cases in tests/fixtures/oracle (float64 logits computed from the
//! exact dequantization of each GGUF file, cross-checked against llama.cpp).

use serde_json::Value as Json;

pub struct OracleCase {
    pub name: String,
    pub tokens: Vec<u32>,
    /// One row of vocabulary logits per prompt position.
    pub logits: Vec<Vec<f32>>,
    pub greedy: Vec<u32>,
    pub greedy_margins: Vec<f32>,
    /// `max_abs` for an f32 runtime: 2e-3 · max(1, std of the logits).
    pub tol: f32,
    /// llama.cpp's logits of every prompt position, where the case stores them: all-F32 cases,
    /// which llama.cpp computes as the reference does, to ~1e-5.
    pub llamacpp_logits: Option<Vec<Vec<f32>>>,
}

pub fn fixture_dir(case: &str) -> String {
    format!("{}/../../tests/fixtures/oracle/{case}", env!("CARGO_MANIFEST_DIR"))
}

pub fn model_bytes(case: &str) -> Vec<u8> {
    let path = format!("{}/model.gguf", fixture_dir(case));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn oracle(case: &str) -> OracleCase {
    let path = format!("{}/reference.json", fixture_dir(case));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let j: Json = serde_json::from_str(&text).unwrap();
    let ids = |v: &Json| v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect::<Vec<_>>();
    let floats = |v: &Json| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect::<Vec<_>>();
    OracleCase {
        name: case.to_string(),
        tokens: ids(&j["tokens"]),
        logits: j["logits"].as_array().unwrap().iter().map(floats).collect(),
        greedy: ids(&j["greedy"]),
        greedy_margins: floats(&j["greedy_margins"]),
        tol: j["tolerance"]["max_abs"].as_f64().unwrap() as f32,
        llamacpp_logits: j["llamacpp"]["logits"].as_array().map(|rows| rows.iter().map(floats).collect()),
    }
}

/// The largest |a − b| over rows of equal shape.
pub fn max_abs_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len(), "rows");
    a.iter().zip(b).flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs())).fold(0.0, f32::max)
}

/// Index of the largest value, the lowest index among equals.
pub fn argmax(x: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best as u32
}

/// Top-1 minus top-2 of a row.
pub fn margin(x: &[f32]) -> f32 {
    let mut v = x.to_vec();
    v.sort_by(|a, b| b.total_cmp(a));
    v[0] - v.get(1).copied().unwrap_or(f32::NEG_INFINITY)
}

impl OracleCase {
    /// Assert every logit within the case's tolerance.
    pub fn check_logits(&self, label: &str, got: &[Vec<f32>]) {
        assert_eq!(got.len(), self.logits.len(), "{}: {label}: positions", self.name);
        for (pos, (g, w)) in got.iter().zip(&self.logits).enumerate() {
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                assert!((a - b).abs() <= self.tol, "{}: {label}: position {pos} logit {i}: got {a}, reference {b} (tolerance {})", self.name, self.tol);
            }
        }
    }

    /// Assert the argmax wherever the reference margin exceeds twice the tolerance.
    pub fn check_argmax(&self, label: &str, got: &[Vec<f32>]) {
        for (pos, (g, w)) in got.iter().zip(&self.logits).enumerate() {
            if margin(w) > 2.0 * self.tol {
                assert_eq!(argmax(g), argmax(w), "{}: {label}: argmax at position {pos}", self.name);
            }
        }
    }

    /// Assert greedy ids up to the first step whose reference margin is below twice the tolerance.
    pub fn check_greedy(&self, label: &str, got: &[u32]) {
        let judged = self.greedy_margins.iter().position(|&m| m < 2.0 * self.tol).unwrap_or(self.greedy.len());
        assert!(got.len() >= judged, "{}: {label}: only {} greedy ids", self.name, got.len());
        assert_eq!(&got[..judged], &self.greedy[..judged], "{}: {label}: greedy ids", self.name);
    }
}
