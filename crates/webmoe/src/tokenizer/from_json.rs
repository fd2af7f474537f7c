//! A tokenizer from a Hugging Face tokenizer.json.
//!
//! The file names no BOS or EOS as such: BOS is what its post-processor puts before the text,
//! EOS what it puts after, or, when it adds nothing, the special token with a conventional name.
//! A GGUF file's metadata, when there is one, overrides both ([`Tokenizer::with_gguf_metadata`]).

use tokenizers::PostProcessorWrapper;

use super::{SpecialTokens, Tokenizer, TokenizerError};

/// Conventional names of special tokens, for files whose post-processor adds none.
const BOS_TEXTS: &[&str] = &["<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"];
const EOS_TEXTS: &[&str] = &["</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"];
const UNK_TEXTS: &[&str] = &["<unk>", "[UNK]"];
const PAD_TEXTS: &[&str] = &["<pad>", "[PAD]", "<|pad|>"];

/// Text for probing what the post-processor adds around any text.
const PROBE: &str = "a";

impl Tokenizer {
    /// Loads a Hugging Face tokenizer.json (its bytes).
    pub fn from_json(bytes: &[u8]) -> Result<Tokenizer, TokenizerError> {
        let mut hf = tokenizers::Tokenizer::from_bytes(bytes)
            .map_err(|e| TokenizerError::InvalidJson { reason: e.to_string() })?;
        let (before, after) = added_around_text(&hf)?;
        hf.with_post_processor(None::<PostProcessorWrapper>);

        let special: Vec<(u32, String)> = hf
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, t)| (id, t.content))
            .collect();
        let named = |texts: &[&str]| {
            texts.iter().find_map(|want| special.iter().find(|(_, text)| text == want).map(|&(id, _)| id))
        };
        let specials = SpecialTokens {
            bos: before.or_else(|| named(BOS_TEXTS)),
            eos: after.or_else(|| named(EOS_TEXTS)),
            unk: named(UNK_TEXTS),
            pad: named(PAD_TEXTS),
            add_bos: before.is_some(),
            add_eos: after.is_some(),
            ..SpecialTokens::default()
        };
        let vocab_size = hf.get_vocab(true).into_values().max().map_or(0, |id| id as usize + 1);
        Ok(Tokenizer::new(hf, specials, vocab_size, None))
    }
}

/// The special token the post-processor puts before a text and the one it puts after, if any.
fn added_around_text(hf: &tokenizers::Tokenizer) -> Result<(Option<u32>, Option<u32>), TokenizerError> {
    let encoding = hf.encode(PROBE, true).map_err(|e| TokenizerError::InvalidJson { reason: e.to_string() })?;
    let added: Vec<bool> = encoding.get_special_tokens_mask().iter().map(|&m| m == 1).collect();
    let ids = encoding.get_ids();
    let before = added.iter().take_while(|&&a| a).count();
    let after = added[before..].iter().rev().take_while(|&&a| a).count();
    let one = |count: usize, at: usize, place| match count {
        0 => Ok(None),
        1 => Ok(Some(ids[at])),
        count => Err(TokenizerError::UnsupportedPostProcessor { count, place }),
    };
    Ok((one(before, 0, "before")?, one(after, ids.len().saturating_sub(1), "after")?))
}
