//! Byte-level BPE vocabularies (`tokenizer.ggml.model = "gpt2"`: SmolLM2, Llama 3, Qwen 2).
//!
//! Text is split into words by the pre-tokenizer `tokenizer.ggml.pre` names, each byte of a word is
//! mapped to one of GPT-2's 256 printable characters, and the ranked merges of
//! `tokenizer.ggml.merges` ("Ġ t", rank = position) are applied within each word.

use tokenizers::models::bpe::{Merges, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;

use super::from_gguf::{strings, Defaults, GgufVocab};
use super::pre::PreTokenizer;
use super::TokenizerError;
use crate::gguf::Gguf;

const MERGES: &str = "tokenizer.ggml.merges";
const PRE: &str = "tokenizer.ggml.pre";

pub(super) fn build(g: &Gguf, vocab: &GgufVocab) -> Result<(tokenizers::Tokenizer, Defaults), TokenizerError> {
    let pre = PreTokenizer::from_name(g.str_opt(PRE)?)?;
    let merges = strings(g, MERGES)?.ok_or_else(|| TokenizerError::MissingKey { key: MERGES.into() })?;
    let model = BPE::builder()
        .vocab_and_merges(vocab.to_map()?, parse_merges(merges)?)
        .ignore_merges(pre.ignore_merges)
        .build()
        .map_err(TokenizerError::build)?;

    let mut hf = tokenizers::Tokenizer::new(model);
    hf.with_pre_tokenizer(Some(pre.to_wrapper()?));
    hf.with_decoder(Some(ByteLevel::default()));
    let defaults = Defaults { bos: None, eos: None, unk: None, add_bos: pre.add_bos_default };
    Ok((hf, defaults))
}

/// "left right" strings to pairs. The separator is the first space after the first character, as
/// llama.cpp reads them (byte-level tokens hold no literal space, but a first token could be one).
fn parse_merges(merges: &[String]) -> Result<Merges, TokenizerError> {
    merges
        .iter()
        .enumerate()
        .map(|(index, merge)| {
            let at = merge.char_indices().skip(1).find(|&(_, c)| c == ' ').map(|(at, _)| at);
            match at {
                Some(at) if at + 1 < merge.len() => Ok((merge[..at].to_string(), merge[at + 1..].to_string())),
                _ => Err(TokenizerError::MalformedMerge { index, merge: merge.clone() }),
            }
        })
        .collect()
}
