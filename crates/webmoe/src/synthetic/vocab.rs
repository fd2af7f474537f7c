//! The tokenizer metadata (`tokenizer.ggml.*`) a synthetic model carries: a made-up
//! SentencePiece-style vocabulary of any size, or a real one copied from a tokenizer.json or a
//! GGUF file, so the model tokenizes text as the real model does.

use std::collections::HashMap;
use std::io::Read;

use super::SyntheticError;
use crate::gguf::{parse_prefix, Array, Gguf, Parsed, Value, MAX_HEADER_BYTES};

/// `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_type`).
const NORMAL: i32 = 1;
const UNKNOWN: i32 = 2;
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;
const BYTE: i32 = 6;

/// A vocabulary as GGUF metadata: the `tokenizer.*` keys, in file order.
#[derive(Clone, Debug)]
pub struct Vocab {
    metadata: Vec<(String, Value)>,
    len: usize,
}

impl Vocab {
    /// `<unk>`, `<s>`, `</s>`, the 256 byte tokens `<0x00>`..`<0xFF>`, then letter pieces, each the
    /// concatenation of two earlier ones so BPE merges reach every piece. Sizes below 259 cut the
    /// byte tokens short.
    pub fn synthetic(size: usize) -> Vocab {
        let mut tokens = vec!["<unk>".to_string(), "<s>".to_string(), "</s>".to_string()];
        let mut types = vec![UNKNOWN, CONTROL, CONTROL];
        for b in 0..256 {
            tokens.push(format!("<0x{b:02X}>"));
            types.push(BYTE);
        }
        // "▁" and the letters, then "▁a" … "▁z", then two-letter pieces.
        let letters: Vec<char> = ('a'..='z').collect();
        let mut pieces: Vec<String> = vec!["\u{2581}".to_string()];
        pieces.extend(letters.iter().map(|c| c.to_string()));
        pieces.extend(letters.iter().map(|c| format!("\u{2581}{c}")));
        pieces.extend(letters.iter().flat_map(|a| letters.iter().map(move |b| format!("{a}{b}"))));
        for piece in pieces.into_iter().take(size.saturating_sub(tokens.len())) {
            tokens.push(piece);
            types.push(NORMAL);
        }
        // Larger vocabularies continue with numbered pieces of letters, as long as they need.
        let mut n = 0usize;
        while tokens.len() < size {
            tokens.push(format!("{}{}{}", letters[n % 26], letters[(n / 26) % 26], "q".repeat(1 + n / 676)));
            types.push(NORMAL);
            n += 1;
        }
        tokens.truncate(size);
        types.truncate(size);
        let scores = (0..size).map(|i| -(i as f32)).collect();
        let metadata = vec![
            ("tokenizer.ggml.model".to_string(), Value::String("llama".into())),
            ("tokenizer.ggml.tokens".to_string(), Value::Array(Array::String(tokens))),
            ("tokenizer.ggml.scores".to_string(), Value::Array(Array::F32(scores))),
            ("tokenizer.ggml.token_type".to_string(), Value::Array(Array::I32(types))),
            ("tokenizer.ggml.bos_token_id".to_string(), Value::U32(1)),
            ("tokenizer.ggml.eos_token_id".to_string(), Value::U32(2)),
            ("tokenizer.ggml.unknown_token_id".to_string(), Value::U32(0)),
        ];
        Vocab { metadata, len: size }
    }

    /// Every `tokenizer.*` key of a GGUF header (vocabulary, scores or merges, token types,
    /// special ids, flags, chat template), as the file has them.
    pub fn from_gguf(g: &Gguf) -> Result<Vocab, String> {
        let metadata: Vec<(String, Value)> =
            g.metadata.iter().filter(|(k, _)| k.starts_with("tokenizer.")).cloned().collect();
        let len = g
            .array_opt("tokenizer.ggml.tokens")
            .map_err(|e| e.to_string())?
            .ok_or("the file has no tokenizer.ggml.tokens")?
            .len();
        Ok(Vocab { metadata, len })
    }

