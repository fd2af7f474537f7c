//! SentencePiece-BPE vocabularies (`tokenizer.ggml.model = "llama"`: Mistral, Mixtral, Llama 2).
//!
//! SentencePiece's BPE repeatedly merges the adjacent pair whose concatenation is the
//! highest-scoring piece of the vocabulary. The same result comes from a `tokenizers` BPE model
//! whose merge list holds, for every piece, each split of it into two pieces that both exist,
//! ranked by the whole piece's score (best first): this is how Hugging Face converts a
//! SentencePiece model to tokenizer.json, and for the Mixtral vocabulary it gives that file's
//! merge list exactly. Spaces become `▁` with one prepended to each stretch of text, and characters
//! outside the vocabulary fall back to the `<0xNN>` byte pieces.

use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{Merges, Vocab, BPE};
use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence};
use tokenizers::{DecoderWrapper, NormalizerWrapper};

use super::from_gguf::{check_len, wrong_type, Defaults, GgufVocab, TokenType, UNK_ID};
use super::TokenizerError;
use crate::gguf::Gguf;

const SCORES: &str = "tokenizer.ggml.scores";
const ADD_SPACE_PREFIX: &str = "tokenizer.ggml.add_space_prefix";

/// SentencePiece's whitespace marker.
const SPACE_MARK: &str = "\u{2581}";

pub(super) fn build(g: &Gguf, vocab: &GgufVocab) -> Result<(tokenizers::Tokenizer, Defaults), TokenizerError> {
    let scores = g
        .array_opt(SCORES)?
        .ok_or_else(|| TokenizerError::MissingKey { key: SCORES.into() })?
        .to_f32_vec()
        .ok_or_else(|| wrong_type(SCORES, "a number array", g))?;
    check_len(SCORES, scores.len(), vocab.len())?;
    let add_space_prefix = g.bool_opt(ADD_SPACE_PREFIX)?.unwrap_or(true);

    let map = vocab.to_map()?;
    let merges = merges_from_scores(vocab.tokens, &scores, &map)?;
    let unk = unknown_id(g, vocab)?;
    let mut model = BPE::builder().vocab_and_merges(map, merges).byte_fallback(true).fuse_unk(true);
    if let Some(text) = unk.and_then(|id| vocab.tokens.get(id as usize)).filter(|t| !t.is_empty()) {
        model = model.unk_token(text.clone());
    }
    let model = model.build().map_err(TokenizerError::build)?;

    let mut hf = tokenizers::Tokenizer::new(model);
    hf.with_normalizer(Some(normalizer(add_space_prefix)?));
    hf.with_decoder(Some(decoder(add_space_prefix)?));
    // llama.cpp's defaults for SentencePiece vocabularies: <s> = 1, </s> = 2, BOS added.
    let defaults = Defaults { bos: Some(1), eos: Some(2), unk, add_bos: true };
    Ok((hf, defaults))
}

/// The piece that stands for text the vocabulary cannot spell (only reached when a byte piece is
/// missing): the metadata's id, else the first piece typed "unknown".
fn unknown_id(g: &Gguf, vocab: &GgufVocab) -> Result<Option<u32>, TokenizerError> {
    Ok(match g.u64_opt(UNK_ID)? {
        Some(id) if id < vocab.len() as u64 => Some(id as u32),
        Some(id) => return Err(TokenizerError::IdOutOfRange { what: UNK_ID.into(), id, vocab_size: vocab.len() }),
        None => vocab.types.iter().position(|&t| t == TokenType::Unknown).map(|id| id as u32),
    })
}

/// Most work deriving merges may take, in bytes hashed and copied. Real vocabularies take a few
/// MB (pieces of at most a few dozen bytes); each piece costs the square of its length, so
/// vocabularies of long pieces made of one another would otherwise take time and memory growing
/// with the cube of the longest.
const MAX_MERGE_WORK: u64 = 1 << 28;

/// Merges derived from the scores: for each piece in id order, its splits into two existing pieces
/// (ordered by the ids of the halves), then all of them stably sorted by the piece's score, best
/// first.
pub(super) fn merges_from_scores(tokens: &[String], scores: &[f32], vocab: &Vocab) -> Result<Merges, TokenizerError> {
    let mut ranked: Vec<(f32, String, String)> = Vec::new();
    let mut splits: Vec<(u32, u32, usize)> = Vec::new();
    let mut work: u64 = 0;
    for (piece, &score) in tokens.iter().zip(scores) {
        splits.clear();
        let len = piece.len() as u64;
        for (at, _) in piece.char_indices().skip(1) {
            // Both halves are hashed to look them up.
            work += len;
            if work > MAX_MERGE_WORK {
                let longest = tokens.iter().map(String::len).max().unwrap_or(0);
                return Err(TokenizerError::MergesTooLarge { limit: MAX_MERGE_WORK, longest });
            }
            let (left, right) = piece.split_at(at);
            if let (Some(&l), Some(&r)) = (vocab.get(left), vocab.get(right)) {
                // Both halves are copied into the merge, besides the entry itself.
                work += len + std::mem::size_of::<(f32, String, String)>() as u64;
                splits.push((l, r, at));
            }
        }
        splits.sort_unstable();
        let score = sortable(score);
        ranked.extend(splits.iter().map(|&(_, _, at)| (score, piece[..at].to_string(), piece[at..].to_string())));
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(ranked.into_iter().map(|(_, l, r)| (l, r)).collect())
}

/// A score that sorts like a float comparison would: -0.0 equal to 0.0, NaN last.
fn sortable(score: f32) -> f32 {
    if score.is_nan() {
        f32::NEG_INFINITY
    } else {
        score + 0.0
    }
}

/// `▁` for every space, and one before the text when the vocabulary adds a space prefix.
fn normalizer(add_space_prefix: bool) -> Result<NormalizerWrapper, TokenizerError> {
    let replace = Replace::new(" ", SPACE_MARK).map_err(TokenizerError::build)?;
    Ok(if add_space_prefix {
        NormalizerSequence::new(vec![Prepend::new(SPACE_MARK.to_string()).into(), replace.into()]).into()
    } else {
        replace.into()
    })
}

/// The inverse: `▁` to space, byte pieces to bytes, and the prefix space removed once.
fn decoder(add_space_prefix: bool) -> Result<DecoderWrapper, TokenizerError> {
    let mut steps: Vec<DecoderWrapper> = vec![
        Replace::new(SPACE_MARK, " ").map_err(TokenizerError::build)?.into(),
        ByteFallback::new().into(),
        Fuse::new().into(),
    ];
    if add_space_prefix {
        steps.push(Strip::new(' ', 1, 0).into());
    }
    Ok(DecoderSequence::new(steps).into())
}