    /// A SentencePiece-style BPE tokenizer.json (`"type": "BPE"` with `byte_fallback`, as Mistral
    /// and Mixtral ship) as a GGUF `llama` vocabulary. tokenizer.json has merges but no scores,
    /// and webmoe and llama.cpp merge by score: each piece gets minus the rank of the first merge
    /// that makes it, which orders the merges exactly as the file does.
    pub fn from_tokenizer_json(bytes: &[u8]) -> Result<Vocab, String> {
        let json: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        let model = &json["model"];
        if model["type"].as_str() != Some("BPE") || model["byte_fallback"].as_bool() != Some(true) {
            return Err("only SentencePiece-style vocabularies (a BPE model with byte_fallback) are read from \
                        tokenizer.json; give a GGUF file to copy another kind"
                .into());
        }
        let mut ids: HashMap<String, usize> = HashMap::new();
        for (text, id) in model["vocab"].as_object().ok_or("model.vocab is not an object")? {
            ids.insert(text.clone(), json_id(id)?);
        }
        // Added tokens: (id, text, special).
        let mut added = Vec::new();
        for t in json["added_tokens"].as_array().map_or(&[][..], Vec::as_slice) {
            let text = t["content"].as_str().ok_or("an added token has no content")?;
            added.push((json_id(&t["id"])?, text.to_string(), t["special"].as_bool().unwrap_or(false)));
        }
        let len = ids.values().chain(added.iter().map(|(id, _, _)| id)).max().map_or(0, |&id| id + 1);
        let mut tokens: Vec<Option<String>> = vec![None; len];
        for (text, &id) in &ids {
            tokens[id] = Some(text.clone());
        }
        let unk_text = model["unk_token"].as_str();
        let mut types: Vec<i32> =
            tokens.iter().map(|t| if t.as_deref().is_some_and(is_byte_piece) { BYTE } else { NORMAL }).collect();
        for (id, text, special) in &added {
            tokens[*id] = Some(text.clone());
            types[*id] = match (special, Some(text.as_str()) == unk_text) {
                (_, true) => UNKNOWN,
                (true, false) => CONTROL,
                (false, false) => USER_DEFINED,
            };
        }
        if let Some(hole) = tokens.iter().position(Option::is_none) {
            return Err(format!("no token has id {hole} (ids must run 0..{len} without gaps)"));
        }
        let tokens: Vec<String> = tokens.into_iter().flatten().collect();

        let merges = model["merges"].as_array().ok_or("model.merges is missing")?;
        let mut first_rank: Vec<Option<usize>> = vec![None; len];
        for (rank, m) in merges.iter().enumerate() {
            let (left, right) = match m {
                serde_json::Value::String(s) => {
                    s.split_once(' ').ok_or_else(|| format!("merge {rank} is not \"left right\""))?
                }
                pair => (pair[0].as_str().unwrap_or_default(), pair[1].as_str().unwrap_or_default()),
            };
            if let Some(&id) = ids.get(&format!("{left}{right}")) {
                first_rank[id].get_or_insert(rank);
            }
        }
        // Pieces no merge makes score below every merged piece, in id order (their scores decide
        // nothing: they have no split into two pieces).
        let scores: Vec<f32> = (0..len)
            .map(|id| match (types[id], first_rank[id]) {
                (NORMAL, Some(rank)) => 0.0 - rank as f32,
                (NORMAL, None) => -((merges.len() + id) as f32),
                _ => 0.0,
            })
            .collect();

        let id_of = |text: &str| tokens.iter().position(|t| t == text);
        let mut metadata = vec![
            ("tokenizer.ggml.model".to_string(), Value::String("llama".into())),
            ("tokenizer.ggml.tokens".to_string(), Value::Array(Array::String(tokens.clone()))),
            ("tokenizer.ggml.scores".to_string(), Value::Array(Array::F32(scores))),
            ("tokenizer.ggml.token_type".to_string(), Value::Array(Array::I32(types))),
        ];
        let named = [
            ("tokenizer.ggml.bos_token_id", id_of("<s>")),
            ("tokenizer.ggml.eos_token_id", id_of("</s>")),
            ("tokenizer.ggml.unknown_token_id", unk_text.and_then(id_of)),
        ];
        for (key, id) in named {
            if let Some(id) = id {
                metadata.push((key.to_string(), Value::U32(id as u32)));
            }
        }
        metadata.push(("tokenizer.ggml.add_bos_token".to_string(), Value::Bool(true)));
        metadata.push(("tokenizer.ggml.add_eos_token".to_string(), Value::Bool(false)));
        if !prepends_space(&json) {
            metadata.push(("tokenizer.ggml.add_space_prefix".to_string(), Value::Bool(false)));
        }
        Ok(Vocab { metadata, len })
    }

    /// The vocabulary of the file at `path`: a GGUF model (by its magic) or a tokenizer.json.
    pub fn from_file(path: &std::path::Path) -> Result<Vocab, SyntheticError> {
        let fail = |reason: String| SyntheticError::Vocabulary { path: path.display().to_string(), reason };
        let mut file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
        let file_len = file.metadata().map_err(|e| fail(e.to_string()))?.len();
        let mut prefix = Vec::new();
        file.by_ref().take(4).read_to_end(&mut prefix).map_err(|e| fail(e.to_string()))?;
        if prefix != b"GGUF" {
            file.read_to_end(&mut prefix).map_err(|e| fail(e.to_string()))?;
            return Vocab::from_tokenizer_json(&prefix).map_err(fail);
        }
        // Read only the header: the first 4 MiB, more when the parser asks for it.
        let mut want = (4u64 << 20).min(file_len);
        loop {
            file.by_ref().take(want - prefix.len() as u64).read_to_end(&mut prefix).map_err(|e| fail(e.to_string()))?;
            match parse_prefix(&prefix, file_len).map_err(|e| fail(e.to_string()))? {
                Parsed::Complete(g) => return Vocab::from_gguf(&g).map_err(fail),
                Parsed::NeedBytes(n) if n > want && want < file_len.min(MAX_HEADER_BYTES) => want = n.min(file_len),
                Parsed::NeedBytes(_) => return Err(fail("the GGUF header does not end".into())),
            }
        }
    }

    /// Tokens in the vocabulary.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `tokenizer.*` metadata entries.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.metadata
    }
}

fn json_id(v: &serde_json::Value) -> Result<usize, String> {
    v.as_u64().map(|id| id as usize).filter(|&id| id < 1 << 24).ok_or_else(|| format!("{v} is not a token id"))
}

/// `<0x00>` … `<0xFF>`: SentencePiece's byte-fallback pieces.
fn is_byte_piece(text: &str) -> bool {
    text.len() == 6 && text.starts_with("<0x") && text.ends_with('>') && u8::from_str_radix(&text[3..5], 16).is_ok()
}

/// Whether the tokenizer puts `▁` before the text (a `Prepend` normalizer, or a `Metaspace`
/// pre-tokenizer that prepends): GGUF's `add_space_prefix`, true unless said otherwise.
fn prepends_space(json: &serde_json::Value) -> bool {
    let steps = |v: &serde_json::Value, list: &str| -> Vec<serde_json::Value> {
        match v[list].as_array() {
            Some(items) => items.clone(),
            None => vec![v.clone()],
        }
    };
    let normalizer = steps(&json["normalizer"], "normalizers");
    let pre = steps(&json["pre_tokenizer"], "pretokenizers");
    normalizer.iter().any(|n| n["type"] == "Prepend")
        || pre.iter().any(|p| {
            p["type"] == "Metaspace"
                && (p["add_prefix_space"] == true || p["prepend_scheme"].as_str().is_some_and(|s| s != "never"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufWriter;
    use crate::tokenizer::Tokenizer;

    fn repo_file(relative: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
    }

    fn tokenizer_of(vocab: &Vocab) -> Tokenizer {
        let mut w = GgufWriter::new();
        for (k, v) in vocab.metadata() {
            w.meta(k, v.clone());
        }
        Tokenizer::from_gguf(&Gguf::parse(&w.to_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn mixtral_tokenizer_json_becomes_a_gguf_vocabulary_that_tokenizes_alike() {
        let path = repo_file("tests/fixtures/oracle/tokenizer/tokenizer.json");
        let vocab = Vocab::from_file(&path).unwrap();
        assert_eq!(vocab.len(), 32000);
        let from_gguf = tokenizer_of(&vocab);
        let from_json = Tokenizer::from_json(&std::fs::read(&path).unwrap()).unwrap();
        let reference: serde_json::Value = serde_json::from_slice(
            &std::fs::read(repo_file("tests/fixtures/oracle/tokenizer/reference_token_ids.json")).unwrap(),
        )
        .unwrap();
        let mut texts: Vec<String> =
            reference["cases"].as_array().unwrap().iter().map(|c| c["text"].as_str().unwrap().to_string()).collect();
        // Runs of spaces: '▁▁' is merged last in this vocabulary, which a score by id would miss.
        texts.extend(["a  b   c    d".to_string(), "  indented\n\ttabs".to_string()]);
        for (i, text) in texts.iter().enumerate() {
            let want = from_json.encode(text, true).unwrap();
            assert_eq!(from_gguf.encode(text, true).unwrap(), want, "{text:?}");
            if let Some(ids) = reference["cases"].get(i).map(|c| &c["ids_with_bos"]) {
                let ids: Vec<u32> = ids.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
                assert_eq!(want, ids, "{text:?}");
            }
        }
        assert_eq!((from_gguf.bos_id(), from_gguf.eos_id(), from_gguf.add_bos()), (Some(1), Some(2), true));
    }

    #[test]
    fn a_gguf_vocabulary_is_copied_whole() {
        let path = repo_file("tests/fixtures/oracle/mixtral-realvocab-q8_0/model.gguf");
        let vocab = Vocab::from_file(&path).unwrap();
        let g = Gguf::parse(&std::fs::read(&path).unwrap()).unwrap();
        let original: Vec<_> = g.metadata.iter().filter(|(k, _)| k.starts_with("tokenizer.")).collect();
        assert_eq!(vocab.len(), 32000);
        assert_eq!(vocab.metadata().iter().collect::<Vec<_>>(), original);
        let t = tokenizer_of(&vocab);
        assert_eq!(t.encode("Hello", false).unwrap(), vec![22557]);
    }

    #[test]
    fn vocabularies_that_cannot_be_read_are_named() {
        let err = Vocab::from_tokenizer_json(br#"{"model": {"type": "WordPiece"}}"#).unwrap_err();
        assert!(err.contains("SentencePiece"), "{err}");
        let missing = Vocab::from_file(std::path::Path::new("/nonexistent/tokenizer.json")).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/tokenizer.json"), "{missing}");
    }
}
